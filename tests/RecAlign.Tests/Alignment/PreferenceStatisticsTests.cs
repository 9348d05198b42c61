using RecAlign.Alignment;
using static TorchSharp.torch;

namespace RecAlign.Tests.Alignment;

public class PreferenceStatisticsTests
{
    [Fact]
    public void AccuraciesDistinguishBeatingEveryNegativeFromPairwiseWins()
    {
        using var scope = NewDisposeScope();
        // Example 0 beats all three negatives, example 1 two of three, example 2 none; ties do not count as wins.
        var chosen = tensor(new[] { 1.0, 0.0, -1.0 });
        var rejected = tensor(new[,] { { 0.0, -1.0, 0.5 }, { -1.0, 2.0, -0.5 }, { -1.0, 0.0, 3.0 } });
        var stats = PreferenceStatistics.Compute(chosen, rejected, chosen * 10, rejected * 10);
        Assert.Equal(1.0 / 3, stats[PreferenceStatistics.RewardsAccuracies].item<double>(), 12);
        Assert.Equal(5.0 / 9, stats[PreferenceStatistics.RewardsPairwiseAccuracies].item<double>(), 12);
        Assert.Equal(0.0, stats[PreferenceStatistics.RewardsChosen].item<double>(), 12);
        Assert.Equal(2.0 / 9, stats[PreferenceStatistics.RewardsRejected].item<double>(), 12);
        Assert.Equal(-2.0 / 9, stats[PreferenceStatistics.RewardsMargins].item<double>(), 12);
        Assert.Equal(0.0, stats[PreferenceStatistics.LogpsChosen].item<double>(), 12);
        Assert.Equal(20.0 / 9, stats[PreferenceStatistics.LogpsRejected].item<double>(), 12);
    }

    [Fact]
    public void SingleNegativeAccuracyIsTrlsStrictComparison()
    {
        using var scope = NewDisposeScope();
        var chosen = tensor(new[] { 1.0, 0.5, -2.0, 0.0 });
        var rejected = tensor(new[] { 0.0, 0.5, -3.0, 1.0 }).unsqueeze(1);
        var stats = PreferenceStatistics.Compute(chosen, rejected, chosen, rejected);
        Assert.Equal(0.5, stats[PreferenceStatistics.RewardsAccuracies].item<double>(), 12);
        Assert.Equal(0.5, stats[PreferenceStatistics.RewardsPairwiseAccuracies].item<double>(), 12);
        Assert.Equal(0.25, stats[PreferenceStatistics.RewardsMargins].item<double>(), 12);
    }

    [Fact]
    public void StatisticsAreDetachedFromTheGraph()
    {
        using var scope = NewDisposeScope();
        var chosen = tensor(new[] { 1.0, 2.0 }, requires_grad: true);
        var rejected = tensor(new[,] { { 0.0 }, { 3.0 } }, requires_grad: true);
        var stats = PreferenceStatistics.Compute(chosen * 2, rejected * 2, chosen, rejected);
        Assert.All(stats.Values, s => Assert.False(s.requires_grad));
    }

    [Fact]
    public void Fp32InputsGiveFp32LossAndStats()
    {
        using var scope = NewDisposeScope();
        var batch = LossCase.Fixed(3).ToBatch();
        var bf16 = new PreferenceBatchLogps(batch.PolicyChosen.to(ScalarType.BFloat16), batch.PolicyRejected.to(ScalarType.BFloat16),
            batch.RefChosen!.to(ScalarType.Float32), batch.RefRejected!.to(ScalarType.Float32));
        var output = new DpoLoss().Compute(bf16);
        Assert.Equal(ScalarType.Float32, output.Loss.dtype);
        Assert.All(output.Stats.Values, s => Assert.Equal(ScalarType.Float32, s.dtype));
    }
}
