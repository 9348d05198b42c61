using RecAlign.Alignment;
using static RecAlign.Tests.Alignment.LossMath;
using static TorchSharp.torch;

namespace RecAlign.Tests.Alignment;

public class ApoLossTests
{
    private static double Sigmoid(double x) => 1 / (1 + Math.Exp(-x));

    private static double Expected(LossCase c, double beta, ApoLoss.Anchor anchor) => MeanPairs(c, (i, j) =>
    {
        double chosen = beta * c.ChosenLogRatio(i), rejected = beta * c.RejectedLogRatio(i, j);
        return anchor == ApoLoss.Anchor.Zero
            ? (1 - Sigmoid(chosen)) + Sigmoid(rejected)
            : Sigmoid(chosen) + (1 - Sigmoid(chosen - rejected));
    });

    [Theory]
    [InlineData(ApoLoss.Anchor.Zero, 1, 0.5)]
    [InlineData(ApoLoss.Anchor.Zero, 3, 0.5)]
    [InlineData(ApoLoss.Anchor.Zero, 3, 0.1)]
    [InlineData(ApoLoss.Anchor.Down, 1, 0.5)]
    [InlineData(ApoLoss.Anchor.Down, 3, 0.5)]
    [InlineData(ApoLoss.Anchor.Down, 3, 0.1)]
    public void MatchesHandComputedValue(ApoLoss.Anchor anchor, int k, double beta)
    {
        var c = LossCase.Fixed(k);
        PreferenceLossAssert.Close(Expected(c, beta, anchor), PreferenceLossAssert.Value(new ApoLoss(anchor, beta), c.ToBatch()));
    }

    [Fact]
    public void SinglePairWorkedExamples()
    {
        // β = 0.5: r+ = 0.5, r− = −0.25, βh = 0.75; σ(0.5) = 0.6224593, σ(−0.25) = 0.4378235, σ(0.75) = 0.6791787.
        // APO-zero: (1 − 0.6224593) + 0.4378235 = 0.8153642.  APO-down: 0.6224593 + (1 − 0.6791787) = 0.9432806.
        var batch = LossCase.WorkedPair().ToBatch();
        PreferenceLossAssert.Close(0.8153642, PreferenceLossAssert.Value(new ApoLoss(ApoLoss.Anchor.Zero, 0.5), batch), 1e-7);
        PreferenceLossAssert.Close(0.9432806, PreferenceLossAssert.Value(new ApoLoss(ApoLoss.Anchor.Down, 0.5), batch), 1e-7);
    }

    [Fact]
    public void NamesFollowTheAnchor()
    {
        Assert.Equal("apo_zero", new ApoLoss(ApoLoss.Anchor.Zero).Name);
        Assert.Equal("apo_down", new ApoLoss(ApoLoss.Anchor.Down).Name);
    }

    [Fact]
    public void ZeroRaisesTheChosenLikelihoodAndDownLowersIt()
    {
        // The anchoring: d L / d log πθ(y+) is negative for APO-zero (gradient descent raises it) and positive for
        // APO-down at the worked pair (σ'(0.5)·0.5 = 0.1175 outweighs the margin term's −σ'(0.75)·0.5 = −0.1090).
        foreach (var (anchor, sign) in new[] { (ApoLoss.Anchor.Zero, -1), (ApoLoss.Anchor.Down, 1) })
        {
            using var scope = NewDisposeScope();
            var c = LossCase.WorkedPair();
            var batch = c.Build(c.Inputs(), requiresGrad: true, out var leaves);
            new ApoLoss(anchor, 0.5).Compute(batch).Loss.backward();
            Assert.Equal(sign, Math.Sign(leaves[0].grad!.item<double>()));
            Assert.True(leaves[1].grad!.item<double>() > 0, $"{anchor}: the rejected likelihood must go down");
        }
    }

    [Theory]
    [InlineData(ApoLoss.Anchor.Zero, 1)]
    [InlineData(ApoLoss.Anchor.Zero, 3)]
    [InlineData(ApoLoss.Anchor.Down, 1)]
    [InlineData(ApoLoss.Anchor.Down, 3)]
    public void GradientsMatchFiniteDifferences(ApoLoss.Anchor anchor, int k) =>
        PreferenceLossAssert.GradientsMatchFiniteDifferences(new ApoLoss(anchor, 0.5), LossCase.Fixed(k));

    [Theory]
    [InlineData(ApoLoss.Anchor.Zero, 1)]
    [InlineData(ApoLoss.Anchor.Down, 3)]
    public void StableAtExtremeMargins(ApoLoss.Anchor anchor, int k)
    {
        var c = LossCase.Extreme(k);
        PreferenceLossAssert.Close(Expected(c, 1.0, anchor), PreferenceLossAssert.FiniteAtExtremes(new ApoLoss(anchor, 1.0), c));
    }

    [Fact]
    public void Statistics()
    {
        using var scope = NewDisposeScope();
        var c = LossCase.Fixed(3);
        PreferenceLossAssert.StatsMatch(new ApoLoss(ApoLoss.Anchor.Down, 0.5).Compute(c.ToBatch()), c, i => 0.5 * c.ChosenLogRatio(i), (i, j) => 0.5 * c.RejectedLogRatio(i, j));
    }
}
