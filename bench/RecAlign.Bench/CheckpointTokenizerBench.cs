using RecAlign.IO;
using System.Diagnostics;
using System.Text.Json;
using RecAlign.Models.Checkpoints;
using RecAlign.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace RecAlign.Bench;

/// <summary>Throughput of safetensors save/load and of the tokenizers. Writes a JSON record (--out) and a markdown
/// table to stdout.</summary>
internal static class CheckpointTokenizerBench
{
    /// <summary>safetensors-io [--quick] [--out FILE.json]: write and read a bf16 checkpoint of 8 tensors.</summary>
    public static int SafetensorsIo(string[] args)
    {
        bool quick = args.Contains("--quick");
        long elementsPerTensor = quick ? 4L << 20 : 32L << 20; // 8 MiB / 64 MiB of bf16 per tensor
        var dir = Path.Combine(Path.GetTempPath(), "recalign-bench-st-" + Guid.NewGuid().ToString("N"));
        try
        {
            var tensors = new Dictionary<string, Tensor>();
            using var gen = new Generator(7);
            for (int i = 0; i < 8; i++)
                tensors[$"model.layers.{i}.mlp.weight"] = torch.randn([elementsPerTensor], generator: gen).to_type(ScalarType.BFloat16);
            double mib = 8 * elementsPerTensor * 2 / (1024.0 * 1024.0);

            var sw = Stopwatch.StartNew();
            CheckpointIO.SaveTensors(tensors, dir);
            double writeS = sw.Elapsed.TotalSeconds;

            long allocBefore = GC.GetAllocatedBytesForCurrentThread();
            sw.Restart();
            using (var ckpt = SafetensorsCheckpoint.Open(dir))
            {
                foreach (var name in ckpt.TensorNames) ckpt.ReadInto(name, tensors[name]);
            }
            double readS = sw.Elapsed.TotalSeconds;
            long alloc = GC.GetAllocatedBytesForCurrentThread() - allocBefore;

            sw.Restart();
            using (var ckpt = SafetensorsCheckpoint.Open(dir))
            {
                foreach (var name in ckpt.TensorNames)
                {
                    using var f32 = ckpt.ReadTensor(name, ScalarType.Float32);
                }
            }
            double readConvertS = sw.Elapsed.TotalSeconds;

            sw.Restart();
            using (var ckpt = SafetensorsCheckpoint.Open(dir))
            {
                foreach (var name in ckpt.TensorNames)
                {
                    using var raw = ckpt.ReadTensor(name);
                }
            }
            double readNewS = sw.Elapsed.TotalSeconds;
            foreach (var t in tensors.Values) t.Dispose();

            var result = new Dictionary<string, object>
            {
                ["benchmark"] = "safetensors-io",
                ["mib"] = mib,
                ["write_mib_s"] = mib / writeS,
                ["read_into_mib_s"] = mib / readS,
                ["read_new_tensor_mib_s"] = mib / readNewS,
                ["read_to_f32_mib_s"] = mib / readConvertS,
                ["read_managed_bytes"] = alloc,
            };
            Report(result, args);
            return 0;
        }
        finally
        {
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
        }
    }

    /// <summary>tokenizer-encode [--quick] [--out FILE.json]: build a compact vocabulary from item titles and time
    /// encode/decode. Titles come from ../shared/data (LastFM + MovieLens); skipped with a message when absent.</summary>
    public static int TokenizerEncode(string[] args)
    {
        bool quick = args.Contains("--quick");
        var files = new[] { "lastfm/ref-sdpo/id2name.txt", "causaldpo/ml-1m/ood_id2name.txt" }
            .Select(f => Path.Combine(FindDataRoot() ?? "", f)).Where(File.Exists).ToList();
        if (files.Count == 0)
        {
            Console.Error.WriteLine("tokenizer-encode: ../shared/data not found; skipping.");
            return 0;
        }
        var titles = files.SelectMany(File.ReadLines)
            .Select(l => l.IndexOf("::", StringComparison.Ordinal) is var i and >= 0 ? l[(i + 2)..] : l).ToList();
        var prompts = Enumerable.Range(0, quick ? 2_000 : 20_000)
            .Select(i => "The user listened to " + string.Join(", ", Enumerable.Range(0, 10).Select(k => titles[(i * 31 + k * 7) % titles.Count]))
                + ". Next: " + titles[(i * 13) % titles.Count])
            .ToList();

        var sw = Stopwatch.StartNew();
        var tok = CompactVocabularyTokenizer.Build(titles);
        double buildS = sw.Elapsed.TotalSeconds;

        sw.Restart();
        long tokens = 0, chars = 0;
        foreach (var p in prompts)
        {
            tokens += tok.Encode(p, addBos: true).Length;
            chars += p.Length;
        }
        double encodeS = sw.Elapsed.TotalSeconds;

        var encoded = prompts.Select(p => tok.Encode(p)).ToList();
        sw.Restart();
        int mismatches = 0;
        for (int i = 0; i < encoded.Count; i++)
            if (tok.Decode(encoded[i]) != prompts[i]) mismatches++;
        double decodeS = sw.Elapsed.TotalSeconds;

        Report(new Dictionary<string, object>
        {
            ["benchmark"] = "tokenizer-encode",
            ["titles"] = titles.Count,
            ["compact_vocab_size"] = tok.VocabSize,
            ["build_s"] = buildS,
            ["encode_tokens_s"] = tokens / encodeS,
            ["encode_chars_per_token"] = (double)chars / tokens,
            ["decode_tokens_s"] = tokens / decodeS,
            ["round_trip_mismatches"] = mismatches,
        }, args);
        return mismatches == 0 ? 0 : 1;
    }

    private static string? FindDataRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            var candidate = Path.Combine(d.FullName, "..", "shared", "data");
            if (Directory.Exists(candidate)) return Path.GetFullPath(candidate);
        }
        return Directory.Exists("/work/shared/data") ? "/work/shared/data" : null;
    }

    private static void Report(Dictionary<string, object> result, string[] args)
    {
        Console.WriteLine("| metric | value |");
        Console.WriteLine("|---|---|");
        foreach (var (k, v) in result)
            Console.WriteLine($"| {k} | {(v is double d ? d.ToString("G4", System.Globalization.CultureInfo.InvariantCulture) : v)} |");
        int outIdx = Array.IndexOf(args, "--out");
        if (outIdx >= 0 && outIdx + 1 < args.Length)
            AtomicFile.WriteAllText(args[outIdx + 1], JsonSerializer.Serialize(result, new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }
}
