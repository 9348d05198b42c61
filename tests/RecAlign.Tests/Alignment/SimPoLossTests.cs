using RecAlign.Alignment;
using static RecAlign.Tests.Alignment.LossMath;
using static TorchSharp.torch;

namespace RecAlign.Tests.Alignment;

public class SimPoLossTests
{
    private static double Expected(LossCase c, double beta, double gamma, double eps) => MeanPairs(c, (i, j) =>
    {
        double z = beta / c.Lc[i] * c.Pc[i] - beta / c.Lr[i, j] * c.Pr[i, j] - gamma;
        return -(1 - eps) * LogSigmoid(z) - eps * LogSigmoid(-z);
    });

    [Theory]
    [InlineData(1, 2.0, 0.5, 0.0)]
    [InlineData(3, 2.0, 0.5, 0.0)]
    [InlineData(3, 2.5, 1.4, 0.1)]
    public void MatchesHandComputedValue(int k, double beta, double gamma, double eps)
    {
        var c = LossCase.Fixed(k);
        PreferenceLossAssert.Close(Expected(c, beta, gamma, eps), PreferenceLossAssert.Value(new SimPoLoss(beta, gamma, eps), c.ToBatch()));
    }

    [Fact]
    public void IgnoresAndDoesNotNeedTheReference()
    {
        var loss = new SimPoLoss();
        Assert.False(loss.RequiresReference);
        var c = LossCase.Fixed(3);
        var withRef = c.ToBatch();
        var noRef = withRef with { RefChosen = null, RefRejected = null };
        PreferenceLossAssert.Close(PreferenceLossAssert.Value(loss, withRef), PreferenceLossAssert.Value(loss, noRef));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void GradientsMatchFiniteDifferences(int k) =>
        PreferenceLossAssert.GradientsMatchFiniteDifferences(new SimPoLoss(2.0, 0.5, 0.1), LossCase.Fixed(k));

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void StableAtExtremeMargins(int k)
    {
        var c = LossCase.Extreme(k);
        PreferenceLossAssert.Close(Expected(c, 1.0, 0.5, 0.0), PreferenceLossAssert.FiniteAtExtremes(new SimPoLoss(1.0, 0.5), c));
    }

    [Fact]
    public void StatisticsUseLengthNormalisedPolicyRewards()
    {
        using var scope = NewDisposeScope();
        var c = LossCase.Fixed(3);
        PreferenceLossAssert.StatsMatch(new SimPoLoss(2.0).Compute(c.ToBatch()), c, i => 2.0 * c.Pc[i] / c.Lc[i], (i, j) => 2.0 * c.Pr[i, j] / c.Lr[i, j]);
    }
}
