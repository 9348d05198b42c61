using System.Diagnostics;
using System.Text.Json.Nodes;
using RecAlign.Models.Language;
using RecAlign.Models.Language.Generation;
using TorchSharp;
using static TorchSharp.torch;
using Generator = RecAlign.Models.Language.Generation.Generator;

namespace RecAlign.Bench;

/// <summary>
/// Decoding throughput of <see cref="Generator"/> on the ~10M model (Small10M, vocab 4000): greedy and sampling over a
/// left-padded batch, beam search, and trie-constrained beam search; plus RSS across repeated long generations
/// (memory must stay flat: every step runs in a dispose scope and the cache frees what it replaces).
/// </summary>
internal static class GenerationBench
{
    public static int Run(string[] args)
    {
        bool quick = BenchOutput.Flag(args, "--quick");
        int threads = int.Parse(BenchOutput.Value(args, "--threads") ?? Environment.ProcessorCount.ToString());
        int batch = int.Parse(BenchOutput.Value(args, "--batch") ?? "8");
        int promptLength = int.Parse(BenchOutput.Value(args, "--prompt-length") ?? "100");
        int newTokens = int.Parse(BenchOutput.Value(args, "--new-tokens") ?? (quick ? "64" : "256"));
        int repeats = int.Parse(BenchOutput.Value(args, "--repeats") ?? (quick ? "3" : "6"));
        torch.set_num_threads(threads);

        var config = LanguageModelConfig.Small10M(4000);
        using var lm = LanguageModel.Create(config, seed: 1);
        var rng = new Random(3);
        var prompts = Enumerable.Range(0, batch)
            .Select(_ => Enumerable.Range(0, promptLength + rng.Next(-20, 1)).Select(_ => rng.Next(3, config.VocabSize)).ToArray()).ToArray();
        // eos_token_id -1 never matches, so every run decodes exactly new-tokens tokens.
        var greedy = new GenerationConfig { MaxNewTokens = newTokens, EosTokenId = [-1] };
        var result = new JsonObject
        {
            ["benchmark"] = "generation", ["quick"] = quick, ["threads"] = threads, ["machine"] = BenchOutput.Machine(),
            ["batch"] = batch, ["prompt_length"] = promptLength, ["new_tokens"] = newTokens,
        };
        var rows = new List<(string, string)>
        {
            ("setting", $"{config.HiddenSize}d×{config.NumHiddenLayers}L V{config.VocabSize}, batch {batch}, prompts ≤{promptLength} tok (left-padded), {newTokens} new tokens, {threads} threads"),
        };
        Generator.Generate(lm, prompts[..2], greedy with { MaxNewTokens = 4 }); // warm-up

        void Measure(string key, string label, Func<GenerationResult> run, int rowsDecoded)
        {
            var sw = Stopwatch.StartNew();
            var r = run();
            double s = sw.Elapsed.TotalSeconds;
            long tokens = r.Sequences.Sum(seqs => seqs.Count > 0 ? seqs[0].Tokens.Length : 0);
            double perSecond = (double)rowsDecoded * newTokens / s;
            result[key + "_s"] = Math.Round(s, 3);
            result[key + "_row_tokens_per_s"] = Math.Round(perSecond, 1);
            rows.Add((label, $"{s:F2} s, {perSecond:F0} row-tokens/s (best sequences: {tokens} tokens)"));
        }

        Measure("greedy", $"greedy, batch {batch}", () => Generator.Generate(lm, prompts, greedy), batch);
        Measure("sample", $"sampling (T 0.8, top-k 50, top-p 0.95), batch {batch}",
            () => Generator.Generate(lm, prompts, greedy with { DoSample = true, Temperature = 0.8, TopP = 0.95, Seed = 1 }), batch);
        Measure("beam4", "beam search, 4 beams, 2 prompts", () => Generator.Generate(lm, prompts[..2], greedy with { NumBeams = 4 }), 8);
        // Constrained: 200 random 7-token "titles" + EOS per prompt, 4 beams.
        int eos = config.EosTokenId ?? 2;
        var tries = prompts[..2].Select(_ => (TokenTrie?)new TokenTrie(Enumerable.Range(0, 200)
            .Select(_ => (IReadOnlyList<int>)Enumerable.Range(0, 7).Select(_ => rng.Next(3, config.VocabSize)).Append(eos).ToArray()))).ToArray();
        var sw = Stopwatch.StartNew();
        var constrained = Generator.Generate(lm, prompts[..2], new GenerationConfig { MaxNewTokens = 8, EosTokenId = [eos], NumBeams = 4 }, tries);
        double cs = sw.Elapsed.TotalSeconds;
        bool allInTrie = constrained.Sequences.Select((s, p) => s.All(x => tries[p]!.Contains(x.Tokens))).All(x => x);
        result["constrained_beam4_s"] = Math.Round(cs, 3);
        result["constrained_all_in_trie"] = allInTrie;
        rows.Add(("trie-constrained beam search (200 titles/prompt, 4 beams, 2 prompts)", $"{cs:F2} s, outputs in trie: {allInTrie}"));

        // Memory: RSS after the first long greedy run vs after several more.
        Generator.Generate(lm, prompts, greedy);
        GC.Collect();
        double rssStart = BenchOutput.RssMb();
        for (int i = 0; i < repeats; i++) Generator.Generate(lm, prompts, greedy);
        GC.Collect();
        double rssEnd = BenchOutput.RssMb();
        result["rss_start_mb"] = Math.Round(rssStart, 1);
        result["rss_end_mb"] = Math.Round(rssEnd, 1);
        result["rss_drift_pct"] = Math.Round(100 * (rssEnd - rssStart) / rssStart, 2);
        result["peak_rss_mb"] = Math.Round(BenchOutput.PeakRssMb(), 1);
        rows.Add(($"RSS over {repeats} more greedy runs of {newTokens} tokens", $"{rssStart:F0} MB → {rssEnd:F0} MB ({100 * (rssEnd - rssStart) / rssStart:F2}%)"));
        rows.Add(("peak RSS", $"{BenchOutput.PeakRssMb():F0} MB"));
        BenchOutput.Write(args, "generation", result, rows);
        return 0;
    }
}
