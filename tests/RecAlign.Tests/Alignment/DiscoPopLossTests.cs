using RecAlign.Alignment;
using static RecAlign.Tests.Alignment.LossMath;
using static TorchSharp.torch;

namespace RecAlign.Tests.Alignment;

public class DiscoPopLossTests
{
    private static double Expected(LossCase c, double beta, double tau) => MeanPairs(c, (i, j) =>
    {
        double z = beta * (c.ChosenLogRatio(i) - c.RejectedLogRatio(i, j));
        double m = 1 / (1 + Math.Exp(-z / tau));
        return (1 - m) * -LogSigmoid(z) + m * Math.Exp(-z);
    });

    [Theory]
    [InlineData(1, 0.5, 0.05)]
    [InlineData(3, 0.5, 0.05)]
    [InlineData(3, 0.1, 0.05)]
    [InlineData(3, 0.5, 2.0)]
    public void MatchesHandComputedValue(int k, double beta, double tau)
    {
        var c = LossCase.Fixed(k);
        PreferenceLossAssert.Close(Expected(c, beta, tau), PreferenceLossAssert.Value(new DiscoPopLoss(beta, tau), c.ToBatch()));
    }

    [Fact]
    public void SinglePairWorkedExample()
    {
        // z = βh = 0.75, τ = 0.05: m = σ(15) = 1 − 3.059e−7, so the loss is almost the exponential part:
        // e^−0.75 − 3.059e−7·(e^−0.75 − (−log σ(0.75))) = 0.47236655 − 3.059e−7·(0.47236655 − 0.38687147) = 0.47236653.
        PreferenceLossAssert.Close(0.47236653, PreferenceLossAssert.Value(new DiscoPopLoss(0.5), LossCase.WorkedPair().ToBatch()), 1e-7);
    }

    [Fact]
    public void IsTheLogisticLossWhereThePolicyIsWrong()
    {
        // z = −0.75: m = σ(−15) ≈ 3.1e−7, so L ≈ −log σ(−0.75) = log(1 + e^0.75) = 1.1368715.
        var c = LossCase.Pairs([-13.0], [-12.5], [-12.0], [-13.0]); // h+ = −1, h− = 0.5, h = −1.5
        PreferenceLossAssert.Close(1.1368715, PreferenceLossAssert.Value(new DiscoPopLoss(0.5), c.ToBatch()), 1e-6);
    }

    [Theory]
    [InlineData(1, 0.05)]
    [InlineData(3, 0.05)]
    [InlineData(3, 0.5)]
    public void GradientsMatchFiniteDifferences(int k, double tau) =>
        PreferenceLossAssert.GradientsMatchFiniteDifferences(new DiscoPopLoss(0.5, tau), LossCase.Fixed(k));

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void StableAtExtremeMargins(int k)
    {
        // At z = −1000 the formula as written gives σ(−20000)·e^1000 = 0·∞; the loss is then the logistic part, 1000.
        var c = LossCase.Extreme(k);
        double expected = MeanPairs(c, (i, j) => -LogSigmoid(c.ChosenLogRatio(i) - c.RejectedLogRatio(i, j)));
        PreferenceLossAssert.Close(expected, PreferenceLossAssert.FiniteAtExtremes(new DiscoPopLoss(1.0), c));
    }

    [Fact]
    public void Statistics()
    {
        using var scope = NewDisposeScope();
        var c = LossCase.Fixed(3);
        PreferenceLossAssert.StatsMatch(new DiscoPopLoss(0.5).Compute(c.ToBatch()), c, i => 0.5 * c.ChosenLogRatio(i), (i, j) => 0.5 * c.RejectedLogRatio(i, j));
    }

    [Fact]
    public void RejectsNonPositiveTau() =>
        Assert.Contains("discopop_tau", Assert.Throws<ArgumentOutOfRangeException>(() => new DiscoPopLoss(0.1, 0)).Message);
}
