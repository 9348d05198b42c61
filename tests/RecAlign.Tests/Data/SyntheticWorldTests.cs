using RecAlign.Data;
using RecAlign.Data.Candidates;
using RecAlign.Data.Synthetic;
using Xunit.Abstractions;

namespace RecAlign.Tests.Data;

public class SyntheticWorldTests(ITestOutputHelper output)
{
    private static readonly Lazy<SyntheticWorld> TinyWorld = new(() => SyntheticWorld.Generate(SyntheticConfig.Tiny));

    /// <summary>Every event with at least 3 items of history, split by period, for users with the given parity.</summary>
    internal static (List<SequenceExample> Train, List<SequenceExample> Shifted) Examples(SyntheticWorld world, int parity)
    {
        var train = new List<SequenceExample>();
        var shifted = new List<SequenceExample>();
        foreach (var s in world.Dataset.Sequences())
        {
            if (s.User % 2 != parity) continue;
            for (int k = 3; k < s.Items.Length; k++)
            {
                var e = new SequenceExample(s.User, s.Items[..k], s.Items[k], s.Timestamps[k]);
                (world.PeriodOf(e.TargetTimestamp) == SyntheticPeriod.Train ? train : shifted).Add(e);
            }
        }
        return (train, shifted);
    }

    internal static double HitRate(IEnumerable<CandidateExample> examples, Func<CandidateExample, int, double> score)
    {
        int hits = 0, n = 0;
        foreach (var e in examples)
        {
            n++;
            int best = e.Candidates.MaxBy(c => score(e, c));
            if (best == e.Target) hits++;
        }
        return (double)hits / n;
    }

    [Fact]
    public void OracleBeatsRandomAndPopularityLosesUnderShift()
    {
        var world = TinyWorld.Value;
        var (trainA, _) = Examples(world, 0);
        var (trainB, shiftedB) = Examples(world, 1);
        var counts = new double[world.Catalog.Count];
        foreach (var e in trainA) counts[e.Target]++;
        var cfg = new CandidateConfig { Seed = 7 };
        var candTrain = CandidateSampler.Sample(trainB, cfg, world.Catalog.Count);
        var candShift = CandidateSampler.Sample(shiftedB, cfg, world.Catalog.Count);
        double oracleTrain = HitRate(candTrain, (e, c) => world.Score(e.User, e.History, c, SyntheticPeriod.Train));
        double oracleShift = HitRate(candShift, (e, c) => world.Score(e.User, e.History, c, SyntheticPeriod.Shifted));
        double popTrain = HitRate(candTrain, (_, c) => counts[c]);
        double popShift = HitRate(candShift, (_, c) => counts[c]);
        output.WriteLine($"n={candTrain.Count}/{candShift.Count} oracle {oracleTrain:F3}/{oracleShift:F3} pop {popTrain:F3}/{popShift:F3}");
        Assert.True(oracleTrain > 0.3 && oracleShift > 0.3, $"oracle HR@1 {oracleTrain:F3}/{oracleShift:F3} should be far above random (0.05)");
        Assert.True(popTrain > 0.15, $"popularity HR@1 in the training period {popTrain:F3}");
        Assert.True(popShift < 0.7 * popTrain, $"popularity HR@1 should drop under shift: {popTrain:F3} -> {popShift:F3}");
    }
}

public class SyntheticDatasetTests
{
    [Fact]
    public void SameSeedSameWorld_DifferentSeedDifferentWorld()
    {
        var a = SyntheticWorld.Generate(SyntheticConfig.Tiny);
        var b = SyntheticWorld.Generate(SyntheticConfig.Tiny);
        var c = SyntheticWorld.Generate(SyntheticConfig.Tiny with { Seed = 43 });
        Assert.Equal(a.Dataset.Interactions, b.Dataset.Interactions);
        Assert.Equal(a.Catalog.Items.Select(i => i.Title), b.Catalog.Items.Select(i => i.Title));
        Assert.NotEqual(a.Dataset.Interactions, c.Dataset.Interactions);
        Assert.NotEqual(a.Catalog.Items.Select(i => i.Title), c.Catalog.Items.Select(i => i.Title));
    }

    [Fact]
    public void TinyHasTheAdvertisedShape()
    {
        var w = SyntheticWorld.Generate(SyntheticConfig.Tiny);
        var cfg = w.Config;
        Assert.Equal(cfg.Items, w.Catalog.Count);
        Assert.Equal(cfg.Users, w.Dataset.UserCount);
        var titles = w.Catalog.Items.Select(i => i.Title).ToList();
        Assert.Equal(titles.Count, titles.Distinct().Count());
        Assert.All(titles, t => Assert.InRange(t.Split(' ').Length, 2, 4));
        var words = titles.SelectMany(t => t.Split(' ')).Distinct().Count();
        Assert.InRange(words, 20, 200); // a modest vocabulary a tiny LM can learn
        Assert.All(w.Catalog.Items, i => Assert.InRange(i.Genres.Count, 1, 2));
        Assert.Contains(titles, t => t.EndsWith(" 2", StringComparison.Ordinal)); // series exist

        var seqs = w.Dataset.Sequences();
        Assert.Equal(cfg.Users, seqs.Count);
        foreach (var s in seqs)
        {
            Assert.InRange(s.Items.Length, cfg.MinSequenceLength, cfg.MaxSequenceLength);
            Assert.Equal(s.Items.Length, s.Items.Distinct().Count()); // no repeats
            for (int k = 1; k < s.Timestamps.Length; k++) Assert.True(s.Timestamps[k] > s.Timestamps[k - 1]);
            Assert.Equal(SyntheticPeriod.Shifted, w.PeriodOf(s.Timestamps[^1])); // leave-one-out tests land in the shifted period
            Assert.Equal(SyntheticPeriod.Train, w.PeriodOf(s.Timestamps[0]));
        }
    }

    [Fact]
    public void SequelsFollowTheirBaseAndScoresMatchLogits()
    {
        var w = SyntheticWorld.Generate(SyntheticConfig.Tiny);
        int sequel = Enumerable.Range(0, w.Catalog.Count).First(i => w.SequelOf(i) >= 0);
        int baseItem = w.SequelOf(sequel);
        Assert.StartsWith(w.Catalog.Title(baseItem).Split(' ')[0], w.Catalog.Title(sequel), StringComparison.Ordinal);
        Assert.Equal(w.Catalog[baseItem].Genres, w.Catalog[sequel].Genres);
        var other = Enumerable.Range(0, w.Catalog.Count).First(i => i != baseItem && i != sequel && w.SequelOf(i) < 0 && !w.FollowUps(i).Contains(sequel));
        double withBase = w.Score(0, [other, baseItem, other == 0 ? 1 : 0], sequel, SyntheticPeriod.Train);
        double without = w.Score(0, [other, other == 0 ? 1 : 0, other == 2 ? 3 : 2], sequel, SyntheticPeriod.Train);
        Assert.True(withBase > without);

        int[] history = [3, 7, 11];
        var logits = new double[w.Catalog.Count];
        w.Logits(5, history, SyntheticPeriod.Shifted, logits);
        for (int i = 0; i < logits.Length; i++)
            Assert.Equal(logits[i], w.Score(5, history, i, SyntheticPeriod.Shifted), 9);
        Assert.True(double.IsNegativeInfinity(w.Score(5, history, 7, SyntheticPeriod.Shifted)));
        Assert.Equal(1.0, w.Probabilities(5, history, SyntheticPeriod.Train).Sum(), 9);
    }

    [Fact]
    public void ExposureDiffersBetweenPeriods()
    {
        var w = SyntheticWorld.Generate(SyntheticConfig.Tiny);
        var items = Enumerable.Range(0, w.Catalog.Count);
        int promotedTrain = items.Count(i => w.IsPromoted(i, SyntheticPeriod.Train));
        int both = items.Count(i => w.IsPromoted(i, SyntheticPeriod.Train) && w.IsPromoted(i, SyntheticPeriod.Shifted));
        Assert.Equal((int)Math.Round(w.Config.PromotedFraction * w.Catalog.Count), promotedTrain);
        Assert.True(both < promotedTrain / 2, $"{both} of {promotedTrain} promoted items stay promoted after the shift");
    }

    [Fact]
    public void InvalidConfigIsRejectedWithTheFieldName()
    {
        var e = Assert.Throws<ArgumentException>(() => SyntheticWorld.Generate(SyntheticConfig.Tiny with { Genres = 11 }));
        Assert.Contains("Genres", e.Message);
        Assert.Throws<ArgumentException>(() => SyntheticConfig.Preset("huge"));
        Assert.Equal(3000, SyntheticConfig.Preset("small").Users);
    }
}

public class SyntheticSmallPresetTests
{
    [Fact]
    public void SmallPresetCatalogHasUniqueShortTitlesOverEightGenres()
    {
        // Fewer users keep the test fast; the catalog does not depend on the user count.
        var w = SyntheticWorld.Generate(SyntheticConfig.Small with { Users = 20 });
        Assert.Equal(800, w.Catalog.Count);
        var titles = w.Catalog.Items.Select(i => i.Title).ToList();
        Assert.Equal(titles.Count, titles.Distinct().Count());
        Assert.All(titles, t => Assert.InRange(t.Split(' ').Length, 2, 4));
        Assert.Equal(8, w.Catalog.Items.Select(i => i.Genres[0]).Distinct().Count());
        Assert.InRange(titles.SelectMany(t => t.Split(' ')).Distinct().Count(), 100, 260);
        var full = SyntheticWorld.Generate(SyntheticConfig.Small with { Users = 40 });
        Assert.Equal(titles, full.Catalog.Items.Select(i => i.Title));
        // A user's sequence does not depend on how many users there are.
        Assert.Equal(w.Dataset.Sequences()[3].Items, full.Dataset.Sequences()[3].Items);
    }
}
