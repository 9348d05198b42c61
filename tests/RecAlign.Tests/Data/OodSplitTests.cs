using RecAlign.Data;
using RecAlign.Data.Splits;

namespace RecAlign.Tests.Data;

public class OodSplitTests
{
    private static IEnumerable<string> Keys(IEnumerable<SequenceExample> xs) =>
        xs.Select(e => $"{e.User}:{string.Join(' ', e.History)}>{e.Target}@{e.TargetTimestamp}");

    [Fact]
    public void TemporalShift_TrainEarlyTestLateGapExcluded()
    {
        var d = SplitterTests.Toy(); // 12 interactions at 5, 10..15, 20, 21, 30..32
        var s = Splitter.Split(d, new SplitConfig { Method = SplitMethod.TemporalShift, TemporalShift = new() { TrainEnd = 0.5, TestStart = 0.75 } });
        long trainEnd = long.Parse(s.Details["train_end"]), testStart = long.Parse(s.Details["test_start"]);
        Assert.Equal((15L, 30L), (trainEnd, testStart)); // sorted times: index 6 -> 15, index 9 -> 30
        Assert.All(s.Train, e => Assert.True(e.TargetTimestamp < trainEnd));
        Assert.All(s.Validation, e => Assert.True(e.TargetTimestamp < trainEnd));
        Assert.All(s.Test, e => Assert.True(e.TargetTimestamp >= testStart));
        Assert.Equal(new[] { (0, 4) }, s.Validation.Select(e => (e.User, e.Target)));
        Assert.Equal(new[] { 0, 4, 5 }, s.Test.Select(e => e.Target));
    }

    [Fact]
    public void PopularityShift_TailKeepsOnlyNonHeadTargets()
    {
        var d = SplitterTests.RandomDataset(11, 200, 30);
        var cfg = new SplitConfig { Method = SplitMethod.PopularityShift, PopularityShift = new() { HeadShare = 0.2 } };
        var s = Splitter.Split(d, cfg);
        var loo = Splitter.Split(d, new SplitConfig());
        var pop = OodSplits.TrainPopularity(Splitter.Sequences(d), d.Catalog.Count);
        var head = Enumerable.Range(0, 30).OrderByDescending(i => pop[i]).ThenBy(i => i).Take(6).ToHashSet();
        Assert.All(s.Test, e => Assert.DoesNotContain(e.Target, head));
        Assert.Equal(loo.Test.Count(e => !head.Contains(e.Target)), s.Test.Count);
        Assert.Equal(loo.Validation.Count, s.Validation.Count); // validation stays in-distribution
    }

    [Fact]
    public void PopularityShift_InverseResamplingFavoursRareTargets()
    {
        var d = SplitterTests.RandomDataset(12, 400, 30);
        var pop = OodSplits.TrainPopularity(Splitter.Sequences(d), d.Catalog.Count);
        var cfg = new SplitConfig { Method = SplitMethod.PopularityShift, PopularityShift = new() { Mode = PopularityShiftMode.InversePopularity, Alpha = 2, TestFraction = 0.3 } };
        var s = Splitter.Split(d, cfg);
        var loo = Splitter.Split(d, new SplitConfig());
        Assert.Equal((int)Math.Round(loo.Test.Count * 0.3), s.Test.Count);
        Assert.True(s.Test.Average(e => pop[e.Target]) < loo.Test.Average(e => pop[e.Target]));
        Assert.Equal(Keys(s.Test), Keys(Splitter.Split(d, cfg).Test)); // seeded
    }

    [Fact]
    public void AttributeShift_HeldOutGenresOnlyInTest()
    {
        var s = Splitter.Split(SplitterTests.Toy(), new SplitConfig { Method = SplitMethod.AttributeShift, AttributeShift = new() { TestGenres = ["Horror"] } });
        // Horror = items 4, 5. u0: test is item 5 (last Horror target), val item 3, train 1..2 (item 4 dropped: Horror)
        Assert.Equal(new[] { (0, 5), (2, 5) }, s.Test.Select(e => (e.User, e.Target)));
        Assert.Equal(new[] { (0, 3), (1, 3), (2, 0) }, s.Validation.Select(e => (e.User, e.Target)));
        Assert.Equal(new[] { (0, 1), (0, 2) }, s.Train.Select(e => (e.User, e.Target)));
        Assert.Equal("Horror", s.Details["test_genres"]);
    }

    [Fact]
    public void AttributeShift_AutoPickIsSeededAndRejectsUnknownGenres()
    {
        var d = SplitterTests.RandomDataset(5, 100);
        var cfg = new SplitConfig { Method = SplitMethod.AttributeShift, Seed = 9 };
        Assert.Equal(Splitter.Split(d, cfg).Details["test_genres"], Splitter.Split(d, cfg).Details["test_genres"]);
        var held = Splitter.Split(d, cfg).Details["test_genres"].Split('|').ToHashSet();
        Assert.All(Splitter.Split(d, cfg).Train, e => Assert.DoesNotContain(d.Catalog[e.Target].Genres[0], held));
        Assert.Throws<ArgumentException>(() => Splitter.Split(d, cfg with { AttributeShift = new() { TestGenres = ["Opera"] } }));
    }

    [Fact]
    public void ExposureShift_WeightsFollowThePolicies()
    {
        var d = SplitterTests.RandomDataset(3, 100);
        var s = Splitter.Split(d, new SplitConfig { Method = SplitMethod.ExposureShift });
        var pop = OodSplits.TrainPopularity(Splitter.Sequences(d), d.Catalog.Count);
        Assert.NotNull(s.Exposure);
        Assert.Equal(1.0, s.Exposure!.Train.Sum(), 9);
        Assert.Equal(1.0, s.Exposure.Test.Sum(), 9);
        Assert.All(s.Exposure.Test, w => Assert.Equal(1.0 / d.Catalog.Count, w, 12));
        int most = Array.IndexOf(pop, pop.Max()), least = Array.IndexOf(pop, pop.Min());
        Assert.True(s.Exposure.Train[most] > s.Exposure.Train[least]);
        Assert.Equal((pop[most] + 1.0) / (pop[least] + 1.0), s.Exposure.Train[most] / s.Exposure.Train[least], 9);
        Assert.Equal(Keys(Splitter.Split(d, new SplitConfig()).Test), Keys(s.Test));
    }

    [Fact]
    public void Configs_LoadThroughConfigLoaderWithOverrides()
    {
        var c = RecAlign.Configuration.ConfigLoader.Load(new SplitConfig(), null,
            ["method=popularity_shift", "popularity_shift.head_share=0.1", "max_history_length=10"]);
        Assert.Equal(SplitMethod.PopularityShift, c.Method);
        Assert.Equal(0.1, c.PopularityShift.HeadShare);
        Assert.Equal(10, c.MaxHistoryLength);
        var p = RecAlign.Configuration.ConfigLoader.Load(new RecAlign.Data.Preprocessing.PreprocessConfig(), null, ["user_core=5", "min_rating=4", "duplicates=keep_last"]);
        Assert.Equal((5, 4f, RecAlign.Data.Preprocessing.DuplicatePolicy.KeepLast), (p.UserCore, p.MinRating, p.Duplicates));
    }
}
