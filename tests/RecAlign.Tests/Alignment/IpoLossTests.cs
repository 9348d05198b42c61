using RecAlign.Alignment;
using static RecAlign.Tests.Alignment.LossMath;
using static TorchSharp.torch;

namespace RecAlign.Tests.Alignment;

public class IpoLossTests
{
    private static double Expected(LossCase c, double beta) => MeanPairs(c, (i, j) =>
    {
        double h = c.ChosenLogRatio(i) / c.Lc[i] - c.RejectedLogRatio(i, j) / c.Lr[i, j];
        return Math.Pow(h - 1 / (2 * beta), 2);
    });

    [Theory]
    [InlineData(1, 0.1)]
    [InlineData(3, 0.1)]
    [InlineData(3, 0.5)]
    public void MatchesHandComputedValue(int k, double beta)
    {
        var c = LossCase.Fixed(k);
        PreferenceLossAssert.Close(Expected(c, beta), PreferenceLossAssert.Value(new IpoLoss(beta), c.ToBatch()));
    }

    [Fact]
    public void ZeroLengthsAreClampedToOne()
    {
        var c = LossCase.Fixed(1) with { Lc = [0, 0, 0], Lr = new double[,] { { 0 }, { 0 }, { 0 } } };
        var ones = c with { Lc = [1, 1, 1], Lr = new double[,] { { 1 }, { 1 }, { 1 } } };
        PreferenceLossAssert.Close(Expected(ones, 0.1), PreferenceLossAssert.Value(new IpoLoss(0.1), c.ToBatch()));
    }

    [Fact]
    public void RequiresLengths()
    {
        var b = LossCase.Fixed(1).ToBatch() with { ChosenLengths = null };
        Assert.Contains("ChosenLengths", Assert.Throws<ArgumentException>(() => new IpoLoss().Compute(b)).Message);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void GradientsMatchFiniteDifferences(int k) =>
        PreferenceLossAssert.GradientsMatchFiniteDifferences(new IpoLoss(0.1), LossCase.Fixed(k));

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void StableAtExtremeMargins(int k)
    {
        var c = LossCase.Extreme(k);
        PreferenceLossAssert.Close(Expected(c, 1.0), PreferenceLossAssert.FiniteAtExtremes(new IpoLoss(1.0), c));
    }

    [Fact]
    public void StatisticsUseSummedLogRatios()
    {
        using var scope = NewDisposeScope();
        var c = LossCase.Fixed(3);
        PreferenceLossAssert.StatsMatch(new IpoLoss(0.1).Compute(c.ToBatch()), c, i => 0.1 * c.ChosenLogRatio(i), (i, j) => 0.1 * c.RejectedLogRatio(i, j));
    }
}
