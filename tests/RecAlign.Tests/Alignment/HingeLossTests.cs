using RecAlign.Alignment;
using static RecAlign.Tests.Alignment.LossMath;
using static TorchSharp.torch;

namespace RecAlign.Tests.Alignment;

public class HingeLossTests
{
    private static double Expected(LossCase c, double beta) =>
        MeanPairs(c, (i, j) => Math.Max(0, 1 - beta * (c.ChosenLogRatio(i) - c.RejectedLogRatio(i, j))));

    [Theory]
    [InlineData(1, 0.5)]
    [InlineData(3, 0.5)]
    [InlineData(3, 0.1)]
    public void MatchesHandComputedValue(int k, double beta)
    {
        var c = LossCase.Fixed(k);
        PreferenceLossAssert.Close(Expected(c, beta), PreferenceLossAssert.Value(new HingeLoss(beta), c.ToBatch()));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void GradientsMatchFiniteDifferences(int k) =>
        // β = 0.5 keeps every β·h off the kink at 1 (the fixed batch has β·h ∈ {0.75, 0.25, 1.5, −1.75, ...}).
        PreferenceLossAssert.GradientsMatchFiniteDifferences(new HingeLoss(0.5), LossCase.Fixed(k));

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void StableAtExtremeMargins(int k)
    {
        var c = LossCase.Extreme(k);
        PreferenceLossAssert.Close(Expected(c, 1.0), PreferenceLossAssert.FiniteAtExtremes(new HingeLoss(1.0), c));
    }

    [Fact]
    public void Statistics()
    {
        using var scope = NewDisposeScope();
        var c = LossCase.Fixed(3);
        PreferenceLossAssert.StatsMatch(new HingeLoss(0.5).Compute(c.ToBatch()), c, i => 0.5 * c.ChosenLogRatio(i), (i, j) => 0.5 * c.RejectedLogRatio(i, j));
    }
}
