using RecAlign.Alignment;
using static RecAlign.Tests.Alignment.LossMath;
using static TorchSharp.torch;

namespace RecAlign.Tests.Alignment;

public class NcaPairLossTests
{
    private static double Expected(LossCase c, double beta) => MeanPairs(c, (i, j) =>
    {
        double chosen = beta * c.ChosenLogRatio(i), rejected = beta * c.RejectedLogRatio(i, j);
        return -LogSigmoid(chosen) - 0.5 * LogSigmoid(-chosen) - 0.5 * LogSigmoid(-rejected);
    });

    [Theory]
    [InlineData(1, 0.5)]
    [InlineData(3, 0.5)]
    [InlineData(3, 0.1)]
    public void MatchesHandComputedValue(int k, double beta)
    {
        var c = LossCase.Fixed(k);
        PreferenceLossAssert.Close(Expected(c, beta), PreferenceLossAssert.Value(new NcaPairLoss(beta), c.ToBatch()));
    }

    [Fact]
    public void SinglePairWorkedExample()
    {
        // β = 0.5: r+ = 0.5, r− = −0.25. −log σ(0.5) = 0.4740770, −½ log σ(−0.5) = ½·0.9740770 = 0.4870385,
        // −½ log σ(0.25) = ½·0.5759394 = 0.2879697; sum 1.2490852.
        PreferenceLossAssert.Close(1.2490852, PreferenceLossAssert.Value(new NcaPairLoss(0.5), LossCase.WorkedPair().ToBatch()), 1e-7);
    }

    [Fact]
    public void KNegativesAverageTheRejectedTermOnly()
    {
        // The chosen terms count once per example; only −½ log σ(−r−) is averaged over the K negatives.
        var c = LossCase.Fixed(3);
        double expected = Enumerable.Range(0, c.B).Average(i =>
        {
            double chosen = 0.5 * c.ChosenLogRatio(i);
            return -LogSigmoid(chosen) - 0.5 * LogSigmoid(-chosen) - 0.5 * Enumerable.Range(0, 3).Average(j => LogSigmoid(-0.5 * c.RejectedLogRatio(i, j)));
        });
        PreferenceLossAssert.Close(expected, PreferenceLossAssert.Value(new NcaPairLoss(0.5), c.ToBatch()));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void GradientsMatchFiniteDifferences(int k) =>
        PreferenceLossAssert.GradientsMatchFiniteDifferences(new NcaPairLoss(0.5), LossCase.Fixed(k));

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void StableAtExtremeMargins(int k)
    {
        var c = LossCase.Extreme(k);
        PreferenceLossAssert.Close(Expected(c, 1.0), PreferenceLossAssert.FiniteAtExtremes(new NcaPairLoss(1.0), c));
    }

    [Fact]
    public void Statistics()
    {
        using var scope = NewDisposeScope();
        var c = LossCase.Fixed(3);
        PreferenceLossAssert.StatsMatch(new NcaPairLoss(0.5).Compute(c.ToBatch()), c, i => 0.5 * c.ChosenLogRatio(i), (i, j) => 0.5 * c.RejectedLogRatio(i, j));
    }
}
