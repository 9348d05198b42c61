using RecAlign.Alignment;
using static RecAlign.Tests.Alignment.LossMath;
using static TorchSharp.torch;

namespace RecAlign.Tests.Alignment;

public class ExoPairLossTests
{
    private static double Expected(LossCase c, double beta, double eps) => MeanPairs(c, (i, j) =>
    {
        double z = beta * (c.ChosenLogRatio(i) - c.RejectedLogRatio(i, j));
        double qw = 1 / (1 + Math.Exp(-z)), ql = 1 / (1 + Math.Exp(z));
        return qw * (LogSigmoid(z) - Math.Log(1 - eps)) + ql * (LogSigmoid(-z) - Math.Log(eps));
    });

    [Theory]
    [InlineData(1, 0.5, 1e-3)]
    [InlineData(3, 0.5, 1e-3)]
    [InlineData(3, 0.1, 0.2)]
    public void MatchesHandComputedValue(int k, double beta, double eps)
    {
        var c = LossCase.Fixed(k);
        PreferenceLossAssert.Close(Expected(c, beta, eps), PreferenceLossAssert.Value(new ExoPairLoss(beta, eps), c.ToBatch()));
    }

    [Fact]
    public void SinglePairWorkedExample()
    {
        // h = 1.5, β = 0.5 → z = 0.75: σ(z) = 0.6791787, log σ(z) = −0.3868715, σ(−z) = 0.3208213, log σ(−z) = −1.1368715.
        // ε = 0.1: 0.6791787·(−0.3868715 − ln 0.9) + 0.3208213·(−1.1368715 − ln 0.1)
        //        = 0.6791787·(−0.2815110) + 0.3208213·1.1657136 = −0.1911963 + 0.3739858 = 0.1827896 (0.18278998 unrounded).
        PreferenceLossAssert.Close(0.18278998, PreferenceLossAssert.Value(new ExoPairLoss(0.5, 0.1), LossCase.WorkedPair().ToBatch()), 1e-7);
    }

    [Fact]
    public void ZeroAtTheTargetPreference()
    {
        // The KL vanishes where σ(βh) = 1 − ε, i.e. βh = log((1 − ε)/ε): h+ = log 9 / β, h− = 0 for ε = 0.1.
        double h = Math.Log(9) / 0.5;
        var c = LossCase.Pairs([h], [0.0], [0.0], [0.0]);
        PreferenceLossAssert.Close(0.0, PreferenceLossAssert.Value(new ExoPairLoss(0.5, 0.1), c.ToBatch()), 1e-12);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void GradientsMatchFiniteDifferences(int k) =>
        PreferenceLossAssert.GradientsMatchFiniteDifferences(new ExoPairLoss(0.5, 0.05), LossCase.Fixed(k));

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void StableAtExtremeMargins(int k)
    {
        var c = LossCase.Extreme(k);
        PreferenceLossAssert.Close(Expected(c, 1.0, 1e-3), PreferenceLossAssert.FiniteAtExtremes(new ExoPairLoss(1.0, 1e-3), c));
    }

    [Fact]
    public void Statistics()
    {
        using var scope = NewDisposeScope();
        var c = LossCase.Fixed(3);
        PreferenceLossAssert.StatsMatch(new ExoPairLoss(0.5).Compute(c.ToBatch()), c, i => 0.5 * c.ChosenLogRatio(i), (i, j) => 0.5 * c.RejectedLogRatio(i, j));
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.6)]
    public void RejectsLabelSmoothingOutsideTheOpenRange(double eps) =>
        Assert.Contains("label_smoothing", Assert.Throws<ArgumentOutOfRangeException>(() => new ExoPairLoss(0.1, eps)).Message);
}
