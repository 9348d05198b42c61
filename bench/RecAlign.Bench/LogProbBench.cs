using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using RecAlign.Alignment;
using TorchSharp;
using static TorchSharp.torch;

namespace RecAlign.Bench;

/// <summary>
/// Response log-probs from bf16 logits: <see cref="SequenceLogProbs.TokenLogProbs"/> (blockwise fp32 log_softmax +
/// gather) against one-shot fp32 log_softmax + gather, which materialises an fp32 [N,T,V] copy and a second one for
/// the log-softmax; plus one S-DPO loss evaluation at B=64, K=20. Forward only (the reference-model case).
/// Usage: <c>logprobs [--quick] [--out FILE.json]</c>.
/// </summary>
public static class LogProbBench
{
    public static int Run(string[] args)
    {
        bool quick = BenchOutput.Flag(args, "--quick");
        long n = quick ? 4 : 8, t = quick ? 64 : 256, v = quick ? 8192 : 32000;
        int reps = quick ? 3 : 5;
        using var g = new Generator(3);
        using var logits = randn([n, t, v], generator: g).to(ScalarType.BFloat16);
        using var targets = randint(0, v, [n, t], generator: g);

        // Interleaved rounds, so that load from other processes hits both sides alike.
        double ours = 0, naive = 0;
        for (int round = 0; round < 2; round++)
        {
            naive += Median(reps, () => logits.to(ScalarType.Float32).log_softmax(2).gather(2, targets.unsqueeze(2)).squeeze(2)) / 2;
            ours += Median(reps, () => SequenceLogProbs.TokenLogProbs(logits, targets)) / 2;
        }
        double diff;
        using (var scope = NewDisposeScope())
            diff = (SequenceLogProbs.TokenLogProbs(logits, targets) - logits.to(ScalarType.Float32).log_softmax(2).gather(2, targets.unsqueeze(2)).squeeze(2))
                .abs().max().item<float>();

        using var chosen = randn([64], generator: g);
        using var rejected = randn([64, 20], generator: g);
        var loss = new SoftmaxDpoLoss();
        double lossMs = Median(reps * 10, () => loss.Compute(new PreferenceBatchLogps(chosen, rejected, chosen * 0.9, rejected * 0.9)).Loss);

        double fp32CopyMb = n * t * v * 4 / 1048576.0;
        var result = new JsonObject
        {
            ["benchmark"] = "logprobs",
            ["machine"] = BenchOutput.Machine(),
            ["threads"] = get_num_threads(),
            ["shape"] = $"[{n},{t},{v}] bf16",
            ["token_logprobs_ms"] = ours,
            ["naive_log_softmax_ms"] = naive,
            ["max_abs_diff"] = diff,
            ["naive_extra_fp32_mb"] = 2 * fp32CopyMb,
            ["ours_extra_fp32_mb"] = 2 * Math.Min(fp32CopyMb, SequenceLogProbs.DefaultChunkElements * 4 / 1048576.0),
            ["sdpo_b64_k20_ms"] = lossMs,
        };
        string F(double x) => x.ToString("F3", CultureInfo.InvariantCulture);
        BenchOutput.Write(args, "logprobs", result,
        [
            ("logits", $"[{n},{t},{v}] bf16"),
            ("TokenLogProbs median ms", F(ours)),
            ("naive fp32 log_softmax+gather median ms", F(naive)),
            ("max |difference|", diff.ToString("G3", CultureInfo.InvariantCulture)),
            ("fp32 temporaries, naive (MB)", F(2 * fp32CopyMb)),
            ("fp32 temporaries, ours at most (MB)", F(2 * Math.Min(fp32CopyMb, SequenceLogProbs.DefaultChunkElements * 4 / 1048576.0))),
            ("S-DPO loss B=64 K=20 median ms", F(lossMs)),
        ]);
        return 0;
    }

    private static double Median(int reps, Func<Tensor> work)
    {
        using (var warm = NewDisposeScope()) work();
        var times = new double[reps];
        for (int i = 0; i < reps; i++)
        {
            using var scope = NewDisposeScope();
            long t0 = Stopwatch.GetTimestamp();
            work();
            times[i] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
        }
        Array.Sort(times);
        return times[reps / 2];
    }
}
