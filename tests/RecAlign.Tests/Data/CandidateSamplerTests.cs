using RecAlign.Randomness;
using RecAlign.Data;
using RecAlign.Data.Candidates;
using RecAlign.Training.Optimization;

namespace RecAlign.Tests.Data;

public class CandidateSamplerTests
{
    private static List<SequenceExample> Examples(int n, int items, int seed = 1)
    {
        var rng = new Pcg32((ulong)seed);
        return Enumerable.Range(0, n).Select(u =>
        {
            var hist = Enumerable.Range(0, 5).Select(_ => rng.NextInt(items)).Distinct().ToArray();
            int target;
            do target = rng.NextInt(items); while (hist.Contains(target));
            return new SequenceExample(u, hist, target, 1000 + u);
        }).ToList();
    }

    [Theory]
    [InlineData(NegativeSampling.Uniform)]
    [InlineData(NegativeSampling.Popularity)]
    [InlineData(NegativeSampling.Weighted)]
    public void ListsHaveOneTargetNoHistoryAndDistinctItems(NegativeSampling mode)
    {
        var ex = Examples(300, 60);
        var weights = Enumerable.Range(0, 60).Select(i => i < 10 ? 0.0 : 1.0 + i).ToArray();
        var lists = CandidateSampler.Sample(ex, new CandidateConfig { Negatives = mode, Seed = 3 }, 60,
            trainInteractions: ex.Select(e => new Interaction(e.User, e.Target, 0)), itemWeights: mode == NegativeSampling.Weighted ? weights : null);
        Assert.Equal(ex.Count, lists.Count);
        foreach (var (e, c) in ex.Zip(lists))
        {
            Assert.Equal(20, c.Candidates.Count);
            Assert.Equal(1, c.Candidates.Count(x => x == e.Target));
            Assert.Equal(20, c.Candidates.Distinct().Count());
            Assert.DoesNotContain(c.Candidates, x => e.History.Contains(x));
            Assert.Same(e.History, c.History);
        }
        if (mode == NegativeSampling.Weighted) // zero-weight items are never drawn while others remain
            Assert.DoesNotContain(lists.SelectMany(l => l.Candidates.Where(x => x != l.Target)), x => x < 10);
    }

    [Fact]
    public void DeterministicPerExampleAndIndependentOfTheTarget()
    {
        var ex = Examples(50, 200);
        var cfg = new CandidateConfig { Seed = 11 };
        var a = CandidateSampler.Sample(ex, cfg, 200);
        var b = CandidateSampler.Sample(ex.AsEnumerable().Reverse(), cfg, 200);
        b.Reverse();
        Assert.Equal(a.Select(x => x.Candidates), b.Select(x => x.Candidates)); // keyed by (user, position), not order
        var other = CandidateSampler.Sample(ex, cfg with { Seed = 12 }, 200);
        Assert.NotEqual(a.Select(x => x.Candidates.ToArray()), other.Select(x => x.Candidates.ToArray()));
        // Two examples with the same target but different users get unrelated lists.
        var same = new[] { new SequenceExample(1, [1, 2], 7, 0), new SequenceExample(2, [1, 2], 7, 0) };
        var l = CandidateSampler.Sample(same, cfg, 200);
        Assert.True(l[0].Candidates.Intersect(l[1].Candidates).Count() < 5);
    }

    [Fact]
    public void TargetPositionIsUniform()
    {
        var ex = Examples(4000, 300);
        var lists = CandidateSampler.Sample(ex, new CandidateConfig { Seed = 5 }, 300);
        var counts = new int[20];
        foreach (var l in lists) counts[l.Candidates.ToList().IndexOf(l.Target)]++;
        Assert.All(counts, c => Assert.InRange(c, 120, 280)); // expected 200
    }

    [Fact]
    public void PopularitySamplingFollowsCounts()
    {
        // item 0 is consumed 100x, items 1..99 once: item 0 should appear in most lists as a negative.
        var inter = Enumerable.Repeat(0, 100).Concat(Enumerable.Range(1, 99)).Select(i => new Interaction(0, i, 0));
        var ex = Enumerable.Range(0, 200).Select(u => new SequenceExample(u, [], 1 + u % 99, 0)).ToList();
        var lists = CandidateSampler.Sample(ex, new CandidateConfig { Negatives = NegativeSampling.Popularity, Count = 5, Seed = 1 }, 100, inter);
        int withZero = lists.Count(l => l.Candidates.Contains(0));
        Assert.True(withZero > 150, $"popular item in {withZero}/200 lists");
        var uniform = CandidateSampler.Sample(ex, new CandidateConfig { Count = 5, Seed = 1 }, 100);
        Assert.True(uniform.Count(l => l.Candidates.Contains(0)) < 30);
    }

    private sealed class FixedRetriever(int[] ranked) : ICandidateSource
    {
        public IReadOnlyList<int> Retrieve(int user, IReadOnlyList<int> history, int count) => ranked.Take(count).ToArray();
    }

    [Fact]
    public void RetrieverSuppliesHardNegativesAndIsToppedUp()
    {
        var retriever = new FixedRetriever([5, 6, 7, 8, 9]);
        var e = new SequenceExample(0, [6], 7, 0);
        var l = CandidateSampler.Sample([e], new CandidateConfig { Negatives = NegativeSampling.Retriever, Count = 8, Shuffle = false }, 50, source: retriever)[0];
        Assert.Equal([7, 5, 8, 9], l.Candidates.Take(4)); // target first, then retrieved minus history/target
        Assert.Equal(8, l.Candidates.Distinct().Count());
        Assert.DoesNotContain(6, l.Candidates);
    }

    [Fact]
    public void IncludingHistoryIsOptInAndTooSmallCatalogsFailClearly()
    {
        var e = new SequenceExample(0, Enumerable.Range(0, 8).ToArray(), 9, 0);
        var ok = CandidateSampler.Sample([e], new CandidateConfig { Count = 10, ExcludeHistory = false }, 10)[0];
        Assert.Equal(10, ok.Candidates.Distinct().Count());
        var ex = Assert.Throws<ArgumentException>(() => CandidateSampler.Sample([e], new CandidateConfig { Count = 10 }, 10));
        Assert.Contains("eligible", ex.Message);
        Assert.Throws<ArgumentException>(() => new CandidateSampler(new CandidateConfig { Negatives = NegativeSampling.Weighted }, 10));
    }

    [Fact]
    public void AliasTableMatchesWeights()
    {
        var table = new AliasTable([1.0, 0.0, 3.0, 6.0]);
        var rng = new Pcg32(9);
        var counts = new int[4];
        for (int i = 0; i < 100_000; i++) counts[table.Next(rng)]++;
        Assert.Equal(0, counts[1]);
        Assert.InRange(counts[0], 9_400, 10_600);
        Assert.InRange(counts[2], 29_000, 31_000);
        Assert.InRange(counts[3], 59_000, 61_000);
        Assert.Throws<ArgumentException>(() => new AliasTable([0.0, 0.0]));
        Assert.Throws<ArgumentException>(() => new AliasTable([1.0, double.NaN]));
    }
}
