using RecAlign.Alignment;
using static RecAlign.Tests.Alignment.LossMath;
using static TorchSharp.torch;

namespace RecAlign.Tests.Alignment;

public class RpoLossTests
{
    /// <summary>S-DPO per example plus α times the batch's token-mean chosen NLL, by hand.</summary>
    private static double Expected(LossCase c, double beta, double alpha)
    {
        double sdpo = Enumerable.Range(0, c.B).Average(i =>
        {
            var z = Enumerable.Range(0, c.K).Select(j => beta * (c.RejectedLogRatio(i, j) - c.ChosenLogRatio(i))).ToArray();
            double m = z.Max();
            double lse = m + Math.Log(z.Sum(x => Math.Exp(x - m)));
            return -LogSigmoid(-lse);
        });
        double nll = -c.Pc.Sum() / c.Lc.Sum();
        return sdpo + alpha * nll;
    }

    [Theory]
    [InlineData(1, 1.0, 1.0)]
    [InlineData(3, 1.0, 0.5)]
    [InlineData(3, 0.1, 2.0)]
    public void MatchesHandComputedValue(int k, double beta, double alpha)
    {
        var c = LossCase.Fixed(k);
        PreferenceLossAssert.Close(Expected(c, beta, alpha), PreferenceLossAssert.Value(new RpoLoss(new SoftmaxDpoLoss(beta), alpha), c.ToBatch()));
    }

    [Fact]
    public void HandWorkedNllTerm()
    {
        // chosen log-probs −12, −20.5, −7.25 over 4 + 9 + 3 tokens: NLL = 39.75 / 16 = 2.484375.
        var c = LossCase.Fixed(1);
        double dpo = PreferenceLossAssert.Value(new DpoLoss(1.0), c.ToBatch());
        double rpo = PreferenceLossAssert.Value(new RpoLoss(new DpoLoss(1.0), 0.5), c.ToBatch());
        PreferenceLossAssert.Close(0.5 * 2.484375, rpo - dpo, 1e-12);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void GradientsMatchFiniteDifferences(int k) =>
        PreferenceLossAssert.GradientsMatchFiniteDifferences(new RpoLoss(new SoftmaxDpoLoss(0.5), 0.7), LossCase.Fixed(k));

    [Fact]
    public void PerExampleAveragesToTheLossAndStatsAddTheNll()
    {
        using var scope = NewDisposeScope();
        var c = LossCase.Fixed(3);
        var output = new RpoLoss(new DpoLoss(0.5), 1.0).Compute(c.ToBatch());
        PreferenceLossAssert.Close(output.Loss.item<double>(), output.PerExample.mean().item<double>());
        PreferenceLossAssert.Close(2.484375, output.Stats[RpoLoss.NllLoss].item<double>());
        PreferenceLossAssert.StatsMatch(output, c, i => 0.5 * c.ChosenLogRatio(i), (i, j) => 0.5 * c.RejectedLogRatio(i, j));
    }

    [Fact]
    public void ConfigWrapsAnyLossAndRejectsBadAlpha()
    {
        var loss = PreferenceLosses.Create(new PreferenceLossConfig { LossType = "sdpo", RpoAlpha = 1.0 });
        var rpo = Assert.IsType<RpoLoss>(loss);
        Assert.IsType<SoftmaxDpoLoss>(rpo.Inner);
        Assert.IsType<DpoLoss>(PreferenceLosses.Create(new PreferenceLossConfig { LossType = "dpo" }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new RpoLoss(new DpoLoss(0.1), 0));
    }
}
