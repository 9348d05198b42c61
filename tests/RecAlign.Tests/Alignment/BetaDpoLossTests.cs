using RecAlign.Alignment;
using static RecAlign.Tests.Alignment.LossMath;
using static TorchSharp.torch;

namespace RecAlign.Tests.Alignment;

public class BetaDpoLossTests
{
    private static double Gap(LossCase c, int i) => Enumerable.Range(0, c.K).Average(j => c.ChosenLogRatio(i) - c.RejectedLogRatio(i, j));

    private static double DpoAt(LossCase c, int i, double beta) =>
        Enumerable.Range(0, c.K).Average(j => -LogSigmoid(beta * (c.ChosenLogRatio(i) - c.RejectedLogRatio(i, j))));

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void WithoutFilteringMatchesHandComputedValuesOverTwoSteps(int k)
    {
        using var scope = NewDisposeScope();
        var c = LossCase.Fixed(k);
        using var loss = new BetaDpoLoss(beta: 0.5, alpha: 0.6, filterRatio: 0.0, momentum: 0.9);
        double mu = Enumerable.Range(0, c.B).Average(i => Gap(c, i));
        double m0 = 0;
        for (int step = 0; step < 2; step++)
        {
            m0 = 0.9 * m0 + 0.1 * mu; // updated before use, as the authors do
            double betaUsed = Math.Max(0.5 * (1 + 0.6 * (mu - m0)), 1e-3);
            var output = loss.Compute(c.ToBatch());
            PreferenceLossAssert.Close(Enumerable.Range(0, c.B).Average(i => DpoAt(c, i, betaUsed)), output.Loss.item<double>());
            PreferenceLossAssert.Close(betaUsed, output.Stats[BetaDpoLoss.BetaStat].item<double>());
            PreferenceLossAssert.Close(m0, output.Stats[BetaDpoLoss.GapMeanStat].item<double>());
            // Logged rewards use the base β, as in the authors' code.
            PreferenceLossAssert.StatsMatch(output, c, i => 0.5 * c.ChosenLogRatio(i), (i, j) => 0.5 * c.RejectedLogRatio(i, j));
        }
        Assert.Equal(2, loss.Steps);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void GradientTreatsTheAdaptiveBetaAsConstant(int k)
    {
        using var scope = NewDisposeScope();
        var c = LossCase.Fixed(k);
        using var loss = new BetaDpoLoss(beta: 0.5, alpha: 0.6, filterRatio: 0.0);
        var batch = c.Build(c.Inputs(), requiresGrad: true, out var leaves);
        var output = loss.Compute(batch);
        output.Loss.backward();
        double betaUsed = output.Stats[BetaDpoLoss.BetaStat].item<double>();
        // Central differences of the DPO loss at the frozen β (what the authors' detach() makes the gradient).
        var inputs = c.Inputs();
        double F(double[][] x)
        {
            var cc = c with { Pc = x[0], Rc = x[2], Pr = Reshape(x[1], c.B, c.K), Rr = Reshape(x[3], c.B, c.K) };
            return Enumerable.Range(0, c.B).Average(i => DpoAt(cc, i, betaUsed));
        }
        for (int a = 0; a < 4; a++)
        {
            var grad = leaves[a].grad!.data<double>().ToArray();
            for (int e = 0; e < inputs[a].Length; e++)
            {
                var plus = inputs.Select(x => (double[])x.Clone()).ToArray();
                var minus = inputs.Select(x => (double[])x.Clone()).ToArray();
                plus[a][e] += 1e-5;
                minus[a][e] -= 1e-5;
                double fd = (F(plus) - F(minus)) / 2e-5;
                Assert.True(Math.Abs(fd - grad[e]) <= 1e-7, $"input{a}[{e}]: autograd {grad[e]}, finite difference {fd}");
            }
        }
    }

    private static double[,] Reshape(double[] flat, int b, int k)
    {
        var m = new double[b, k];
        for (int i = 0; i < b; i++) for (int j = 0; j < k; j++) m[i, j] = flat[i * k + j];
        return m;
    }

    private static LossCase WithOutlier() => new(
        [0.5, -0.2, 0.1, 40.0, 0.3],
        new[,] { { 0.0 }, { 0.1 }, { -0.3 }, { -10.0 }, { 0.2 } },
        [0.0, 0.0, 0.0, 0.0, 0.0],
        new[,] { { 0.0 }, { 0.0 }, { 0.0 }, { 0.0 }, { 0.0 } },
        [1, 1, 1, 1, 1],
        new double[,] { { 1 }, { 1 }, { 1 }, { 1 }, { 1 } });

    [Fact]
    public void FilteringKeepsTheShareAndMatchesTheKeptExamples()
    {
        using var scope = NewDisposeScope();
        var c = WithOutlier();
        using var loss = new BetaDpoLoss(beta: 0.1, alpha: 0.6, filterRatio: 0.4, seed: 3);
        var output = loss.Compute(c.ToBatch());
        var per = output.PerExample.data<double>().ToArray();
        var kept = Enumerable.Range(0, c.B).Where(i => per[i] != 0).ToList();
        Assert.Equal(3, kept.Count);
        PreferenceLossAssert.Close(0.6, output.Stats[BetaDpoLoss.KeptStat].item<double>());
        double mu = Enumerable.Range(0, c.B).Average(i => Gap(c, i));
        double betaUsed = 0.1 * (1 + 0.6 * (kept.Average(i => Gap(c, i)) - 0.1 * mu));
        PreferenceLossAssert.Close(betaUsed, output.Stats[BetaDpoLoss.BetaStat].item<double>());
        PreferenceLossAssert.Close(kept.Average(i => DpoAt(c, i, betaUsed)), output.Loss.item<double>());
        PreferenceLossAssert.Close(output.PerExample.mean().item<double>(), output.Loss.item<double>());
    }

    [Fact]
    public void SelectionIsSeededAndAvoidsOutliers()
    {
        using var scope = NewDisposeScope();
        var c = WithOutlier();
        double LossWith(long seed)
        {
            using var l = new BetaDpoLoss(filterRatio: 0.2, seed: seed);
            l.RestoreState(0.0, 1.0, 0); // a settled running std, so the gap of 50 lies far out in the tail
            var output = l.Compute(c.ToBatch());
            Assert.Equal(0.0, output.PerExample.data<double>()[3]);
            return output.Loss.item<double>();
        }
        var losses = Enumerable.Range(0, 12).Select(s => LossWith(s)).ToList();
        Assert.Equal(LossWith(5), losses[5]);
    }

    [Fact]
    public void RestoredStateContinuesIdentically()
    {
        using var scope = NewDisposeScope();
        var c = LossCase.Fixed(3);
        using var a = new BetaDpoLoss(beta: 0.5, filterRatio: 0.34, seed: 9);
        a.Compute(c.ToBatch());
        var (mean, std, steps) = a.State;
        double next = a.Compute(c.ToBatch()).Loss.item<double>();
        using var b = new BetaDpoLoss(beta: 0.5, filterRatio: 0.34, seed: 9);
        b.RestoreState(mean, std, steps);
        Assert.Equal(next, b.Compute(c.ToBatch()).Loss.item<double>());
    }

    [Fact]
    public void LoggedStatisticsDoNotChangeWhenTheStateMovesOn()
    {
        using var scope = NewDisposeScope();
        var c = LossCase.Fixed(3);
        using var loss = new BetaDpoLoss(filterRatio: 0.0);
        var first = loss.Compute(c.ToBatch()).Stats;
        double mean = first[BetaDpoLoss.GapMeanStat].item<double>(), std = first[BetaDpoLoss.GapStdStat].item<double>();
        loss.Compute(c.ToBatch());
        Assert.Equal(mean, first[BetaDpoLoss.GapMeanStat].item<double>());
        Assert.Equal(std, first[BetaDpoLoss.GapStdStat].item<double>());
        Assert.NotEqual(mean, loss.State.GapMean);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void StableAtExtremeMargins(int k)
    {
        using var loss = new BetaDpoLoss(beta: 1.0, alpha: 0.6, filterRatio: 0.0);
        PreferenceLossAssert.FiniteAtExtremes(loss, LossCase.Extreme(k));
    }

    [Fact]
    public void SingleExampleBatchesWork()
    {
        using var scope = NewDisposeScope();
        using var loss = new BetaDpoLoss();
        var c = LossCase.Fixed(3);
        var one = c with { Pc = [c.Pc[0]], Rc = [c.Rc[0]], Lc = [c.Lc[0]], Pr = Reshape([c.Pr[0, 0], c.Pr[0, 1], c.Pr[0, 2]], 1, 3),
            Rr = Reshape([c.Rr[0, 0], c.Rr[0, 1], c.Rr[0, 2]], 1, 3), Lr = Reshape([1, 1, 1], 1, 3) };
        Assert.True(double.IsFinite(loss.Compute(one.ToBatch()).Loss.item<double>()));
    }
}
