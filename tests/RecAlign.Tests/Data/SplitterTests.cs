using RecAlign.Data;
using RecAlign.Data.Splits;

namespace RecAlign.Tests.Data;

public class SplitterTests
{
    /// <summary>u0: items 0..5 at times 10..15; u1: items 2,3 at 20,21; u2: 1,0,4,5 at 5,30,31,32.</summary>
    internal static InteractionDataset Toy()
    {
        var x = new List<Interaction>();
        for (int i = 0; i < 6; i++) x.Add(new Interaction(0, i, 10 + i));
        x.Add(new Interaction(1, 2, 20)); x.Add(new Interaction(1, 3, 21));
        x.Add(new Interaction(2, 1, 5)); x.Add(new Interaction(2, 0, 30)); x.Add(new Interaction(2, 4, 31)); x.Add(new Interaction(2, 5, 32));
        string[] genres = ["Drama", "Drama", "Comedy", "Comedy", "Horror", "Horror"];
        return new InteractionDataset("toy",
            new ItemCatalog(Enumerable.Range(0, 6).Select(i => new Item(i, $"{i}", $"Item {i}") { Genres = [genres[i]] })),
            ["a", "b", "c"], x.ToArray());
    }

    [Fact]
    public void Sequences_MatchTheDatasetsOwn()
    {
        var d = Toy();
        var fast = Splitter.Sequences(d);
        var slow = d.Sequences();
        Assert.Equal(slow.Count, fast.Count);
        for (int k = 0; k < slow.Count; k++)
        {
            Assert.Equal(slow[k].User, fast[k].User);
            Assert.Equal(slow[k].Items, fast[k].Items);
            Assert.Equal(slow[k].Timestamps, fast[k].Timestamps);
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Property_FastSequencesEqualTheDatasetsOwnUnderTies(int seed)
    {
        var d = RandomDataset(seed, 60); // shuffled rows, many equal timestamps
        var fast = Splitter.Sequences(d);
        var slow = d.Sequences();
        Assert.Equal(slow.Select(s => (s.User, string.Join(' ', s.Items), string.Join(' ', s.Timestamps))),
            fast.Select(s => (s.User, string.Join(' ', s.Items), string.Join(' ', s.Timestamps))));
    }

    [Fact]
    public void LeaveOneOut_WorkedExample()
    {
        var s = Splitter.Split(Toy(), new SplitConfig());
        // u0 (6 items): train targets at positions 1..3, validation 4, test 5; u1 (2 items): train only (target 3);
        // u2 (4 items): train position 1, validation 2, test 3
        Assert.Equal(new[] { (0, 1), (0, 2), (0, 3), (1, 3), (2, 0) }, s.Train.Select(e => (e.User, e.Target)));
        Assert.Equal(new[] { (0, 4), (2, 4) }, s.Validation.Select(e => (e.User, e.Target)));
        Assert.Equal(new[] { (0, 5), (2, 5) }, s.Test.Select(e => (e.User, e.Target)));
        Assert.Equal(new[] { 0, 1, 2, 3, 4 }, s.Test[0].History);
        Assert.Equal(15, s.Test[0].TargetTimestamp);
    }

    [Fact]
    public void MaxHistoryLength_KeepsTheLatestItems()
    {
        var s = Splitter.Split(Toy(), new SplitConfig { MaxHistoryLength = 2 });
        Assert.Equal(new[] { 3, 4 }, s.Test[0].History);
        Assert.All(s.Train, e => Assert.True(e.History.Count <= 2));
    }

    [Fact]
    public void TrainAllPrefixesFalse_KeepsLastTrainingPrefix()
    {
        var s = Splitter.Split(Toy(), new SplitConfig { TrainAllPrefixes = false });
        Assert.Equal(new[] { (0, 3), (1, 3), (2, 0) }, s.Train.Select(e => (e.User, e.Target)));
    }

    [Fact]
    public void Temporal_ExplicitCuts()
    {
        var cfg = new SplitConfig { Method = SplitMethod.Temporal, Temporal = new TemporalSplitConfig { TestCut = 30, ValidationCutTime = 15 } };
        var s = Splitter.Split(Toy(), cfg);
        Assert.Equal(new[] { 0, 4, 5 }, s.Test.Select(e => e.Target)); // u2's items at 30, 31, 32
        Assert.Equal(new[] { 5, 3 }, s.Validation.Select(e => e.Target)); // u0 at 15, u1 at 21
        Assert.Equal(new[] { 1, 2, 3, 4 }, s.Train.Select(e => e.Target)); // u0 at 11..14 (u2's 5 has no history)
        Assert.Equal("30", s.Details["test_cut"]);
    }

    [Fact]
    public void Temporal_LastBeforeTestValidation()
    {
        var cfg = new SplitConfig
        {
            Method = SplitMethod.Temporal,
            Temporal = new TemporalSplitConfig { TestCut = 31, Validation = ValidationCut.LastBeforeTest },
        };
        var s = Splitter.Split(Toy(), cfg);
        Assert.Equal(new[] { (0, 5), (1, 3), (2, 0) }, s.Validation.Select(e => (e.User, e.Target)));
        Assert.Equal(new[] { 4, 5 }, s.Test.Select(e => e.Target));
    }

    [Fact]
    public void UserRatio_PartitionsUsersDeterministically()
    {
        var d = RandomDataset(7, 50);
        var cfg = new SplitConfig { Method = SplitMethod.UserRatio, Seed = 3 };
        var a = Splitter.Split(d, cfg);
        var b = Splitter.Split(d, cfg);
        Assert.Equal(a.Test.Select(e => e.User), b.Test.Select(e => e.User));
        var users = new[] { a.Train, a.Validation, a.Test }.Select(l => l.Select(e => e.User).ToHashSet()).ToArray();
        Assert.Empty(users[0].Intersect(users[1]));
        Assert.Empty(users[0].Intersect(users[2]));
        Assert.Empty(users[1].Intersect(users[2]));
        Assert.InRange(users[0].Count, 36, 44);
        int prefixes = Splitter.Sequences(d).Sum(s => s.Items.Length - 1);
        Assert.Equal(prefixes, a.Train.Count + a.Validation.Count + a.Test.Count);
    }

    internal static InteractionDataset RandomDataset(int seed, int users, int items = 30)
    {
        var rng = new Random(seed);
        var x = new List<Interaction>();
        for (int u = 0; u < users; u++)
        {
            int n = rng.Next(1, 15);
            for (int k = 0; k < n; k++) x.Add(new Interaction(u, rng.Next(items), rng.Next(0, 50))); // many equal times
        }
        string[] g = ["A", "B", "C", "D"];
        return new InteractionDataset("r", new ItemCatalog(Enumerable.Range(0, items).Select(i => new Item(i, $"{i}", $"t{i}") { Genres = [g[i % 4]] })),
            Enumerable.Range(0, users).Select(u => $"u{u}").ToArray(), x.OrderBy(_ => rng.Next()).ToArray());
    }

    public static IEnumerable<object[]> Methods() => Enum.GetValues<SplitMethod>().Select(m => new object[] { m });

    [Theory]
    [MemberData(nameof(Methods))]
    public void Property_NoTestTargetPrecedesThatUsersTraining(SplitMethod method)
    {
        for (int seed = 0; seed < 5; seed++)
        {
            var s = Splitter.Split(RandomDataset(seed, 80), new SplitConfig { Method = method, Seed = seed });
            var lastTrain = s.Train.GroupBy(e => e.User).ToDictionary(g => g.Key, g => g.Max(e => e.TargetTimestamp));
            foreach (var e in s.Test)
                if (lastTrain.TryGetValue(e.User, out var t)) Assert.True(e.TargetTimestamp >= t, $"{method}: user {e.User} test at {e.TargetTimestamp} before train at {t}");
            foreach (var e in s.Train.Concat(s.Validation).Concat(s.Test)) Assert.NotEmpty(e.History);
        }
    }
}
