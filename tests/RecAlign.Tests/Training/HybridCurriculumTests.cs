using RecAlign.Training;

namespace RecAlign.Tests.Training;

public class HybridCurriculumTests
{
    private static bool[] Decisions(HybridCurriculum c, int n) => Enumerable.Range(0, n).Select(_ => c.Next()).ToArray();

    [Fact]
    public void TheCurriculumRisesLinearlyOverTheWholeRun_DecidedFromSeedAndBatch()
    {
        var c = new HybridCurriculum(HybridSchedule.Curriculum, totalBatches: 4000, seed: 7);
        Assert.Equal((0.0, 0.25, 1.0, 1.0), (c.Probability(0), c.Probability(1000), c.Probability(4000), c.Probability(9000)));
        var d = Decisions(c, 4000);
        // E[share of hybrid batches in [a, b)] = mean of τ/T there: 1/4 over the first half, 3/4 over the second (SE 0.01).
        Assert.InRange(d.Take(2000).Count(x => x) / 2000.0, 0.22, 0.28);
        Assert.InRange(d.Skip(2000).Count(x => x) / 2000.0, 0.72, 0.78);
        Assert.False(d[0]);
        // A resumed run restores the batch count and decides the same.
        var resumed = new HybridCurriculum(HybridSchedule.Curriculum, 4000, 7) { Batches = 1234 };
        Assert.Equal(d.Skip(1234).Take(500), Decisions(resumed, 500));
        Assert.NotEqual(d, Decisions(new HybridCurriculum(HybridSchedule.Curriculum, 4000, 8), 4000));
    }

    [Fact]
    public void DirectIsAlwaysHybrid_TwoStageSwitchesHalfway()
    {
        Assert.All(Decisions(new HybridCurriculum(HybridSchedule.Direct, 10, 1), 10), Assert.True);
        var two = Decisions(new HybridCurriculum(HybridSchedule.TwoStage, 10, 1), 10);
        Assert.Equal([false, false, false, false, false, true, true, true, true, true], two);
        Assert.Throws<ArgumentOutOfRangeException>(() => new HybridCurriculum(HybridSchedule.Curriculum, 0, 1));
    }
}
