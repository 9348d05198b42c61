using RecAlign.Alignment;
using static RecAlign.Tests.Alignment.LossMath;
using static TorchSharp.torch;

namespace RecAlign.Tests.Alignment;

public class DrDpoLossTests
{
    private static double DpoExample(LossCase c, int i, double beta) =>
        Enumerable.Range(0, c.K).Average(j => -LogSigmoid(beta * (c.ChosenLogRatio(i) - c.RejectedLogRatio(i, j))));

    /// <summary>−β′ log((1/B) Σ exp(−ℓ_i/β′)), shifted by the smallest ℓ so extreme losses stay finite.</summary>
    private static double Expected(LossCase c, double beta, double betaPrime)
    {
        var l = Enumerable.Range(0, c.B).Select(i => DpoExample(c, i, beta)).ToArray();
        double m = l.Min();
        return m - betaPrime * Math.Log(l.Average(x => Math.Exp(-(x - m) / betaPrime)));
    }

    [Theory]
    [InlineData(1, 0.5, 1.0)]
    [InlineData(3, 0.5, 1.0)]
    [InlineData(3, 0.1, 0.3)]
    public void MatchesHandComputedValue(int k, double beta, double betaPrime)
    {
        var c = LossCase.Fixed(k);
        PreferenceLossAssert.Close(Expected(c, beta, betaPrime), PreferenceLossAssert.Value(new DrDpoLoss(new DpoLoss(beta), betaPrime), c.ToBatch()));
    }

    [Fact]
    public void LargeBetaPrimeApproachesDpoAndNeverExceedsIt()
    {
        var batch = LossCase.Fixed(3).ToBatch();
        double dpo = PreferenceLossAssert.Value(new DpoLoss(0.5), batch);
        double robust = PreferenceLossAssert.Value(new DrDpoLoss(new DpoLoss(0.5), 1.0), batch);
        double loose = PreferenceLossAssert.Value(new DrDpoLoss(new DpoLoss(0.5), 1e6), batch);
        Assert.True(robust < dpo); // Jensen: −β′ log E exp(−ℓ/β′) ≤ E ℓ
        PreferenceLossAssert.Close(dpo, loose, 1e-6);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void GradientsMatchFiniteDifferences(int k) =>
        PreferenceLossAssert.GradientsMatchFiniteDifferences(new DrDpoLoss(new DpoLoss(0.5), 0.7), LossCase.Fixed(k));

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void StableAtExtremeMargins(int k)
    {
        var c = LossCase.Extreme(k);
        PreferenceLossAssert.Close(Expected(c, 1.0, 1.0), PreferenceLossAssert.FiniteAtExtremes(new DrDpoLoss(new DpoLoss(1.0), 1.0), c));
    }

    [Fact]
    public void StatisticsAndPerExampleComeFromTheInnerLoss()
    {
        using var scope = NewDisposeScope();
        var c = LossCase.Fixed(3);
        var output = new DrDpoLoss(new DpoLoss(0.5), 1.0).Compute(c.ToBatch());
        PreferenceLossAssert.StatsMatch(output, c, i => 0.5 * c.ChosenLogRatio(i), (i, j) => 0.5 * c.RejectedLogRatio(i, j));
        var per = output.PerExample.data<double>().ToArray();
        for (int i = 0; i < c.B; i++) PreferenceLossAssert.Close(DpoExample(c, i, 0.5), per[i]);
    }
}
