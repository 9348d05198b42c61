using RecAlign.Alignment;
using static RecAlign.Tests.Alignment.LossMath;
using static TorchSharp.torch;

namespace RecAlign.Tests.Alignment;

public class AlphaDpoLossTests
{
    private static double AvgPc(LossCase c, int i) => c.Pc[i] / c.Lc[i];
    private static double AvgPr(LossCase c, int i, int j) => c.Pr[i, j] / c.Lr[i, j];
    private static double U(LossCase c, int i, int j) =>
        (AvgPc(c, i) - c.Rc[i] / c.Lc[i]) - (AvgPr(c, i, j) - c.Rr[i, j] / c.Lr[i, j]);

    private static (double Mean, double Std) Moments(LossCase c)
    {
        var u = Enumerable.Range(0, c.B).SelectMany(i => Enumerable.Range(0, c.K).Select(j => U(c, i, j))).ToArray();
        double mean = u.Average();
        double std = u.Length > 1 ? Math.Sqrt(u.Sum(x => (x - mean) * (x - mean)) / (u.Length - 1)) : 0;
        return (mean, std);
    }

    private static double Expected(LossCase c, double beta, double ratio, double alpha, double eps, double mu, double sigma) => MeanPairs(c, (i, j) =>
    {
        double margin = alpha * (U(c, i, j) - mu) / sigma + ratio;
        double z = beta * (AvgPc(c, i) - AvgPr(c, i, j) - margin);
        return -(1 - eps) * LogSigmoid(z) - eps * LogSigmoid(-z);
    });

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void MatchesHandComputedValuesOverTwoSteps(int k)
    {
        using var scope = NewDisposeScope();
        var c = LossCase.Fixed(k);
        using var loss = new AlphaDpoLoss(beta: 2.5, gammaBetaRatio: 0.6, alpha: 0.2, labelSmoothing: 0.1);
        var (batchMean, batchStd) = Moments(c);
        double mu = 0, sigma = 0;
        for (int step = 0; step < 2; step++)
        {
            mu = 0.9 * mu + 0.1 * batchMean;
            sigma = 0.9 * sigma + 0.1 * batchStd;
            var output = loss.Compute(c.ToBatch());
            PreferenceLossAssert.Close(Expected(c, 2.5, 0.6, 0.2, 0.1, mu, sigma), output.Loss.item<double>());
            PreferenceLossAssert.StatsMatch(output, c,
                i => 2.5 * (AvgPc(c, i) - 0.2 * (AvgPc(c, i) - c.Rc[i] / c.Lc[i])),
                (i, j) => 2.5 * (AvgPr(c, i, j) - 0.2 * (AvgPr(c, i, j) - c.Rr[i, j] / c.Lr[i, j])));
        }
        PreferenceLossAssert.Close(mu, loss.State.Mean);
        PreferenceLossAssert.Close(sigma, loss.State.Std);
    }

    [Fact]
    public void WithoutAlphaItIsSimPo()
    {
        var batch = LossCase.Fixed(3).ToBatch();
        using var alpha = new AlphaDpoLoss(beta: 2.0, gammaBetaRatio: 0.25, alpha: 0.0);
        PreferenceLossAssert.Close(PreferenceLossAssert.Value(new SimPoLoss(2.0, 0.5), batch), PreferenceLossAssert.Value(alpha, batch));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void GradientTreatsTheMarginAsConstant(int k)
    {
        using var scope = NewDisposeScope();
        var c = LossCase.Fixed(k);
        using var loss = new AlphaDpoLoss(beta: 2.5, gammaBetaRatio: 0.6, alpha: 0.2, labelSmoothing: 0.1);
        var batch = c.Build(c.Inputs(), requiresGrad: true, out var leaves);
        loss.Compute(batch).Loss.backward();
        var (mu, sigma) = loss.State;
        // The margin is computed once, from the unperturbed inputs, and frozen (the authors' detach()).
        var margins = new double[c.B, c.K];
        for (int i = 0; i < c.B; i++) for (int j = 0; j < c.K; j++) margins[i, j] = 0.2 * (U(c, i, j) - mu) / sigma + 0.6;
        var inputs = c.Inputs();
        double F(double[][] x) => Enumerable.Range(0, c.B).Average(i => Enumerable.Range(0, c.K).Average(j =>
        {
            double z = 2.5 * (x[0][i] / c.Lc[i] - x[1][i * c.K + j] / c.Lr[i, j] - margins[i, j]);
            return -0.9 * LogSigmoid(z) - 0.1 * LogSigmoid(-z);
        }));
        for (int a = 0; a < 4; a++)
        {
            using var g = leaves[a].grad;
            var grad = g is null ? new double[inputs[a].Length] : g.data<double>().ToArray();
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

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void StableAtExtremeMargins(int k)
    {
        using var loss = new AlphaDpoLoss(beta: 1.0);
        PreferenceLossAssert.FiniteAtExtremes(loss, LossCase.Extreme(k));
    }
}
