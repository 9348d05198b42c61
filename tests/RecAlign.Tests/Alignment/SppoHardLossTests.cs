using RecAlign.Alignment;
using static RecAlign.Tests.Alignment.LossMath;
using static TorchSharp.torch;

namespace RecAlign.Tests.Alignment;

public class SppoHardLossTests
{
    private static double Expected(LossCase c, double beta) => MeanPairs(c, (i, j) =>
        Math.Pow(c.ChosenLogRatio(i) - 0.5 / beta, 2) + Math.Pow(c.RejectedLogRatio(i, j) + 0.5 / beta, 2));

    [Theory]
    [InlineData(1, 0.5)]
    [InlineData(3, 0.5)]
    [InlineData(3, 0.1)]
    public void MatchesHandComputedValue(int k, double beta)
    {
        var c = LossCase.Fixed(k);
        PreferenceLossAssert.Close(Expected(c, beta), PreferenceLossAssert.Value(new SppoHardLoss(beta), c.ToBatch()));
    }

    [Fact]
    public void SinglePairWorkedExample()
    {
        // β = 0.5 → targets ±1/(2β) = ±1: (h+ − 1)² + (h− + 1)² = (1 − 1)² + (−0.5 + 1)² = 0.25.
        PreferenceLossAssert.Close(0.25, PreferenceLossAssert.Value(new SppoHardLoss(0.5), LossCase.WorkedPair().ToBatch()));
    }

    [Fact]
    public void UsesSummedNotLengthAveragedLogRatios()
    {
        // TRL's sppo_hard squares the summed log-ratios: the response lengths (4 and 5 tokens here) change nothing.
        var c = LossCase.WorkedPair() with { Lc = [4], Lr = new double[,] { { 5 } } };
        PreferenceLossAssert.Close(0.25, PreferenceLossAssert.Value(new SppoHardLoss(0.5), c.ToBatch()));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void GradientsMatchFiniteDifferences(int k) =>
        PreferenceLossAssert.GradientsMatchFiniteDifferences(new SppoHardLoss(0.5), LossCase.Fixed(k));

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void StableAtExtremeMargins(int k)
    {
        var c = LossCase.Extreme(k);
        PreferenceLossAssert.Close(Expected(c, 1.0), PreferenceLossAssert.FiniteAtExtremes(new SppoHardLoss(1.0), c));
    }

    [Fact]
    public void Statistics()
    {
        using var scope = NewDisposeScope();
        var c = LossCase.Fixed(3);
        PreferenceLossAssert.StatsMatch(new SppoHardLoss(0.5).Compute(c.ToBatch()), c, i => 0.5 * c.ChosenLogRatio(i), (i, j) => 0.5 * c.RejectedLogRatio(i, j));
    }
}
