using RecAlign.Alignment;
using static RecAlign.Tests.Alignment.LossMath;
using static TorchSharp.torch;

namespace RecAlign.Tests.Alignment;

public class DpoLossTests
{
    private static double Expected(LossCase c, double beta, double eps) => MeanPairs(c, (i, j) =>
    {
        double z = beta * (c.ChosenLogRatio(i) - c.RejectedLogRatio(i, j));
        return -(1 - eps) * LogSigmoid(z) - eps * LogSigmoid(-z);
    });

    [Theory]
    [InlineData(1, 0.5, 0.0)]
    [InlineData(3, 0.5, 0.0)]
    [InlineData(1, 0.1, 0.2)]
    [InlineData(3, 0.7, 0.1)]
    public void MatchesHandComputedValue(int k, double beta, double eps)
    {
        var c = LossCase.Fixed(k);
        PreferenceLossAssert.Close(Expected(c, beta, eps), PreferenceLossAssert.Value(new DpoLoss(beta, eps), c.ToBatch()));
    }

    [Fact]
    public void SinglePairWorkedExample()
    {
        // h = (−12 + 13) − (−14 + 13.5) = 1.5; β = 0.5 → −log σ(0.75) = log(1 + e^−0.75) ≈ 0.3856...
        var c = LossCase.Fixed(1) with { Pc = [-12.0], Rc = [-13.0], Lc = [4] };
        c = c with { Pr = new[,] { { -14.0 } }, Rr = new[,] { { -13.5 } }, Lr = new double[,] { { 5 } } };
        PreferenceLossAssert.Close(Math.Log(1 + Math.Exp(-0.75)), PreferenceLossAssert.Value(new DpoLoss(0.5), c.ToBatch()));
    }

    [Theory]
    [InlineData(1, 0.0)]
    [InlineData(3, 0.0)]
    [InlineData(3, 0.25)]
    public void GradientsMatchFiniteDifferences(int k, double eps) =>
        PreferenceLossAssert.GradientsMatchFiniteDifferences(new DpoLoss(0.5, eps), LossCase.Fixed(k));

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void StableAtExtremeMargins(int k)
    {
        var c = LossCase.Extreme(k);
        double loss = PreferenceLossAssert.FiniteAtExtremes(new DpoLoss(1.0, 0.1), c);
        PreferenceLossAssert.Close(Expected(c, 1.0, 0.1), loss);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void StatisticsAreTrlRewards(int k)
    {
        using var scope = NewDisposeScope();
        var c = LossCase.Fixed(k);
        var output = new DpoLoss(0.5).Compute(c.ToBatch());
        PreferenceLossAssert.StatsMatch(output, c, i => 0.5 * c.ChosenLogRatio(i), (i, j) => 0.5 * c.RejectedLogRatio(i, j));
        Assert.Equal([c.B], output.PerExample.shape);
        PreferenceLossAssert.Close(output.PerExample.mean().item<double>(), output.Loss.item<double>());
    }

    [Fact]
    public void RejectsLabelSmoothingAboveHalf() =>
        Assert.Contains("label_smoothing", Assert.Throws<ArgumentOutOfRangeException>(() => new DpoLoss(0.1, 0.6)).Message);
}
