using RecAlign.Alignment;
using static RecAlign.Tests.Alignment.LossMath;
using static TorchSharp.torch;

namespace RecAlign.Tests.Alignment;

public class RobustDpoLossTests
{
    private static double Expected(LossCase c, double beta, double eps) => MeanPairs(c, (i, j) =>
    {
        double z = beta * (c.ChosenLogRatio(i) - c.RejectedLogRatio(i, j));
        return ((1 - eps) * -LogSigmoid(z) - eps * -LogSigmoid(-z)) / (1 - 2 * eps);
    });

    [Theory]
    [InlineData(1, 0.5, 0.1)]
    [InlineData(3, 0.5, 0.1)]
    [InlineData(3, 0.2, 0.3)]
    public void MatchesHandComputedValue(int k, double beta, double eps)
    {
        var c = LossCase.Fixed(k);
        PreferenceLossAssert.Close(Expected(c, beta, eps), PreferenceLossAssert.Value(new RobustDpoLoss(beta, eps), c.ToBatch()));
    }

    [Fact]
    public void WithoutNoiseEqualsDpo()
    {
        var batch = LossCase.Fixed(3).ToBatch();
        PreferenceLossAssert.Close(PreferenceLossAssert.Value(new DpoLoss(0.5), batch), PreferenceLossAssert.Value(new RobustDpoLoss(0.5, 0.0), batch));
    }

    [Fact]
    public void RejectsFlipProbabilityOfOneHalf() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new RobustDpoLoss(0.1, 0.5));

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void GradientsMatchFiniteDifferences(int k) =>
        PreferenceLossAssert.GradientsMatchFiniteDifferences(new RobustDpoLoss(0.5, 0.2), LossCase.Fixed(k));

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void StableAtExtremeMargins(int k)
    {
        var c = LossCase.Extreme(k);
        PreferenceLossAssert.Close(Expected(c, 1.0, 0.1), PreferenceLossAssert.FiniteAtExtremes(new RobustDpoLoss(1.0, 0.1), c));
    }

    [Fact]
    public void Statistics()
    {
        using var scope = NewDisposeScope();
        var c = LossCase.Fixed(3);
        PreferenceLossAssert.StatsMatch(new RobustDpoLoss(0.5, 0.1).Compute(c.ToBatch()), c, i => 0.5 * c.ChosenLogRatio(i), (i, j) => 0.5 * c.RejectedLogRatio(i, j));
    }
}
