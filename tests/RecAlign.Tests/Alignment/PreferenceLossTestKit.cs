using RecAlign.Alignment;
using TorchSharp;
using static TorchSharp.torch;

namespace RecAlign.Tests.Alignment;

/// <summary>A small fixed preference batch in plain doubles (B=3, up to K=3 negatives).</summary>
internal sealed record LossCase(double[] Pc, double[,] Pr, double[] Rc, double[,] Rr, double[] Lc, double[,] Lr)
{
    public int B => Pc.Length;
    public int K => Pr.GetLength(1);

    public static LossCase Fixed(int k)
    {
        var full = new LossCase(
            [-12.0, -20.5, -7.25],
            new[,] { { -14.0, -11.5, -19.0 }, { -18.0, -25.0, -21.0 }, { -9.0, -6.0, -8.5 } },
            [-13.0, -19.0, -8.0],
            new[,] { { -13.5, -12.0, -17.0 }, { -20.0, -22.0, -20.5 }, { -8.0, -7.5, -9.0 } },
            [4, 9, 3],
            new double[,] { { 5, 4, 8 }, { 7, 10, 9 }, { 3, 2, 4 } });
        return full.Take(k);
    }

    /// <summary>Margins β·h of ±1000 at β=1: one example the policy gets hugely right, one hugely wrong.</summary>
    public static LossCase Extreme(int k)
    {
        var pr = new double[2, k];
        var rr = new double[2, k];
        var lr = new double[2, k];
        for (int j = 0; j < k; j++) { pr[0, j] = -1000 - j; pr[1, j] = 1000 + j; lr[0, j] = 1; lr[1, j] = 1; }
        return new LossCase([0, 0], pr, [0, 0], rr, [1, 1], lr);
    }

    /// <summary>One rejected response per example (K=1), every response one token long.</summary>
    public static LossCase Pairs(double[] pc, double[] pr, double[] rc, double[] rr)
    {
        double[,] Column(double[] x) { var m = new double[x.Length, 1]; for (int i = 0; i < x.Length; i++) m[i, 0] = x[i]; return m; }
        return new LossCase(pc, Column(pr), rc, Column(rr), pc.Select(_ => 1.0).ToArray(), Column(pc.Select(_ => 1.0).ToArray()));
    }

    /// <summary>The worked single pair of the loss tests: h+ = −12 − (−13) = 1, h− = −14 − (−13.5) = −0.5, h = 1.5.</summary>
    public static LossCase WorkedPair() => Pairs([-12.0], [-14.0], [-13.0], [-13.5]);

    public LossCase Take(int k)
    {
        double[,] Cut(double[,] m) { var r = new double[B, k]; for (int i = 0; i < B; i++) for (int j = 0; j < k; j++) r[i, j] = m[i, j]; return r; }
        return new LossCase(Pc, Cut(Pr), Rc, Cut(Rr), Lc, Cut(Lr));
    }

    public double ChosenLogRatio(int i) => Pc[i] - Rc[i];
    public double RejectedLogRatio(int i, int j) => Pr[i, j] - Rr[i, j];

    /// <summary>The four log-prob inputs flattened, in the order pc, pr, rc, rr.</summary>
    public double[][] Inputs() => [Pc, Flat(Pr), Rc, Flat(Rr)];

    public PreferenceBatchLogps ToBatch(double[][]? inputs = null, bool requiresGrad = false) =>
        Build(inputs ?? Inputs(), requiresGrad, out _);

    public PreferenceBatchLogps Build(double[][] inputs, bool requiresGrad, out Tensor[] leaves)
    {
        leaves =
        [
            tensor(inputs[0], [B], ScalarType.Float64, requires_grad: requiresGrad),
            tensor(inputs[1], [B, K], ScalarType.Float64, requires_grad: requiresGrad),
            tensor(inputs[2], [B], ScalarType.Float64, requires_grad: requiresGrad),
            tensor(inputs[3], [B, K], ScalarType.Float64, requires_grad: requiresGrad),
        ];
        return new PreferenceBatchLogps(leaves[0], leaves[1], leaves[2], leaves[3],
            tensor(Lc, [B], ScalarType.Float64), tensor(Flat(Lr), [B, K], ScalarType.Float64));
    }

    private static double[] Flat(double[,] m) => m.Cast<double>().ToArray();
}

internal static class LossMath
{
    /// <summary>log σ(x), stable in double.</summary>
    public static double LogSigmoid(double x) => x < 0 ? x - Math.Log(1 + Math.Exp(x)) : -Math.Log(1 + Math.Exp(-x));

    public static double Mean(IEnumerable<double> xs) => xs.Average();

    /// <summary>Mean over examples of the mean over negatives of f(i, j).</summary>
    public static double MeanPairs(LossCase c, Func<int, int, double> f) =>
        Enumerable.Range(0, c.B).Average(i => Enumerable.Range(0, c.K).Average(j => f(i, j)));
}

internal static class PreferenceLossAssert
{
    public static double Value(IPreferenceLoss loss, PreferenceBatchLogps batch)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        return loss.Compute(batch).Loss.item<double>();
    }

    public static void Close(double expected, double actual, double tol = 1e-12) =>
        Assert.True(Math.Abs(expected - actual) <= tol * Math.Max(1, Math.Abs(expected)), $"expected {expected:R}, got {actual:R}");

    /// <summary>Autograd gradients of the loss with respect to all four log-prob inputs against central differences.</summary>
    public static void GradientsMatchFiniteDifferences(IPreferenceLoss loss, LossCase c, double step = 1e-5, double tol = 1e-7)
    {
        using var scope = NewDisposeScope();
        var inputs = c.Inputs();
        var batch = c.Build(inputs, requiresGrad: true, out var leaves);
        loss.Compute(batch).Loss.backward();
        for (int a = 0; a < inputs.Length; a++)
        {
            // An input the loss does not use (SimPO's reference) has no gradient: it must be zero.
            using var g = leaves[a].grad;
            var grad = g is null ? new double[inputs[a].Length] : g.data<double>().ToArray();
            for (int e = 0; e < inputs[a].Length; e++)
            {
                var plus = inputs.Select(x => (double[])x.Clone()).ToArray();
                var minus = inputs.Select(x => (double[])x.Clone()).ToArray();
                plus[a][e] += step;
                minus[a][e] -= step;
                double fd = (Value(loss, c.ToBatch(plus)) - Value(loss, c.ToBatch(minus))) / (2 * step);
                Assert.True(Math.Abs(fd - grad[e]) <= tol * Math.Max(1, Math.Abs(fd)),
                    $"{loss.Name}: d loss / d input{a}[{e}]: autograd {grad[e]:R}, finite difference {fd:R}");
            }
        }
    }

    /// <summary>Loss and gradients finite for margins of ±1000; returns the loss.</summary>
    public static double FiniteAtExtremes(IPreferenceLoss loss, LossCase c)
    {
        using var scope = NewDisposeScope();
        var batch = c.Build(c.Inputs(), requiresGrad: true, out var leaves);
        var output = loss.Compute(batch);
        output.Loss.backward();
        double value = output.Loss.item<double>();
        Assert.True(double.IsFinite(value), $"{loss.Name}: loss {value} at extreme margins");
        foreach (var leaf in leaves)
            if (leaf.grad is { } grad)
                Assert.All(grad.data<double>().ToArray(), g => Assert.True(double.IsFinite(g), $"{loss.Name}: gradient {g}"));
        Assert.All(output.Stats.Values, s => Assert.True(double.IsFinite(s.item<double>())));
        return value;
    }

    /// <summary>Checks every statistic against values computed from the given rewards.</summary>
    public static void StatsMatch(PreferenceLossOutput output, LossCase c, Func<int, double> chosenReward, Func<int, int, double> rejectedReward)
    {
        double Stat(string key) => output.Stats[key].item<double>();
        var idx = Enumerable.Range(0, c.B).ToList();
        var ks = Enumerable.Range(0, c.K).ToList();
        Close(idx.Average(chosenReward), Stat(PreferenceStatistics.RewardsChosen));
        Close(idx.Average(i => ks.Average(j => rejectedReward(i, j))), Stat(PreferenceStatistics.RewardsRejected));
        Close(idx.Average(i => chosenReward(i) - ks.Average(j => rejectedReward(i, j))), Stat(PreferenceStatistics.RewardsMargins));
        Close(idx.Average(i => ks.All(j => chosenReward(i) > rejectedReward(i, j)) ? 1.0 : 0.0), Stat(PreferenceStatistics.RewardsAccuracies));
        Close(idx.Average(i => ks.Average(j => chosenReward(i) > rejectedReward(i, j) ? 1.0 : 0.0)), Stat(PreferenceStatistics.RewardsPairwiseAccuracies));
        Close(c.Pc.Average(), Stat(PreferenceStatistics.LogpsChosen));
        Close(c.Pr.Cast<double>().Average(), Stat(PreferenceStatistics.LogpsRejected));
        Assert.All(output.Stats.Values, s => { Assert.False(s.requires_grad); Assert.Equal(0, s.dim()); });
    }
}
