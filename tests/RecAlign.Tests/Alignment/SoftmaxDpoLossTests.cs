using RecAlign.Alignment;
using static RecAlign.Tests.Alignment.LossMath;
using static TorchSharp.torch;

namespace RecAlign.Tests.Alignment;

public class SoftmaxDpoLossTests
{
    /// <summary>The paper's form, −log σ(−log Σ_k exp(β(r_k − r+))), with a max shift so ±1000 stays finite.</summary>
    private static double Expected(LossCase c, double beta) => Enumerable.Range(0, c.B).Average(i =>
    {
        var x = Enumerable.Range(0, c.K).Select(j => beta * (c.RejectedLogRatio(i, j) - c.ChosenLogRatio(i))).ToArray();
        double m = x.Max();
        double logSum = m + Math.Log(x.Sum(v => Math.Exp(v - m)));
        return -LogSigmoid(-logSum);
    });

    [Theory]
    [InlineData(1, 1.0)]
    [InlineData(3, 1.0)]
    [InlineData(3, 0.3)]
    public void MatchesHandComputedValue(int k, double beta)
    {
        var c = LossCase.Fixed(k);
        PreferenceLossAssert.Close(Expected(c, beta), PreferenceLossAssert.Value(new SoftmaxDpoLoss(beta), c.ToBatch()));
    }

    [Fact]
    public void NaiveFormulaWithoutShiftAgreesOnModerateValues()
    {
        var c = LossCase.Fixed(3);
        double naive = Enumerable.Range(0, c.B).Average(i =>
        {
            double temp = Enumerable.Range(0, c.K).Sum(j => Math.Exp(0.8 * (c.RejectedLogRatio(i, j) - c.ChosenLogRatio(i))));
            return -Math.Log(1.0 / (1.0 + Math.Exp(Math.Log(temp))));
        });
        PreferenceLossAssert.Close(naive, PreferenceLossAssert.Value(new SoftmaxDpoLoss(0.8), c.ToBatch()), 1e-10);
    }

    [Theory]
    [InlineData(0.1)]
    [InlineData(1.0)]
    public void EqualsDpoWithOneNegative(double beta)
    {
        var batch = LossCase.Fixed(1).ToBatch();
        PreferenceLossAssert.Close(PreferenceLossAssert.Value(new DpoLoss(beta), batch), PreferenceLossAssert.Value(new SoftmaxDpoLoss(beta), batch));
    }

    [Fact]
    public void MoreNegativesNeverLowerTheLoss()
    {
        // Adding a negative adds a positive term inside the log-sum: the loss grows.
        double one = PreferenceLossAssert.Value(new SoftmaxDpoLoss(1.0), LossCase.Fixed(1).ToBatch());
        double three = PreferenceLossAssert.Value(new SoftmaxDpoLoss(1.0), LossCase.Fixed(3).ToBatch());
        Assert.True(three > one);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void GradientsMatchFiniteDifferences(int k) =>
        PreferenceLossAssert.GradientsMatchFiniteDifferences(new SoftmaxDpoLoss(0.7), LossCase.Fixed(k));

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void StableAtExtremeMargins(int k)
    {
        var c = LossCase.Extreme(k);
        PreferenceLossAssert.Close(Expected(c, 1.0), PreferenceLossAssert.FiniteAtExtremes(new SoftmaxDpoLoss(1.0), c));
    }

    [Fact]
    public void StatisticsUseBetaLogRatios()
    {
        using var scope = NewDisposeScope();
        var c = LossCase.Fixed(3);
        var output = new SoftmaxDpoLoss(1.0).Compute(c.ToBatch());
        PreferenceLossAssert.StatsMatch(output, c, i => c.ChosenLogRatio(i), (i, j) => c.RejectedLogRatio(i, j));
    }
}
