using System.Diagnostics;
using System.Text.Json.Nodes;
using RecAlign.Data;
using RecAlign.Models.Language;
using RecAlign.Prompts;
using RecAlign.Randomness;
using RecAlign.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace RecAlign.Bench;

/// <summary>
/// LM ranking throughput (users/s): a candidate list of titles scored with the shared prompt KV (each title + EOS
/// continued from the prompt's cache) against the same list with item tokens (one forward per prompt, one softmax),
/// and full-catalog ranking with item tokens (a prompt of the history's tokens, every item scored). Default: the
/// pipeline's tiny LM (LanguageModelConfig.Tiny) on a LastFM-sized catalog (4,606 items, titles of 1-4 words), 20
/// candidates, 10 history items, the generic templates; fp32 and bf16; medians over repetitions.
/// </summary>
internal static class ItemRankingBench
{
    public static int Run(string[] args)
    {
        bool quick = BenchOutput.Flag(args, "--quick");
        int threads = int.Parse(BenchOutput.Value(args, "--threads") ?? Environment.ProcessorCount.ToString());
        int users = int.Parse(BenchOutput.Value(args, "--users") ?? (quick ? "32" : "256"));
        int items = int.Parse(BenchOutput.Value(args, "--items") ?? "4606");
        int candidates = int.Parse(BenchOutput.Value(args, "--candidates") ?? "20");
        int reps = int.Parse(BenchOutput.Value(args, "--reps") ?? (quick ? "1" : "3"));
        int batch = int.Parse(BenchOutput.Value(args, "--batch") ?? "8");
        torch.set_num_threads(threads);

        var rng = new Pcg32(7, 1);
        string[] words = ["the", "black", "river", "sound", "kings", "electric", "moon", "band", "of", "night", "city", "lights",
            "velvet", "orchestra", "dead", "young", "golden", "echo", "machine", "wolves", "sister", "brothers", "fire", "glass"];
        var catalog = new ItemCatalog(Enumerable.Range(0, items).Select(i =>
            new Item(i, i.ToString(), string.Join(" ", Enumerable.Range(0, 1 + rng.NextInt(4)).Select(_ => words[rng.NextInt(words.Length)])) + $" {i}")));
        var examples = Enumerable.Range(0, users).Select(u =>
        {
            var history = Enumerable.Range(0, 10).Select(_ => rng.NextInt(items)).ToArray();
            var cands = Enumerable.Range(0, candidates).Select(_ => rng.NextInt(items)).Distinct().ToList();
            return new CandidateExample(u, history, cands[0], cands);
        }).ToList();
        var titleBuilder = new PromptBuilder(catalog, PromptTemplates.Item, new PromptConfig { Seed = 1 });
        var tokenBuilder = new PromptBuilder(catalog, PromptTemplates.Item, new PromptConfig { Seed = 1, ItemText = ItemText.Token });
        var titleQuestions = CandidateQuestions.From(titleBuilder, catalog, examples);
        var tokenQuestions = CandidateQuestions.From(tokenBuilder, catalog, examples);
        var inner = CompactVocabularyTokenizer.Build(titleQuestions.Select(q => q.Prompt).Concat(catalog.Items.Select(i => " " + i.Title)));
        var items2 = new ItemTokenizer(inner, catalog);
        var config = LanguageModelConfig.Tiny(items2.VocabSize);

        var result = new JsonObject
        {
            ["benchmark"] = "item_ranking", ["quick"] = quick, ["threads"] = threads, ["machine"] = BenchOutput.Machine(),
            ["config"] = $"d{config.HiddenSize} L{config.NumHiddenLayers} V{config.VocabSize}", ["users"] = users, ["items"] = items,
            ["candidates"] = candidates, ["batch"] = batch, ["reps"] = reps,
            ["mean_title_answer_tokens"] = Math.Round(titleQuestions.SelectMany(q => q.Candidates).Average(c => PromptTokenization.Response(inner, c).Length), 2),
            ["mean_title_prompt_tokens"] = Math.Round(titleQuestions.Average(q => PromptTokenization.Prompt(inner, q.Prompt).Length), 1),
            ["mean_token_prompt_tokens"] = Math.Round(tokenQuestions.Average(q => PromptTokenization.Prompt(items2, q.Prompt).Length), 1),
        };
        var rows = new List<(string, string)>
        {
            ("setting", $"tiny LM d{config.HiddenSize}×{config.NumHiddenLayers}L, V {config.VocabSize} ({items} item tokens), {users} users × {candidates} candidates, batch {batch}, {threads} threads"),
        };
        using var lm = LanguageModel.Create(config, seed: 1);
        lm.eval();
        var histories = examples.Select(e => (IReadOnlyList<int>)e.History).ToList();
        foreach (var dtype in new[] { ScalarType.Float32, ScalarType.BFloat16 })
        {
            lm.to(dtype);
            string name = dtype == ScalarType.Float32 ? "fp32" : "bf16";
            var titles = new LanguageModelRecommender(lm, inner, ownsModel: false) { BatchSize = batch };
            var tokens = new LanguageModelRecommender(lm, items2, ownsModel: false) { BatchSize = batch };
            double Time(Action run)
            {
                run(); // warm-up
                var times = new List<double>();
                for (int r = 0; r < reps; r++)
                {
                    var sw = Stopwatch.StartNew();
                    run();
                    times.Add(sw.Elapsed.TotalSeconds);
                }
                return times.Order().ElementAt(times.Count / 2);
            }
            double title = Time(() => titles.ScoreCandidates(titleQuestions).Dispose());
            double token = Time(() => tokens.ScoreCandidates(tokenQuestions).Dispose());
            double full = Time(() => tokens.ScoreCatalog(histories).Dispose());
            result[name] = new JsonObject
            {
                ["title_candidates_users_per_s"] = Math.Round(users / title, 1),
                ["token_candidates_users_per_s"] = Math.Round(users / token, 1),
                ["token_catalog_users_per_s"] = Math.Round(users / full, 1),
            };
            rows.Add(($"{name}: titles, shared prompt KV (users/s)", $"{users / title:F1}"));
            rows.Add(($"{name}: item tokens, one softmax (users/s)", $"{users / token:F1} ({title / token:F1}x)"));
            rows.Add(($"{name}: item tokens, whole catalog of {items} (users/s)", $"{users / full:F1}"));
        }
        BenchOutput.Write(args, "item-ranking", result, rows);
        return 0;
    }
}
