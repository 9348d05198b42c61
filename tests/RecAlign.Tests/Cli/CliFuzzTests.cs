using System.IO.Compression;
using System.Text;
using System.Text.Json.Nodes;
using RecAlign.Data;
using RecAlign.Data.Storage;
using RecAlign.Data.Synthetic;
using RecAlign.Models.Language;
using RecAlign.Tests.Data;
using RecAlign.Tests.Models;
using RecAlign.Tests.Text;
using RecAlign.Text;

namespace RecAlign.Tests.Cli;

/// <summary>
/// Malformed input across every reader the command line has (dataset loaders, candidate and TRL files, configs,
/// model directories with their config, tokenizer and weights, dataset folders, runs) and hostile output paths, each
/// generated here from a valid input by one mutation. Every case must end as a user error: exit code 2 with an
/// <c>error:</c> line naming the file (or the path) at fault — never a stack trace, a hang, or exit 0 with a wrong
/// result — and output-path cases must leave every file they found in place.
/// </summary>
public sealed class CliFuzzTests
{
    /// <summary>One case: <see cref="Setup"/> writes its files into the case folder and returns the command line;
    /// the error must contain <see cref="MustName"/>.</summary>
    public sealed record FuzzCase(string Name, Func<Workspace, string[]> Setup, string MustName);

    /// <summary>A case's folder (also the working directory while it runs), with the shared valid inputs.</summary>
    public sealed class Workspace(string root)
    {
        public string Root { get; } = root;
        public string Runs => Path.Combine(Root, "runs");
        public string P(string name) => Path.Combine(Root, name);

        public string Write(string name, byte[] bytes)
        {
            var p = P(name);
            Directory.CreateDirectory(Path.GetDirectoryName(p)!);
            File.WriteAllBytes(p, bytes);
            return p;
        }

        public string Write(string name, string text) => Write(name, Encoding.UTF8.GetBytes(text));

        /// <summary>A copy of a valid base folder (model or dataset), to mutate.</summary>
        public string Copy(string source, string name)
        {
            var dest = P(name);
            Directory.CreateDirectory(dest);
            foreach (var f in Directory.GetFiles(source)) File.Copy(f, Path.Combine(dest, Path.GetFileName(f)));
            return dest;
        }

        /// <summary>Edits a JSON file in place.</summary>
        public void EditJson(string path, Action<JsonNode> edit)
        {
            var node = JsonNode.Parse(File.ReadAllText(path))!;
            edit(node);
            File.WriteAllText(path, node.ToJsonString());
        }
    }

    // ---- valid inputs the mutations start from -------------------------------------------------------------------

    private static readonly string[] Titles = Enumerable.Range(0, 6).Select(i => $"Band {i}").ToArray();

    internal const string CandidateJson = """
        [{"historyList": "Band 0::Band 1", "itemList": ["Band 2", "Band 3", "Band 4"], "trueSelection": "Band 2"},
         {"historyList": "Band 1::Band 2", "itemList": ["Band 5", "Band 3", "Band 0"], "trueSelection": "Band 3"},
         {"historyList": "Band 2::Band 3", "itemList": ["Band 4", "Band 1", "Band 0"], "trueSelection": "Band 4"}]
        """;

    internal const string SftJsonl = """
        {"prompt": "History: Band 0, Band 1. Next:", "completion": " Band 2"}
        {"prompt": "History: Band 1, Band 2. Next:", "completion": " Band 3"}
        """;

    private const string PreferenceJsonl = """
        {"prompt": "History: Band 0, Band 1. Next:", "chosen": " Band 2", "rejected": " Band 3"}
        {"prompt": "History: Band 1, Band 2. Next:", "chosen": " Band 3", "rejected": " Band 4"}
        """;

    private static readonly Lazy<string> BaseRoot = new(() =>
    {
        var root = Path.Combine(Path.GetTempPath(), "recalign-fuzz-base-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(root);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => { try { Directory.Delete(root, true); } catch (IOException) { } };
        // A compact-vocabulary LM that knows the titles and the prompts' words.
        var compact = CompactVocabularyTokenizer.Build(["History: Next: Band 0, Band 1, Band 2, Band 3, Band 4, Band 5.", .. Titles,
            "Candidates: Answer: The user listened to. Which one is next?"]);
        using (var lm = LanguageModel.Create(LanguageModelTests.TinyConfig() with { VocabSize = compact.VocabSize, MaxPositionEmbeddings = 256 }, seed: 1))
            ModelDirectory.Save(lm, compact, Path.Combine(root, "lm"));
        // The same with a HuggingFace tokenizer.json (byte-level BPE), for tokenizer.json mutations.
        var hf = HuggingFaceTokenizer.FromJson(HuggingFaceTokenizerTests.BuildTokenizerJson(HuggingFaceTokenizerTests.QwenPreTokenizer(), arrayMerges: true).Json);
        using (var lm = LanguageModel.Create(LanguageModelTests.TinyConfig() with { VocabSize = hf.VocabSize, MaxPositionEmbeddings = 256 }, seed: 2))
            ModelDirectory.Save(lm, hf, Path.Combine(root, "hf"));
        var world = SyntheticWorld.Generate(SyntheticConfig.Preset("tiny"));
        DatasetStore.Save(world.Dataset, Path.Combine(root, "dataset"));
        return root;
    });

    /// <summary>A valid compact-vocabulary model directory (shared, read-only) for tests that need one.</summary>
    internal static string BaseLm => Path.Combine(BaseRoot.Value, "lm");
    private static string BaseHf => Path.Combine(BaseRoot.Value, "hf");
    internal static string BaseDataset => Path.Combine(BaseRoot.Value, "dataset");

    // ---- mutations of a text file ----------------------------------------------------------------------------------

    private static byte[] U(string s) => Encoding.UTF8.GetBytes(s);

    private static byte[] Gzip(byte[] bytes)
    {
        using var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Optimal, leaveOpen: true)) gz.Write(bytes);
        return ms.ToArray();
    }

    /// <summary>Inserts bytes 0xFF 0xFE (never valid UTF-8) inside the first occurrence of <paramref name="at"/>.</summary>
    private static byte[] InvalidUtf8(string text, string at)
    {
        var i = text.IndexOf(at, StringComparison.Ordinal);
        Assert.True(i >= 0, $"'{at}' not in the base text");
        return [.. U(text[..(i + 1)]), 0xFF, 0xFE, .. U(text[(i + 1)..])];
    }

    private static byte[] Garbage(int seed)
    {
        var bytes = new byte[3000];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    /// <summary>The mutations every text input gets: (name, file name suffix, bytes from the valid text).</summary>
    private static IEnumerable<(string Name, string Suffix, Func<string, byte[]> Bytes)> TextMutations(string utf8Anchor) =>
    [
        ("empty", "", _ => []),
        ("blank", "", _ => U("\n  \n\t\n")),
        ("invalid-utf8", "", t => InvalidUtf8(t, utf8Anchor)),
        ("garbage", "", _ => Garbage(7)),
        ("gz-truncated", ".gz", t => Gzip(U(t))[..(Gzip(U(t)).Length * 6 / 10)]),
        ("gz-trailer-cut", ".gz", t => Gzip(U(t))[..^4]),
        ("gz-corrupt", ".gz", t => { var g = Gzip(U(t)); for (int i = g.Length / 2; i < g.Length / 2 + 6; i++) g[i] ^= 0x5A; return g; }),
        ("gz-not-gzip", ".gz", t => U(t)),
    ];

    /// <summary>Mutations for JSON inputs beyond <see cref="TextMutations"/>.</summary>
    private static IEnumerable<(string Name, Func<string, byte[]> Bytes)> JsonMutations() =>
    [
        ("truncated", t => U(t[..(t.Length * 6 / 10)])),
        ("nul-in-string", t => U(t.Replace("Band 1", "Band\u00001"))),
        ("deep-nesting", _ => U(new string('[', 5000) + new string(']', 5000))),
    ];

    // ---- the cases ------------------------------------------------------------------------------------------------

    private static readonly Dictionary<string, FuzzCase> Cases = Build().ToDictionary(c => c.Name);

    private static IEnumerable<FuzzCase> Build()
    {
        // Candidate-prompt JSON through every command that reads it.
        (string Cmd, Func<Workspace, string, string[]> Args)[] candidateReaders =
        [
            ("eval", (w, f) => ["eval", "--model", BaseLm, "--candidates", f]),
            ("sft-train", (w, f) => ["sft", "--model", BaseLm, "--train", f, "--out", w.P("out"), "--runs-dir", w.Runs, "--set", "training.max_steps=1"]),
            ("sft-validation", (w, f) => ["sft", "--model", BaseLm, "--train", w.Write("sft.jsonl", SftJsonl), "--validation", f, "--out", w.P("out"), "--runs-dir", w.Runs, "--set", "training.max_steps=1"]),
            ("prompts", (w, f) => ["data", "prompts", f, "-o", w.P("p.jsonl")]),
            ("preferences", (w, f) => ["data", "preferences", f, "-o", w.P("p.jsonl")]),
            ("audit", (w, f) => ["data", "audit", f]),
        ];
        foreach (var (cmd, args) in candidateReaders)
        {
            foreach (var (m, suffix, bytes) in TextMutations("Band 1"))
                yield return new($"candidates/{cmd}/{m}", w => args(w, w.Write("cands.json" + suffix, bytes(CandidateJson))), "cands.json");
            foreach (var (m, bytes) in JsonMutations())
                yield return new($"candidates/{cmd}/{m}", w => args(w, w.Write("cands.json", bytes(CandidateJson))), "cands.json");
            yield return new($"candidates/{cmd}/empty-array", w => args(w, w.Write("cands.json", "[]")), "cands.json");
            yield return new($"candidates/{cmd}/history-wrong-type", w => args(w, w.Write("cands.json", CandidateJson.Replace("\"Band 0::Band 1\"", "5"))), "cands.json");
            yield return new($"candidates/{cmd}/no-answer", w => args(w, w.Write("cands.json", CandidateJson.Replace("\"trueSelection\": \"Band 2\"", "\"x\": 1"))), "cands.json");
        }

        // TRL JSONL: SFT prompt/completion and preference pairs.
        foreach (var (m, suffix, bytes) in TextMutations("Band 1"))
        {
            yield return new($"trl-sft/{m}", w => ["sft", "--model", BaseLm, "--train", w.Write("train.jsonl" + suffix, bytes(SftJsonl)), "--out", w.P("out"), "--runs-dir", w.Runs], "train.jsonl");
            yield return new($"trl-pref/{m}", w => ["align", "--model", BaseLm, "--train", w.Write("pref.jsonl" + suffix, bytes(PreferenceJsonl)), "--out", w.P("out"), "--runs-dir", w.Runs], "pref.jsonl");
        }
        string[] Sft(Workspace w, string text) => ["sft", "--model", BaseLm, "--train", w.Write("train.jsonl", text), "--out", w.P("out"), "--runs-dir", w.Runs];
        string[] Align(Workspace w, string text, params string[] extra) => ["align", "--model", BaseLm, "--train", w.Write("pref.jsonl", text), "--out", w.P("out"), "--runs-dir", w.Runs, .. extra];
        yield return new("trl-sft/not-json-line", w => Sft(w, SftJsonl + "\n{\"prompt\": \"a\",\n"), "train.jsonl:3");
        yield return new("trl-sft/missing-completion", w => Sft(w, "{\"prompt\": \"a\"}\n"), "train.jsonl:1");
        yield return new("trl-sft/completion-number", w => Sft(w, "{\"prompt\": \"a\", \"completion\": 5}\n"), "train.jsonl:1");
        yield return new("trl-sft/array-line", w => Sft(w, "[1, 2]\n"), "train.jsonl:1");
        yield return new("trl-pref/chosen-equals-rejected", w => Align(w, PreferenceJsonl.Replace("\"rejected\": \" Band 4\"", "\"rejected\": \" Band 3\"")), "pref.jsonl:2");
        yield return new("trl-pref/missing-rejected", w => Align(w, "{\"prompt\": \"a\", \"chosen\": \"b\"}\n"), "pref.jsonl:1");
        yield return new("trl-pref/rejected-empty-list", w => Align(w, "{\"prompt\": \"a\", \"chosen\": \"b\", \"rejected\": []}\n"), "pref.jsonl:1");
        yield return new("trl-pref/rejected-count-varies", w => Align(w, "{\"prompt\": \"a\", \"chosen\": \" Band 1\", \"rejected\": [\" Band 2\", \" Band 3\"]}\n{\"prompt\": \"a\", \"chosen\": \" Band 1\", \"rejected\": [\" Band 2\"]}\n", "--loss", "sdpo"), "pref.jsonl");
        yield return new("trl-pref/prompt-null", w => Align(w, "{\"prompt\": null, \"chosen\": \"b\", \"rejected\": \"c\"}\n"), "pref.jsonl:1");

        // Raw datasets through `data prepare`, each format's main file mutated.
        (string Format, string File, string Valid, (string Name, string Text)[] Others, string Anchor, bool Gz)[] formats =
        [
            ("movielens", "ratings.dat", "1::10::5::1\n1::11::4::2\n2::10::3::3\n", [], "::10", false),
            ("lastfm", "user_artists.dat", "userID\tartistID\tweight\n2\t51\t13\n2\t52\t5\n", [("user_taggedartists-timestamps.dat", "userID\tartistID\ttagID\ttimestamp\n2\t51\t1\t1238536800000\n2\t52\t1\t1238536900000\n")], "\t51", false),
            ("recbole", "x.inter", "user_id:token\titem_id:token\ttimestamp:float\n1\t2\t3\n1\t3\t4\n", [], "\t2", false),
            ("seqcsv", "t.csv", "seq,len_seq,next\n0 5,1,1\n1 5,1,2\n", [("data_statis.csv", "seq_size,item_num\n2,5\n")], "0 5", false),
            ("amazon", "reviews.json", "{\"reviewerID\": \"A\", \"asin\": \"B1\", \"overall\": 5, \"unixReviewTime\": 1}\n{\"reviewerID\": \"A\", \"asin\": \"B2\", \"overall\": 4, \"unixReviewTime\": 2}\n", [], "B1", true),
            ("yelp", "review.json", "{\"user_id\": \"u\", \"business_id\": \"b1\", \"stars\": 4, \"date\": \"2016-03-09\"}\n{\"user_id\": \"u\", \"business_id\": \"b2\", \"stars\": 4, \"date\": \"2016-03-10\"}\n", [], "b1", true),
            ("goodreads", "interactions.json", "{\"user_id\": \"u\", \"book_id\": \"1\", \"rating\": 3, \"date_added\": \"2016-03-09\"}\n{\"user_id\": \"u\", \"book_id\": \"2\", \"rating\": 3, \"date_added\": \"2016-03-10\"}\n", [], "\"1\"", true),
            ("steam", "reviews.json", "{'user_id': 'u', 'reviews': [{'item_id': '1', 'posted': 'Posted May 1, 2012.'}, {'item_id': '2', 'posted': 'Posted May 2, 2012.'}]}\n", [], "'1'", true),
        ];
        foreach (var (format, file, valid, others, anchor, gz) in formats)
        {
            string[] Prepare(Workspace w, string name, byte[] bytes)
            {
                w.Write(Path.Combine("in", name), bytes);
                foreach (var (n, t) in others) w.Write(Path.Combine("in", n), t);
                return ["data", "prepare", "-f", format, "-i", w.P("in"), "-o", w.P("out")];
            }
            foreach (var (m, suffix, bytes) in TextMutations(anchor))
            {
                if (suffix == ".gz" && !gz) continue; // the format's loader reads only plain files
                yield return new($"prepare/{format}/{m}", w => Prepare(w, file + suffix, bytes(valid)), file);
            }
            yield return new($"prepare/{format}/nul-line", w => Prepare(w, file, [.. U(valid), 0, 0, 0, (byte)'\n']), file);
        }
        yield return new("prepare/amazon/time-1e30", w => ["data", "prepare", "-f", "amazon", "-i", w.Write("in/reviews.json", "{\"reviewerID\": \"A\", \"asin\": \"B\", \"overall\": 5, \"unixReviewTime\": 1e30}\n"), "-o", w.P("out")], "reviews.json:1");
        yield return new("prepare/amazon/time-negative-huge", w => ["data", "prepare", "-f", "amazon", "-i", w.Write("in/reviews.json", "{\"reviewerID\": \"A\", \"asin\": \"B\", \"overall\": 5, \"unixReviewTime\": -1e300}\n"), "-o", w.P("out")], "reviews.json:1");
        yield return new("prepare/seqcsv/item-num-2e9", w => { w.Write("in/t.csv", "seq,len_seq,next\n0 5,1,1\n"); w.Write("in/data_statis.csv", "seq_size,item_num\n2,2000000000\n"); return ["data", "prepare", "-f", "seqcsv", "-i", w.P("in/t.csv"), "-o", w.P("out")]; }, "data_statis.csv");
        yield return new("prepare/seqcsv/item-num-negative", w => { w.Write("in/t.csv", "seq,len_seq,next\n0 5,1,1\n"); w.Write("in/data_statis.csv", "seq_size,item_num\n2,-4\n"); return ["data", "prepare", "-f", "seqcsv", "-i", w.P("in/t.csv"), "-o", w.P("out")]; }, "data_statis.csv");
        yield return new("prepare/seqcsv/item-num-text", w => { w.Write("in/t.csv", "seq,len_seq,next\n0 5,1,1\n"); w.Write("in/data_statis.csv", "seq_size,item_num\n2,many\n"); return ["data", "prepare", "-f", "seqcsv", "-i", w.P("in/t.csv"), "-o", w.P("out")]; }, "data_statis.csv");
        yield return new("prepare/movielens/only-header-like", w => ["data", "prepare", "-f", "movielens", "-i", w.Write("in/ratings.dat", "\n\n"), "-o", w.P("out")], "ratings.dat");

        // Configs: YAML/JSON files and --set.
        string[] WithConfig(Workspace w, string name, string text) =>
            ["sft", "--model", BaseLm, "--train", w.Write("train.jsonl", SftJsonl), "--out", w.P("out"), "--runs-dir", w.Runs, "--config", w.Write(name, text)];
        yield return new("config/yaml-alias-bomb", w => WithConfig(w, "c.yaml", "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\ng: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\nh: [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]\n"), "c.yaml");
        yield return new("pipeline/report-without-dataset", w => ["pipeline", "--train", w.P("t.csv"), "--validation", w.P("v.csv"), "--report", "validation", "--runs-dir", w.Runs], "--report");
        yield return new("pipeline/fairness-k-not-evaluated", w => ["pipeline", "--dataset", w.P("ds"), "--set", "pipeline.fairness.k=3", "--runs-dir", w.Runs], "fairness.k");
        yield return new("pipeline/fairness-groups-unknown", w => ["pipeline", "--dataset", w.P("ds"), "--set", "pipeline.fairness.groups=colour", "--runs-dir", w.Runs], "groups");
        yield return new("pipeline/hybrid-on-align-method", w => ["pipeline", "--dataset", w.P("ds"), "--set", "pipeline.methods.sdpo.hybrid=sasrec", "--runs-dir", w.Runs], "hybrid");
        yield return new("pipeline/hybrid-unknown-recommender", w => ["pipeline", "--dataset", w.P("ds"), "--set", "pipeline.methods.sft.hybrid=gru4rec", "--runs-dir", w.Runs], "hybrid");
        yield return new("sft/hybrid-not-a-recommender", w => ["sft", "--model", BaseLm, "--train", w.Write("train.jsonl", SftJsonl), "--item-text", "token", "--hybrid", BaseLm, "--out", w.P("out"), "--runs-dir", w.Runs], "sequential recommender");
        yield return new("sft/hybrid-schedule-unknown", w => ["sft", "--model", BaseLm, "--train", w.Write("train.jsonl", SftJsonl), "--item-text", "token", "--hybrid", BaseLm, "--hybrid-schedule", "sideways", "--out", w.P("out"), "--runs-dir", w.Runs], "--hybrid-schedule");
        yield return new("sft/hybrid-with-titles", w => ["sft", "--model", BaseLm, "--train", w.Write("train.jsonl", SftJsonl), "--hybrid", BaseLm, "--out", w.P("out"), "--runs-dir", w.Runs], "--item-text");
        yield return new("pipeline/fairness-weights-on-sasrec", w => ["pipeline", "--dataset", w.P("ds"), "--set", "pipeline.methods.sasrec.fairness_weights=true", "--runs-dir", w.Runs], "fairness_weights");
        yield return new("config/yaml-unknown-key", w => WithConfig(w, "c.yaml", "training:\n  max_stepz: 1\n"), "c.yaml");
        yield return new("config/yaml-wrong-type", w => WithConfig(w, "c.yaml", "training:\n  max_steps: lots\n"), "c.yaml");
        yield return new("config/yaml-invalid", w => WithConfig(w, "c.yaml", "training: [\n"), "c.yaml");
        yield return new("config/yaml-invalid-utf8", w => ["sft", "--model", BaseLm, "--train", w.Write("train.jsonl", SftJsonl), "--out", w.P("out"), "--runs-dir", w.Runs, "--config", w.Write("c.yaml", InvalidUtf8("training:\n  seed: 1\n", "training"))], "c.yaml");
        yield return new("config/json-wrong-type", w => WithConfig(w, "c.json", "{\"training\": {\"batch_size\": \"8\"}}"), "c.json");
        yield return new("config/json-truncated", w => WithConfig(w, "c.json", "{\"training\": {\"batch_size\": 8"), "c.json");
        yield return new("config/json-fraction-for-int", w => WithConfig(w, "c.json", "{\"training\": {\"batch_size\": 8.5}}"), "c.json");
        yield return new("config/negative-lr", w => WithConfig(w, "c.yaml", "training:\n  optimizer:\n    learning_rate: -1\n"), "learning_rate");
        yield return new("config/set-unknown", w => ["sft", "--model", BaseLm, "--train", w.Write("train.jsonl", SftJsonl), "--out", w.P("out"), "--runs-dir", w.Runs, "--set", "training.nope=1"], "training.nope");
        yield return new("config/set-wrong-type", w => ["sft", "--model", BaseLm, "--train", w.Write("train.jsonl", SftJsonl), "--out", w.P("out"), "--runs-dir", w.Runs, "--set", "training.epochs=two"], "training.epochs");
        yield return new("config/missing-file", w => ["sft", "--model", BaseLm, "--train", w.Write("train.jsonl", SftJsonl), "--out", w.P("out"), "--runs-dir", w.Runs, "--config", w.P("nope.yaml")], "nope.yaml");

        // Model directories: config.json, tokenizer files and weights.
        string[] Eval(Workspace w, string model) => ["eval", "--model", model, "--candidates", w.Write("cands.json", CandidateJson)];
        yield return new("eval/model-set-on-lm", w => [.. Eval(w, BaseLm), "--model-set", "sampler=ddim"], "sampler");
        yield return new("eval/model-set-no-equals", w => [.. Eval(w, BaseLm), "--model-set", "sampler"], "--model-set");
        yield return new("eval/ks-zero", w => { w.Write("data_statis.csv", "seq_size,item_num\n2,5\n"); return ["eval", "--model", BaseLm, "--table", w.Write("t.csv", "seq,len_seq,next\n0 5,1,1\n"), "--ks", "0,10"]; }, "--ks");
        yield return new("eval/table-unknown-item", w => { w.Write("data_statis.csv", "seq_size,item_num\n2,5\n"); return ["eval", "--model", BaseLm, "--table", w.Write("t.csv", "seq,len_seq,next\n0 9,1,1\n")]; }, "t.csv:2");
        yield return new("eval/table-on-lm", w => { w.Write("data_statis.csv", "seq_size,item_num\n2,5\n"); return ["eval", "--model", BaseLm, "--table", w.Write("t.csv", "seq,len_seq,next\n0 5,1,1\n")]; }, "whole catalog");
        yield return new("eval/ks-without-table", w => [.. Eval(w, BaseLm), "--ks", "10"], "--ks");
        FuzzCase ModelConfig(string name, Action<JsonNode> edit) => new($"model/config/{name}", w =>
        {
            var m = w.Copy(BaseLm, "model");
            w.EditJson(Path.Combine(m, "config.json"), edit);
            return Eval(w, m);
        }, "config.json");
        yield return ModelConfig("vocab-size-string", c => c["vocab_size"] = "4096");
        yield return ModelConfig("vocab-size-fraction", c => c["vocab_size"] = 100.5);
        yield return ModelConfig("vocab-size-negative", c => c["vocab_size"] = -3);
        yield return ModelConfig("rms-norm-eps-string", c => c["rms_norm_eps"] = "tiny");
        yield return ModelConfig("rope-scaling-partial", c => c["rope_scaling"] = new JsonObject { ["rope_type"] = "llama3" });
        yield return ModelConfig("rope-scaling-unknown", c => c["rope_scaling"] = new JsonObject { ["rope_type"] = "yarn-ish", ["factor"] = 2 });
        yield return ModelConfig("max-positions-zero", c => c["max_position_embeddings"] = 0);
        yield return ModelConfig("eos-empty-list", c => c["eos_token_id"] = new JsonArray());
        yield return ModelConfig("eos-out-of-vocab", c => c["eos_token_id"] = 1_000_000);
        yield return ModelConfig("heads-do-not-divide", c => c["num_attention_heads"] = 5);
        yield return ModelConfig("kv-heads-do-not-divide", c => c["num_key_value_heads"] = 3);
        yield return ModelConfig("layers-negative", c => c["num_hidden_layers"] = -1);
        yield return ModelConfig("hidden-size-huge", c => { c["hidden_size"] = 1 << 20; c["intermediate_size"] = 1 << 22; });
        yield return ModelConfig("vocab-huge", c => c["vocab_size"] = 2_000_000_000);
        yield return ModelConfig("intermediate-zero", c => c["intermediate_size"] = 0);
        yield return ModelConfig("not-an-object", c => { }) with { Setup = w => { var m = w.Copy(BaseLm, "model"); File.WriteAllText(Path.Combine(m, "config.json"), "[1, 2]"); return Eval(w, m); } };
        yield return new("model/config/truncated", w => { var m = w.Copy(BaseLm, "model"); var p = Path.Combine(m, "config.json"); File.WriteAllText(p, File.ReadAllText(p)[..40]); return Eval(w, m); }, "config.json");
        yield return new("model/config/invalid-utf8", w => { var m = w.Copy(BaseLm, "model"); var p = Path.Combine(m, "config.json"); File.WriteAllBytes(p, InvalidUtf8(File.ReadAllText(p), "hidden_size")); return Eval(w, m); }, "config.json");
        yield return new("model/config/missing", w => { var m = w.Copy(BaseLm, "model"); File.Delete(Path.Combine(m, "config.json")); return Eval(w, m); }, "model");

        // tokenizer.json (HuggingFace)
        FuzzCase Tokenizer(string name, Action<JsonNode> edit) => new($"model/tokenizer/{name}", w =>
        {
            var m = w.Copy(BaseHf, "model");
            w.EditJson(Path.Combine(m, "tokenizer.json"), edit);
            return Eval(w, m);
        }, "tokenizer.json");
        yield return Tokenizer("catastrophic-regex", t => t["pre_tokenizer"]!["pretokenizers"]![0]!["pattern"] = new JsonObject { ["Regex"] = "(a+)+$|(\\w+\\s?)+$|(.*a){30}" });
        yield return Tokenizer("invalid-regex", t => t["pre_tokenizer"]!["pretokenizers"]![0]!["pattern"] = new JsonObject { ["Regex"] = "(unclosed" });
        yield return Tokenizer("added-token-id-max", t => t["added_tokens"]![0]!["id"] = int.MaxValue);
        yield return Tokenizer("added-token-id-negative", t => t["added_tokens"]![0]!["id"] = -5);
        yield return Tokenizer("added-token-id-string", t => t["added_tokens"]![0]!["id"] = "seven");
        yield return Tokenizer("model-type-unknown", t => t["model"]!["type"] = "Unigramish");
        yield return Tokenizer("vocab-id-huge", t => t["model"]!["vocab"]!["!"] = 1_500_000_000);
        yield return Tokenizer("merge-unknown-token", t => t["model"]!["merges"]!.AsArray().Add(new JsonArray("zz", "qq")));
        yield return Tokenizer("merges-not-array", t => t["model"]!["merges"] = 5);
        yield return Tokenizer("vocab-missing", t => t["model"]!.AsObject().Remove("vocab"));
        yield return new("model/tokenizer/truncated", w => { var m = w.Copy(BaseHf, "model"); var p = Path.Combine(m, "tokenizer.json"); File.WriteAllText(p, File.ReadAllText(p)[..100]); return Eval(w, m); }, "tokenizer.json");
        yield return new("model/tokenizer/compact-truncated", w => { var m = w.Copy(BaseLm, "model"); var p = Directory.GetFiles(m, "compact_vocab*.json").Single(); File.WriteAllText(p, File.ReadAllText(p)[..30]); return Eval(w, m); }, "compact_vocab");

        // safetensors weights
        FuzzCase Weights(string name, Func<byte[], byte[]> edit) => new($"model/weights/{name}", w =>
        {
            var m = w.Copy(BaseLm, "model");
            var p = Path.Combine(m, "model.safetensors");
            File.WriteAllBytes(p, edit(File.ReadAllBytes(p)));
            return Eval(w, m);
        }, "model.safetensors");
        yield return Weights("truncated", b => b[..(b.Length / 2)]);
        yield return Weights("empty", _ => []);
        yield return Weights("header-length-huge", b => { var c = (byte[])b.Clone(); BitConverter.GetBytes(long.MaxValue / 2).CopyTo(c, 0); return c; });
        yield return Weights("header-not-json", b => { var c = (byte[])b.Clone(); c[8] = (byte)'X'; return c; });
        yield return Weights("shape-overflow", b => EditHeader(b, h => { var first = h.AsObject().First(p => p.Key != "__metadata__").Value!; first["shape"] = new JsonArray(1L << 40, 1L << 40, 1L << 40); }));
        yield return Weights("shape-overflow-wraps-to-zero", b =>
        {
            // The last tensor's shape multiplies to 2^64 (0 in int64) and its bytes are cut: offsets still tile the file.
            var length = (int)BitConverter.ToInt64(b, 0);
            var header = JsonNode.Parse(Encoding.UTF8.GetString(b, 8, length))!.AsObject();
            var last = header.Where(p => p.Key != "__metadata__").MaxBy(p => p.Value!["data_offsets"]![0]!.GetValue<long>()).Value!;
            var begin = last["data_offsets"]![0]!.GetValue<long>();
            last["shape"] = new JsonArray(1L << 32, 1L << 32);
            last["data_offsets"] = new JsonArray(begin, begin);
            var text = Encoding.UTF8.GetBytes(header.ToJsonString());
            return [.. BitConverter.GetBytes((long)text.Length), .. text, .. b.AsSpan(8 + length, (int)begin)];
        });
        yield return Weights("shape-negative", b => EditHeader(b, h => { var first = h.AsObject().First(p => p.Key != "__metadata__").Value!; first["shape"] = new JsonArray(-1, 4); }));
        yield return Weights("dtype-unknown", b => EditHeader(b, h => { var first = h.AsObject().First(p => p.Key != "__metadata__").Value!; first["dtype"] = "F128"; }));
        yield return Weights("offsets-past-end", b => EditHeader(b, h => { var first = h.AsObject().First(p => p.Key != "__metadata__").Value!; first["data_offsets"] = new JsonArray(0, 1L << 40); }));
        yield return Weights("tensor-missing", b => EditHeader(b, h => h.AsObject().Remove(h.AsObject().First(p => p.Key.Contains("layers.0.mlp")).Key)));
        yield return new("model/weights/missing", w => { var m = w.Copy(BaseLm, "model"); File.Delete(Path.Combine(m, "model.safetensors")); return Eval(w, m); }, "model");

        // Canonical dataset folders.
        FuzzCase Dataset(string name, Action<string> edit, string mustName, string command = "stats") => new($"dataset/{command}/{name}", w =>
        {
            var d = w.Copy(BaseDataset, "ds");
            edit(d);
            return command == "stats" ? ["data", "stats", d, "--verify"] : ["train", "sasrec", "--dataset", d, "--out", w.P("out"), "--runs-dir", w.Runs, "--set", "training.epochs=1"];
        }, mustName);
        foreach (var command in new[] { "stats", "sasrec" })
        {
            yield return Dataset("manifest-missing", d => File.Delete(Path.Combine(d, "dataset.json")), "dataset.json", command);
            yield return Dataset("manifest-truncated", d => File.WriteAllText(Path.Combine(d, "dataset.json"), "{\"name\": \"x\","), "dataset.json", command);
            yield return Dataset("format-version", d => { var p = Path.Combine(d, "dataset.json"); File.WriteAllText(p, File.ReadAllText(p).Replace("\"format_version\": 1", "\"format_version\": 99")); }, "dataset.json", command);
            yield return Dataset("parquet-truncated", d => { var p = Path.Combine(d, "interactions.parquet"); File.WriteAllBytes(p, File.ReadAllBytes(p)[..100]); }, "interactions.parquet", command);
            yield return Dataset("parquet-garbage", d => File.WriteAllBytes(Path.Combine(d, "items.parquet"), Garbage(3)), "items.parquet", command);
            yield return Dataset("parquet-missing", d => File.Delete(Path.Combine(d, "users.parquet")), "users.parquet", command);
        }

        // Sequence tables for the sequential recommenders.
        string[] Seq(Workspace w, string table, string statis = "seq_size,item_num\n2,5\n")
        {
            w.Write("data_statis.csv", statis);
            return ["train", "sasrec", "--train", w.Write("t.csv", table), "--out", w.P("out"), "--runs-dir", w.Runs, "--set", "training.epochs=1"];
        }
        yield return new("seqtable/empty", w => Seq(w, ""), "t.csv");
        yield return new("seqtable/header-only", w => Seq(w, "seq,len_seq,next\n"), "t.csv");
        yield return new("seqtable/invalid-utf8", w => ["train", "sasrec", "--train", w.Write("t.csv", InvalidUtf8("seq,len_seq,next\n0 5,1,1\n", "0 5")), "--out", w.P("out"), "--runs-dir", w.Runs], "t.csv");
        yield return new("seqtable/unknown-item", w => Seq(w, "seq,len_seq,next\n0 9,1,1\n"), "t.csv:2");
        yield return new("seqtable/statis-huge", w => Seq(w, "seq,len_seq,next\n0 5,1,1\n", "seq_size,item_num\n2,2000000000\n"), "data_statis.csv");
        yield return new("seqtable/next-negative", w => Seq(w, "seq,len_seq,next\n0 5,1,-1\n"), "t.csv:2");

        // Item lists (id2name.txt), as eval's catalog.
        yield return new("items/eval-catalog-invalid-utf8", w => ["eval", "--model", BaseLm, "--candidates", w.Write("cands.json", CandidateJson), "--mode", "catalog", "--catalog", w.Write("id2name.txt", InvalidUtf8("0::Band 0\n1::Band 1\n", "Band 1"))], "id2name.txt");
        yield return new("items/eval-catalog-no-separator", w => ["eval", "--model", BaseLm, "--candidates", w.Write("cands.json", CandidateJson), "--mode", "catalog", "--catalog", w.Write("id2name.txt", "0 Band 0\n")], "id2name.txt");
        yield return new("items/eval-catalog-empty", w => ["eval", "--model", BaseLm, "--candidates", w.Write("cands.json", CandidateJson), "--mode", "catalog", "--catalog", w.Write("id2name.txt", "")], "id2name.txt");

        // Runs: --resume of what is not a resumable run.
        yield return new("resume/missing-folder", w => ["sft", "--model", BaseLm, "--train", w.Write("train.jsonl", SftJsonl), "--out", w.P("out"), "--resume", w.P("runs/nope")], "nope");
        yield return new("resume/not-a-run", w => { Directory.CreateDirectory(w.P("runs/x")); w.Write("runs/x/notes.txt", "x"); return ["sft", "--model", BaseLm, "--train", w.Write("train.jsonl", SftJsonl), "--out", w.P("out"), "--resume", w.P("runs/x")]; }, "runs/x");
        yield return new("resume/run-json-corrupt", w => { w.Write("runs/x/run.json", "{\"id\": "); return ["sft", "--model", BaseLm, "--train", w.Write("train.jsonl", SftJsonl), "--out", w.P("out"), "--resume", w.P("runs/x")]; }, "runs/x");

        // The run registry.
        yield return new("registry/garbage", w => { w.Write("runs/registry.sqlite", Garbage(5)); return ["runs", "list", "--runs-dir", w.Runs]; }, "registry.sqlite");
        yield return new("registry/text-file", w => { w.Write("runs/registry.sqlite", "not a database\n"); return ["runs", "list", "--runs-dir", w.Runs]; }, "registry.sqlite");

        // Output paths that would destroy data: refused before anything is written.
        yield return new("out/non-empty-folder", w => { w.Write("v/notes.txt", "x"); return ["sft", "--model", BaseLm, "--train", w.Write("train.jsonl", SftJsonl), "--out", w.P("v"), "--runs-dir", w.Runs]; }, "notes.txt");
        yield return new("out/equals-runs-dir", w => { w.Write("runs/registry.sqlite", "x"); return ["sft", "--model", BaseLm, "--train", w.Write("train.jsonl", SftJsonl), "--out", w.Runs, "--runs-dir", w.Runs]; }, "runs");
        yield return new("out/contains-runs-dir", w => { w.Write("work/runs/registry.sqlite", "x"); return ["sft", "--model", BaseLm, "--train", w.Write("train.jsonl", SftJsonl), "--out", w.P("work"), "--runs-dir", w.P("work/runs")]; }, "runs folder");
        yield return new("out/dot", w => ["sft", "--model", BaseLm, "--train", w.Write("train.jsonl", SftJsonl), "--out", ".", "--runs-dir", w.Runs], "working directory");
        yield return new("out/parent-of-cwd", w => ["sft", "--model", BaseLm, "--train", w.Write("train.jsonl", SftJsonl), "--out", "..", "--runs-dir", w.Runs], "working directory");
        yield return new("out/equals-input-dataset", w => { var d = w.Copy(BaseDataset, "ds"); return ["train", "sasrec", "--dataset", d, "--out", d, "--runs-dir", w.Runs]; }, "dataset");
        yield return new("out/pretrain-equals-dataset", w => { var d = w.Copy(BaseDataset, "ds"); return ["pretrain", "--dataset", d, "--out", d, "--runs-dir", w.Runs]; }, "dataset");
        yield return new("out/contains-model", w => { var m = w.Copy(BaseLm, "m/base"); return ["sft", "--model", m, "--train", w.Write("train.jsonl", SftJsonl), "--out", w.P("m"), "--runs-dir", w.Runs]; }, "model");
        yield return new("out/model-without-overwrite", w => { w.Copy(BaseLm, "old"); return ["sft", "--model", BaseLm, "--train", w.Write("train.jsonl", SftJsonl), "--out", w.P("old"), "--runs-dir", w.Runs]; }, "--overwrite");
        yield return new("out/is-a-file", w => { w.Write("f", "x"); return ["sft", "--model", BaseLm, "--train", w.Write("train.jsonl", SftJsonl), "--out", w.P("f"), "--runs-dir", w.Runs]; }, "file");
        yield return new("out/symlink-to-runs", w => { Directory.CreateDirectory(w.Runs); w.Write("runs/registry.sqlite", "x"); File.CreateSymbolicLink(w.P("link"), w.Runs); return ["sft", "--model", BaseLm, "--train", w.Write("train.jsonl", SftJsonl), "--out", w.P("link"), "--runs-dir", w.Runs]; }, "runs folder");
        yield return new("out/prepare-non-empty", w => { w.Write("v/notes.txt", "x"); return ["data", "prepare", "-f", "movielens", "-i", w.Write("in/ratings.dat", "1::10::5::1\n"), "-o", w.P("v")]; }, "notes.txt");
        yield return new("out/prepare-into-input", w => ["data", "prepare", "-f", "movielens", "-i", Path.GetDirectoryName(w.Write("in/ratings.dat", "1::10::5::1\n"))!, "-o", w.P("in")], "input");
        yield return new("out/prepare-name-dotdot", w => ["data", "prepare", "-f", "movielens", "-i", Path.GetDirectoryName(w.Write("in/ratings.dat", "1::10::5::1\n"))!, "--name", ".."], "--name");
        yield return new("out/prepare-name-slash", w => ["data", "prepare", "-f", "movielens", "-i", Path.GetDirectoryName(w.Write("in/ratings.dat", "1::10::5::1\n"))!, "--name", "a/../../b"], "--name");
        yield return new("out/synth-non-empty", w => { w.Write("v/notes.txt", "x"); return ["data", "synth", "--size", "tiny", "-o", w.P("v")]; }, "notes.txt");
        yield return new("out/candidates-non-empty", w => { w.Write("v/train.json", "mine"); return ["data", "candidates", w.Copy(BaseDataset, "ds"), "-o", w.P("v")]; }, "train.json");
        yield return new("out/export-name-dotdot", w => ["data", "export", w.Copy(BaseDataset, "ds"), "-o", w.P("v"), "--name", "../x"], "--name");
        yield return new("out/prompts-onto-input", w => { var f = w.Write("cands.json", CandidateJson); return ["data", "prompts", f, "-o", f]; }, "input");
        yield return new("out/eval-onto-candidates", w => { var f = w.Write("cands.json", CandidateJson); return ["eval", "--model", BaseLm, "--candidates", f, "--out", f]; }, "candidates");

        yield return new("eval/from-history-title-lm", w => ["eval", "--model", BaseLm, "--candidates", w.Write("cands.json", CandidateJson), "--from-history"], "--from-history");

        // `serve`: every refusal comes before a port is bound (a case wrongly accepted would hang, and fail as one).
        yield return new("serve/nothing", _ => ["serve"], "nothing to serve");
        yield return new("serve/model-without-name", _ => ["serve", "--model", BaseLm], "NAME=DIR");
        yield return new("serve/model-missing-folder", w => ["serve", "--model", "m=" + w.P("nope")], "nope");
        yield return new("serve/model-not-a-model", w => { w.Write("m/notes.txt", "x"); return ["serve", "--model", "m=" + w.P("m")]; }, "config.json");
        yield return new("serve/model-broken-config", w => { var m = w.Copy(BaseLm, "m"); File.WriteAllText(Path.Combine(m, "config.json"), "{\"model_type\": \"llama\", \"vocab_size\": \"many\"}"); return ["serve", "--model", "m=" + m]; }, "config.json");
        yield return new("serve/model-name-path", _ => ["serve", "--model", "../x=" + BaseLm], "model name");
        yield return new("serve/model-twice", _ => ["serve", "--model", "a=" + BaseLm, "--model", "a=" + BaseLm], "two models");
        yield return new("serve/beyond-loopback-without-key", _ => ["serve", "--model", "m=" + BaseLm, "--urls", "http://0.0.0.0:18931"], "--api-key");
        yield return new("serve/https", _ => ["serve", "--model", "m=" + BaseLm, "--urls", "https://127.0.0.1:18931"], "--urls");
        yield return new("serve/short-key", _ => ["serve", "--model", "m=" + BaseLm, "--api-key", "abc"], "--api-key");
        yield return new("serve/rerank-unknown", _ => ["serve", "--model", "m=" + BaseLm, "--rerank", "m=other"], "'other'");
        yield return new("serve/rerank-depth", _ => ["serve", "--model", "m=" + BaseLm, "--model", "n=" + BaseLm, "--rerank", "m=n:0"], "DEPTH");
        yield return new("serve/rerank-without-catalog", _ => ["serve", "--model", "m=" + BaseLm, "--model", "n=" + BaseLm, "--rerank", "m=n"], "'n'");
        yield return new("serve/batch-size-zero", _ => ["serve", "--model", "m=" + BaseLm, "--max-batch-size", "0"], "--max-batch-size");
        yield return new("serve/wait-negative", _ => ["serve", "--model", "m=" + BaseLm, "--max-wait-ms", "-1"], "--max-wait-ms");
        yield return new("serve/run-unknown", w => ["serve", "--run", "nope", "--runs-dir", w.Runs], "runs");
        yield return new("serve/run-without-models", w => { Directory.CreateDirectory(w.P("runs/20260101-000000-sft-abcdef")); return ["serve", "--run", w.P("runs/20260101-000000-sft-abcdef")]; }, "models");
    }

    /// <summary>Rewrites a safetensors header (u64 length + JSON) through <paramref name="edit"/>, keeping the data.</summary>
    private static byte[] EditHeader(byte[] file, Action<JsonNode> edit)
    {
        var length = (int)BitConverter.ToInt64(file, 0);
        var header = JsonNode.Parse(Encoding.UTF8.GetString(file, 8, length))!;
        edit(header);
        var text = Encoding.UTF8.GetBytes(header.ToJsonString());
        return [.. BitConverter.GetBytes((long)text.Length), .. text, .. file.AsSpan(8 + length)];
    }

    public static IEnumerable<object[]> CaseNames() => Cases.Keys.Order(StringComparer.Ordinal).Select(k => new object[] { k });

    [Fact]
    public void TheSuiteCoversAtLeast150MalformedInputs() => Assert.True(Cases.Count >= 150, $"{Cases.Count} cases");

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void EndsInAClearErrorAndLosesNothing(string name)
    {
        var c = Cases[name];
        // The case folder sits inside a sandbox of its own: an output path such as ".." that a regression let through
        // could then only ever replace the sandbox, never the system's temporary folder.
        var sandbox = Path.Combine(Path.GetTempPath(), "recalign-fuzz-" + Guid.NewGuid().ToString("N"));
        var root = Path.Combine(sandbox, "case");
        Directory.CreateDirectory(root);
        try
        {
            var w = new Workspace(root);
            var args = c.Setup(w);
            var before = Snapshot(root);
            var result = CliRunner.Run(root, TimeSpan.FromSeconds(30), args);
            var outcome = result.Classify(c.MustName);
            Assert.True(outcome == CliOutcome.ClearError,
                $"{name}: {outcome} (exit {result.ExitCode}) — expected exit 2 naming '{c.MustName}'.\nstderr: {Cut(result.Error)}\nstdout: {Cut(result.Out)}");
            // Nothing the case found is gone or changed (the runs folder may gain a failed run; nothing else changes).
            var after = Snapshot(root);
            foreach (var (path, hash) in before)
                Assert.True(after.TryGetValue(path, out var now) && now == hash, $"{name}: {path} was deleted or changed");
        }
        finally
        {
            try { Directory.Delete(sandbox, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    private static string Cut(string s) => s.Length > 3000 ? s[..3000] + "…" : s;

    private static Dictionary<string, string> Snapshot(string root) =>
        Directory.EnumerateFiles(root, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 })
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}runs{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .ToDictionary(f => Path.GetRelativePath(root, f), f => Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(f))));
}
