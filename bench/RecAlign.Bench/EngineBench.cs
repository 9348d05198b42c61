using System.Diagnostics;
using System.Text.Json.Nodes;
using RecAlign.Models.Language;
using RecAlign.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace RecAlign.Bench;

/// <summary>
/// Engine throughput: matmul peak per dtype, training and forward tokens/s of the default-size LMs, model FLOPs
/// utilisation against the peak measured in the same run, peak RSS and RSS drift over a long training run.
/// FLOPs per trained token = 6·N_matmul + 12·L·d·T (Kaplan et al. / PaLM appendix; N_matmul counts every matmul
/// weight including lm_head; the second term is attention scores and values); forward is a third of that.
/// </summary>
internal static class EngineBench
{
    public static int Run(string[] args)
    {
        bool quick = BenchOutput.Flag(args, "--quick");
        int threads = int.Parse(BenchOutput.Value(args, "--threads") ?? Environment.ProcessorCount.ToString());
        torch.set_num_threads(threads);
        var result = new JsonObject { ["benchmark"] = "engine", ["quick"] = quick, ["threads"] = threads, ["machine"] = BenchOutput.Machine() };
        var rows = new List<(string, string)>();

        double peak32 = MatmulGflops(ScalarType.Float32, quick ? 5 : 20);
        double peak16 = MatmulGflops(ScalarType.BFloat16, quick ? 10 : 40);
        result["matmul_gflops_fp32"] = Math.Round(peak32, 1);
        result["matmul_gflops_bf16"] = Math.Round(peak16, 1);
        rows.Add(("matmul 2048² GFLOP/s fp32 / bf16", $"{peak32:F0} / {peak16:F0}"));

        int seq = 256, batch = 8;
        var models = new List<(string Name, LanguageModelConfig Config)> { ("10M", LanguageModelConfig.Small10M(8192)) };
        if (!quick) models.Add(("30M", LanguageModelConfig.Medium30M(8192)));
        foreach (var (name, config) in models)
        {
            int steps = quick ? 8 : 25;
            var fp32 = TrainThroughput(config, ScalarType.Float32, seq, batch, steps);
            var bf16 = TrainThroughput(config, ScalarType.BFloat16, seq, batch, steps);
            double fwd32 = ForwardThroughput(config, ScalarType.Float32, seq, batch, quick ? 5 : 15);
            double flopsPerToken = TrainFlopsPerToken(config, seq);
            double mfu32 = fp32.TokensPerSecond * flopsPerToken / (peak32 * 1e9);
            double mfu16 = bf16.TokensPerSecond * flopsPerToken / (peak16 * 1e9);
            string prefix = name == "10M" ? "" : $"m30_";
            result[prefix + "params"] = fp32.Parameters;
            result[prefix + "train_tokens_per_s_fp32"] = Math.Round(fp32.TokensPerSecond, 1);
            result[prefix + "train_tokens_per_s_bf16"] = Math.Round(bf16.TokensPerSecond, 1);
            result[prefix + "forward_tokens_per_s_fp32"] = Math.Round(fwd32, 1);
            result[prefix + "mfu_fp32"] = Math.Round(mfu32, 4);
            result[prefix + "mfu_bf16"] = Math.Round(mfu16, 4);
            result[prefix + "bf16_speedup"] = Math.Round(bf16.TokensPerSecond / fp32.TokensPerSecond, 3);
            result[prefix + "config"] = $"d{config.HiddenSize} L{config.NumHiddenLayers} h{config.NumAttentionHeads}/{config.NumKeyValueHeads} ff{config.IntermediateSize} V{config.VocabSize} seq{seq} batch{batch}";
            rows.Add(($"{name} ({fp32.Parameters / 1e6:F1}M params) train tok/s fp32 / bf16", $"{fp32.TokensPerSecond:F0} / {bf16.TokensPerSecond:F0} (x{bf16.TokensPerSecond / fp32.TokensPerSecond:F2})"));
            rows.Add(($"{name} MFU fp32 / bf16 (vs same-dtype matmul peak)", $"{mfu32:P1} / {mfu16:P1}"));
            rows.Add(($"{name} forward tok/s fp32", $"{fwd32:F0}"));
        }

        // RSS drift: the bf16 training step (tiny default model, seq 128) over many steps; RSS after warm-up vs at the end.
        int driftSteps = quick ? 300 : 2000;
        var drift = TrainThroughput(LanguageModelConfig.Tiny(4096), ScalarType.BFloat16, 128, batch, driftSteps, trackRss: true);
        result["rss_drift_steps"] = driftSteps;
        result["rss_drift_pct"] = Math.Round(drift.RssDriftPct, 2);
        result["peak_rss_mb"] = Math.Round(BenchOutput.PeakRssMb(), 1);
        rows.Add(($"RSS drift over {driftSteps} bf16 steps ({drift.Parameters / 1e6:F1}M params)", $"{drift.RssDriftPct:F2}% (after warm-up {drift.RssStartMb:F0} MB → {drift.RssEndMb:F0} MB)"));
        rows.Add(("peak RSS", $"{BenchOutput.PeakRssMb():F0} MB"));
        BenchOutput.Write(args, "engine", result, rows);
        return 0;
    }

    private static double MatmulGflops(ScalarType dtype, int reps)
    {
        const int n = 2048;
        using var scope = NewDisposeScope();
        var a = randn(n, n).to(dtype);
        var b = randn(n, n).to(dtype);
        for (int i = 0; i < 2; i++) matmul(a, b).Dispose();
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < reps; i++) matmul(a, b).Dispose();
        return 2.0 * n * n * n * reps / sw.Elapsed.TotalSeconds / 1e9;
    }

    public static double TrainFlopsPerToken(LanguageModelConfig c, int seq)
    {
        long perLayer = (long)c.HiddenSize * c.HeadDim * (c.NumAttentionHeads * 2 + c.NumKeyValueHeads * 2) + 3L * c.HiddenSize * c.IntermediateSize;
        long matmulParams = perLayer * c.NumHiddenLayers + (long)c.HiddenSize * c.VocabSize;
        return 6.0 * matmulParams + 12.0 * c.NumHiddenLayers * c.HiddenSize * seq;
    }

    private sealed record Throughput(double TokensPerSecond, long Parameters, double RssDriftPct, double RssStartMb, double RssEndMb);

    private static Throughput TrainThroughput(LanguageModelConfig config, ScalarType dtype, int seq, int batch, int steps, bool trackRss = false)
    {
        using var lm = LanguageModel.Create(config, seed: 1);
        lm.to(dtype);
        long parameters = lm.parameters().Sum(p => p.numel());
        // RecAlign's AdamW: in bf16 it steps fp32 master weights, as training does.
        using var optimizer = RecAlign.Training.Optimization.AdamW.FromConfig(lm.named_parameters().Select(p => (p.name, p.parameter)),
            new RecAlign.Training.Optimization.OptimizerConfig { LearningRate = 1e-4, WeightDecay = 0.1 });
        using var g = new Generator(7);
        using var data = randint(0, config.VocabSize, [batch, seq + 1], generator: g);
        using var ids = data.narrow(1, 0, seq);
        using var targets = data.narrow(1, 1, seq);
        int warmup = Math.Min(3, steps / 4 + 1);
        var sw = new Stopwatch();
        double rssStart = 0;
        for (int step = 0; step < steps + warmup; step++)
        {
            if (step == warmup) sw.Start();
            using var scope = NewDisposeScope();
            optimizer.ZeroGrad();
            var loss = NextTokenLoss.Compute(lm, ids, targets);
            loss.backward();
            optimizer.Step();
            if (trackRss && step == warmup + Math.Max(10, steps / 10)) rssStart = BenchOutput.RssMb();
        }
        sw.Stop();
        double rssEnd = BenchOutput.RssMb();
        return new Throughput((double)steps * batch * seq / sw.Elapsed.TotalSeconds, parameters,
            trackRss ? 100.0 * (rssEnd - rssStart) / rssStart : 0, rssStart, rssEnd);
    }

    private static double ForwardThroughput(LanguageModelConfig config, ScalarType dtype, int seq, int batch, int steps)
    {
        using var lm = LanguageModel.Create(config, seed: 1);
        lm.to(dtype);
        using var ids = randint(0, config.VocabSize, [batch, seq]);
        using var _ = no_grad();
        for (int i = 0; i < 2; i++) lm.Forward(ids).Dispose();
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < steps; i++)
        {
            using var scope = NewDisposeScope();
            lm.Forward(ids);
        }
        return (double)steps * batch * seq / sw.Elapsed.TotalSeconds;
    }
}
