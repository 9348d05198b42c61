using System.Diagnostics;
using System.Text.Json.Nodes;
using RecAlign.Inference;
using RecAlign.Models.Language;
using TorchSharp;
using static TorchSharp.torch;

namespace RecAlign.Bench;

/// <summary>
/// Candidate scoring: the shared-prompt-KV ranker (prompt prefilled once, cache expanded over C candidates) against
/// scoring every prompt + candidate with its own full forward, one sequence at a time and C sequences per forward.
/// Default setting: a ~10M-parameter Llama (Small10M, vocab 4000), prompts ~150 tokens, 20 candidates of ~6 title
/// tokens + EOS, fp32 and bf16. Timings are medians over interleaved repetitions (the machine is shared).
/// </summary>
internal static class CandidateScoringBench
{
    public static int Run(string[] args)
    {
        bool quick = BenchOutput.Flag(args, "--quick");
        int threads = int.Parse(BenchOutput.Value(args, "--threads") ?? Environment.ProcessorCount.ToString());
        int promptCount = int.Parse(BenchOutput.Value(args, "--prompts") ?? (quick ? "4" : "16"));
        int separatePrompts = int.Parse(BenchOutput.Value(args, "--separate-prompts") ?? (quick ? "2" : "4"));
        int candidates = int.Parse(BenchOutput.Value(args, "--candidates") ?? "20");
        int promptLength = int.Parse(BenchOutput.Value(args, "--prompt-length") ?? "150");
        int titleLength = int.Parse(BenchOutput.Value(args, "--title-length") ?? "6");
        int batch = int.Parse(BenchOutput.Value(args, "--prompt-batch") ?? "4");
        int reps = int.Parse(BenchOutput.Value(args, "--reps") ?? (quick ? "2" : "3"));
        int vocab = int.Parse(BenchOutput.Value(args, "--vocab") ?? "4000");
        torch.set_num_threads(threads);

        var config = LanguageModelConfig.Small10M(vocab);
        var (prompts, cands) = MakeData(config, promptCount, candidates, promptLength, titleLength, seed: 5);
        var result = new JsonObject
        {
            ["benchmark"] = "candidate_scoring", ["quick"] = quick, ["threads"] = threads, ["machine"] = BenchOutput.Machine(),
            ["config"] = $"d{config.HiddenSize} L{config.NumHiddenLayers} h{config.NumAttentionHeads}/{config.NumKeyValueHeads} ff{config.IntermediateSize} V{config.VocabSize}",
            ["prompts"] = promptCount, ["separate_prompts"] = separatePrompts, ["candidates"] = candidates,
            ["mean_prompt_tokens"] = Math.Round(prompts.Average(p => p.Length), 1),
            ["mean_candidate_tokens"] = Math.Round(cands.SelectMany(c => c).Average(c => c.Length), 2),
            ["prompt_batch"] = batch, ["reps"] = reps,
        };
        var rows = new List<(string, string)>
        {
            ("setting", $"{config.HiddenSize}d×{config.NumHiddenLayers}L V{vocab}, {promptCount} prompts × {candidates} candidates, prompt ~{promptLength} tok, title ~{titleLength}+EOS tok, {threads} threads"),
        };

        using var lm = LanguageModel.Create(config, seed: 1);
        long parameters = lm.parameters().Sum(p => p.numel());
        result["params"] = parameters;
        foreach (var dtype in new[] { ScalarType.Float32, ScalarType.BFloat16 })
        {
            lm.to(dtype);
            string name = dtype == ScalarType.Float32 ? "fp32" : "bf16";
            var ranker = new CandidateRanker(lm, batch);
            var sepPrompts = prompts.Take(separatePrompts).ToArray();
            var sepCands = cands.Take(separatePrompts).ToArray();
            // Warm-up (allocator, rotary tables, JIT) on one prompt each way.
            ranker.Score(prompts[..1], cands[..1]);
            ranker.ScoreSeparately(sepPrompts[..1], sepCands[..1], candidates);

            var shared = new Timing();
            var one = new Timing();
            var batched = new Timing();
            CandidateScores? separate = null;
            for (int r = 0; r < reps; r++)
            {
                shared.Measure(() => ranker.Score(prompts, cands), promptCount);
                batched.Measure(() => ranker.ScoreSeparately(sepPrompts, sepCands, candidates), separatePrompts);
                one.Measure(() => separate = ranker.ScoreSeparately(sepPrompts, sepCands), separatePrompts);
            }
            // Agreement on the prompts both paths scored.
            var sharedSub = ranker.Score(sepPrompts, sepCands);
            float diff = sharedSub.MaxAbsDifference(separate!);
            int sameTop = Enumerable.Range(0, separatePrompts).Count(p => sharedSub.Ranking(p)[0] == separate!.Ranking(p)[0]);

            foreach (var (label, t) in new[] { ("shared", shared), ("separate", one), ("separate_batched", batched) })
            {
                result[$"{name}_{label}_ms_per_prompt"] = Math.Round(t.WallMs, 2);
                result[$"{name}_{label}_cpu_ms_per_prompt"] = Math.Round(t.CpuMs, 2);
            }
            result[$"{name}_speedup_vs_separate"] = Math.Round(one.WallMs / shared.WallMs, 2);
            result[$"{name}_speedup_vs_separate_batched"] = Math.Round(batched.WallMs / shared.WallMs, 2);
            result[$"{name}_cpu_speedup_vs_separate"] = Math.Round(one.CpuMs / shared.CpuMs, 2);
            result[$"{name}_cpu_speedup_vs_separate_batched"] = Math.Round(batched.CpuMs / shared.CpuMs, 2);
            result[$"{name}_candidates_per_s_shared"] = Math.Round(candidates * 1000.0 / shared.WallMs, 1);
            result[$"{name}_max_abs_diff"] = diff;
            result[$"{name}_same_top1"] = $"{sameTop}/{separatePrompts}";
            rows.Add(($"{name} shared prompt KV: wall / CPU ms per prompt", $"{shared.WallMs:F1} / {shared.CpuMs:F1} ({candidates * 1000.0 / shared.WallMs:F0} cands/s)"));
            rows.Add(($"{name} separate forwards one by one: wall / CPU ms per prompt", $"{one.WallMs:F1} / {one.CpuMs:F1}"));
            rows.Add(($"{name} separate forwards, {candidates} per batch: wall / CPU ms per prompt", $"{batched.WallMs:F1} / {batched.CpuMs:F1}"));
            rows.Add(($"{name} speedup vs one by one / vs batched (wall)", $"x{one.WallMs / shared.WallMs:F1} / x{batched.WallMs / shared.WallMs:F1}"));
            rows.Add(($"{name} speedup vs one by one / vs batched (CPU time)", $"x{one.CpuMs / shared.CpuMs:F1} / x{batched.CpuMs / shared.CpuMs:F1}"));
            rows.Add(($"{name} max |shared − separate| log-prob, same top-1", $"{diff:E1}, {sameTop}/{separatePrompts}"));
        }
        result["peak_rss_mb"] = Math.Round(BenchOutput.PeakRssMb(), 1);
        rows.Add(("peak RSS", $"{BenchOutput.PeakRssMb():F0} MB"));
        BenchOutput.Write(args, "candidate_scoring", result, rows);
        return 0;
    }

    /// <summary>Median wall-clock and process-CPU milliseconds per prompt. On a shared machine the CPU time (with
    /// --threads 1) is the steadier measure of work; wall time is what a user waits.</summary>
    private sealed class Timing
    {
        private readonly List<double> _wall = [], _cpu = [];
        public double WallMs => Median(_wall);
        public double CpuMs => Median(_cpu);

        public void Measure(Action action, int prompts)
        {
            using var process = Process.GetCurrentProcess();
            var cpu0 = process.TotalProcessorTime;
            var sw = Stopwatch.StartNew();
            action();
            sw.Stop();
            process.Refresh();
            _wall.Add(sw.Elapsed.TotalMilliseconds / prompts);
            _cpu.Add((process.TotalProcessorTime - cpu0).TotalMilliseconds / prompts);
        }
    }

    private static double Median(List<double> xs)
    {
        var s = xs.Order().ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }

    /// <summary>Random prompts of promptLength ± 10 tokens and titles of titleLength ± 1 tokens + EOS.</summary>
    private static (int[][] Prompts, IReadOnlyList<int[]>[] Candidates) MakeData(LanguageModelConfig config, int count, int candidates,
        int promptLength, int titleLength, int seed)
    {
        var rng = new Random(seed);
        int eos = config.EosTokenId ?? 2;
        int Token() => rng.Next(3, config.VocabSize);
        var prompts = new int[count][];
        var cands = new IReadOnlyList<int[]>[count];
        for (int p = 0; p < count; p++)
        {
            prompts[p] = Enumerable.Range(0, Math.Max(1, promptLength + rng.Next(-10, 11))).Select(_ => Token()).ToArray();
            cands[p] = Enumerable.Range(0, candidates)
                .Select(_ => Enumerable.Range(0, Math.Max(1, titleLength + rng.Next(-1, 2))).Select(_ => Token()).Append(eos).ToArray())
                .ToArray();
        }
        return (prompts, cands);
    }
}
