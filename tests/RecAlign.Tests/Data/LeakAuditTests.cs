using RecAlign.Randomness;
using RecAlign.Data;
using RecAlign.Data.Audit;
using RecAlign.Data.Candidates;
using RecAlign.Data.Synthetic;
using RecAlign.Training.Optimization;
using Xunit.Abstractions;

namespace RecAlign.Tests.Data;

public class LeakAuditTests(ITestOutputHelper output)
{
    /// <summary>S-DPO's mistake, on purpose: negatives drawn from an RNG seeded with the target id.</summary>
    private static List<CandidateExample> TargetSeeded(IEnumerable<SequenceExample> examples, int items, int count = 20) =>
        examples.Select(e =>
        {
            var rng = new Pcg32((ulong)e.Target);
            var list = new List<int> { e.Target };
            while (list.Count < count)
            {
                int i = rng.NextInt(items);
                if (!list.Contains(i) && !e.History.Contains(i)) list.Add(i);
            }
            var arr = list.ToArray();
            new Pcg32((ulong)e.Target, 1).Shuffle<int>(arr);
            return new CandidateExample(e.User, e.History, e.Target, arr);
        }).ToList();

    private static (List<SequenceExample> Train, List<SequenceExample> Test) Split(SyntheticWorld w)
    {
        var train = new List<SequenceExample>();
        var test = new List<SequenceExample>();
        foreach (var s in w.Dataset.Sequences())
        {
            for (int k = 1; k < s.Items.Length - 1; k++) train.Add(new SequenceExample(s.User, s.Items[..k], s.Items[k], s.Timestamps[k]));
            test.Add(new SequenceExample(s.User, s.Items[..^1], s.Items[^1], s.Timestamps[^1]));
        }
        return (train, test);
    }

    [Fact]
    public void TargetSeededListsAreFlaggedAndOursPass()
    {
        var world = SyntheticWorld.Generate(SyntheticConfig.Tiny);
        var (train, test) = Split(world);
        int n = world.Catalog.Count;
        var leaky = LeakAudit.Run(TargetSeeded(test, n), world.Catalog, TargetSeeded(train, n));
        output.WriteLine($"leaky: lookup {leaky.LookupHr1:F3} overlap {leaky.SameAnswerOverlap:F3} repeated {leaky.RepeatedSetRate:F3}");
        Assert.False(leaky.Passed);
        Assert.True(leaky.LookupHr1 > 0.5, $"lookup HR@1 {leaky.LookupHr1:F3}");
        Assert.Contains(leaky.Failures, f => f.Contains("negatives depend on the target"));

        var ours = LeakAudit.Run(CandidateSampler.Sample(test, new CandidateConfig { Seed = 2 }, n), world.Catalog,
            CandidateSampler.Sample(train, new CandidateConfig { Seed = 1 }, n));
        output.WriteLine($"ours: lookup {ours.LookupHr1:F3} overlap {ours.SameAnswerOverlap:F3} (expected {ours.ExpectedSameAnswerOverlap:F3}) repeated {ours.RepeatedSetRate:F3}");
        Assert.True(ours.Passed, string.Join("; ", ours.Failures));
        Assert.NotNull(ours.TargetOverlap);

        var loo = LeakAudit.Run(CandidateSampler.Sample(train, new CandidateConfig { Seed = 1 }, n), world.Catalog);
        Assert.True(loo.Passed, string.Join("; ", loo.Failures));
        Assert.False(LeakAudit.Run(TargetSeeded(train, n), world.Catalog).Passed);
    }

    [Fact]
    public void PositionSkewAndMalformedListsFail()
    {
        // The answer always first: maximal position skew.
        var ex = Enumerable.Range(0, 400).Select(u => new CandidateExample(u, [], u % 50, new[] { u % 50 }.Concat(Enumerable.Range(50, 9).Select(i => (i + u) % 50 + 50)).ToArray())).ToList();
        var cat = new ItemCatalog(Enumerable.Range(0, 100).Select(i => new Item(i, i.ToString(), "t" + i)));
        var r = LeakAudit.Run(ex, cat);
        Assert.Equal(400, r.PositionCounts[0]);
        Assert.Equal(10.0, r.PositionMaxOverExpected, 9);
        Assert.Contains(r.Failures, f => f.Contains("positions are skewed"));
        var bad = ex.Select(e => e with { Candidates = e.Candidates.Skip(1).Append(e.Candidates[1]).ToArray() }).ToList();
        Assert.Contains(LeakAudit.Run(bad, cat).Failures, f => f.Contains("exactly once"));
    }

    [Fact]
    public void ChiSquareSurvivalMatchesKnownValues()
    {
        // Reference values from the chi-square distribution tables / scipy.stats.chi2.sf.
        Assert.Equal(0.05, Statistics.ChiSquareSurvival(3.841458820694124, 1), 9);
        Assert.Equal(0.05, Statistics.ChiSquareSurvival(30.14352720564616, 19), 9);
        Assert.Equal(0.01, Statistics.ChiSquareSurvival(36.19086912927004, 19), 9);
        Assert.Equal(Math.Exp(-1), Statistics.ChiSquareSurvival(2, 2), 12); // df 2: exp(-x/2)
        Assert.Equal(1.0, Statistics.ChiSquareSurvival(0, 5));
        Assert.Equal(Math.Log(24), Statistics.LogGamma(5), 12);
        Assert.Equal(0.5 * Math.Log(Math.PI), Statistics.LogGamma(0.5), 12);
    }
}
