using RecAlign.Data;
using RecAlign.Data.Preprocessing;

namespace RecAlign.Tests.Data;

public class PreprocessorTests
{
    private static InteractionDataset Make(int users, int items, params (int U, int I, long T, float R)[] x) =>
        new("t", new ItemCatalog(Enumerable.Range(0, items).Select(i => new Item(i, $"i{i}", $"Item {i}"))),
            Enumerable.Range(0, users).Select(u => $"u{u}").ToArray(),
            x.Select(e => new Interaction(e.U, e.I, e.T, e.R)).ToArray());

    [Fact]
    public void KCore_WorkedExample_CascadesToFixedPoint()
    {
        // u0: i0 i1 i2; u1: i0 i1; u2: i2 only. With k = 2: u2 goes (1 interaction), then i2 has only u0 -> goes,
        // then u0 keeps i0 i1 (2) and u1 keeps i0 i1 (2): the 2-core is {u0,u1} x {i0,i1}.
        var d = Make(3, 4, (0, 0, 1, 5), (0, 1, 2, 5), (0, 2, 3, 5), (1, 0, 1, 5), (1, 1, 2, 5), (2, 2, 9, 5));
        var (r, report) = Preprocessor.Apply(d, PreprocessConfig.KCore(2));
        Assert.Equal(4, r.Interactions.Length);
        Assert.Equal(new[] { "u0", "u1" }, r.UserExternalIds);
        Assert.Equal(new[] { "i0", "i1" }, r.Catalog.Items.Select(i => i.ExternalId));
        Assert.Equal(2, report.KCoreRemoved);
        Assert.True(Preprocessor.IsKCore(r, 2, 2));
    }

    [Fact]
    public void Duplicates_KeepFirstLastAll()
    {
        var d = Make(1, 2, (0, 0, 10, 1), (0, 1, 5, 2), (0, 0, 3, 3), (0, 0, 3, 4));
        var first = Preprocessor.Apply(d, new PreprocessConfig { Duplicates = DuplicatePolicy.KeepFirst }).Dataset;
        // earliest (t=3), and of the two at t=3 the first in source order (rating 3)
        Assert.Equal(new[] { 3f, 2f }, first.Interactions.OrderBy(x => x.Item).Select(x => x.Rating));
        var last = Preprocessor.Apply(d, new PreprocessConfig { Duplicates = DuplicatePolicy.KeepLast }).Dataset;
        Assert.Equal(new[] { 1f, 2f }, last.Interactions.OrderBy(x => x.Item).Select(x => x.Rating));
        var all = Preprocessor.Apply(d, new PreprocessConfig { Duplicates = DuplicatePolicy.KeepAll });
        Assert.Equal(4, all.Dataset.Interactions.Length);
        Assert.Equal(0, all.Report.Duplicates);
    }

    [Fact]
    public void MinRating_DropsLowAndUnrated()
    {
        var d = Make(1, 3, (0, 0, 1, 4), (0, 1, 2, 3.5f), (0, 2, 3, float.NaN));
        var (r, report) = Preprocessor.Apply(d, new PreprocessConfig { MinRating = 4 });
        Assert.Single(r.Interactions);
        Assert.Equal(2, report.BelowMinRating);
        Assert.Single(r.Catalog.Items);
        Assert.Equal(3, Preprocessor.Apply(d, new PreprocessConfig { MinRating = 4, DropUnusedItems = false }).Dataset.Catalog.Count);
    }

    [Fact]
    public void MaxInteractionsPerUser_KeepsTheLatest()
    {
        var d = Make(1, 4, (0, 0, 4, 1), (0, 1, 1, 1), (0, 2, 3, 1), (0, 3, 2, 1));
        var r = Preprocessor.Apply(d, new PreprocessConfig { MaxInteractionsPerUser = 2, DropUnusedItems = false }).Dataset;
        Assert.Equal(new long[] { 4, 3 }, r.Interactions.Select(x => x.Timestamp));
    }

    [Theory]
    [InlineData(1, 3)]
    [InlineData(2, 5)]
    [InlineData(3, 10)]
    public void Property_KCoreResultIsKCoreAndMaximal(int seed, int k)
    {
        var rng = new Random(seed);
        int users = 60, items = 40;
        var x = Enumerable.Range(0, 900).Select(_ =>
            (rng.Next(users), (int)Math.Min(items - 1, Math.Floor(-Math.Log(1 - rng.NextDouble()) * 8)), (long)rng.Next(1000), 1f)).ToArray();
        var d = Make(users, items, x);
        var r = Preprocessor.Apply(d, new PreprocessConfig { UserCore = k, ItemCore = k, Duplicates = DuplicatePolicy.KeepAll }).Dataset;
        Assert.True(Preprocessor.IsKCore(r, k, k));
        Assert.All(r.Catalog.Items, it => Assert.Contains(r.Interactions, e => e.Item == it.Id));
        // maximal: a from-scratch reference (recount everything, drop all under-k rows, repeat) keeps the same rows
        var alive = Enumerable.Range(0, x.Length).ToList();
        while (true)
        {
            var uc = alive.GroupBy(i => x[i].Item1).ToDictionary(g => g.Key, g => g.Count());
            var ic = alive.GroupBy(i => x[i].Item2).ToDictionary(g => g.Key, g => g.Count());
            var next = alive.Where(i => uc[x[i].Item1] >= k && ic[x[i].Item2] >= k).ToList();
            if (next.Count == alive.Count) break;
            alive = next;
        }
        Assert.Equal(alive.Count, r.Interactions.Length);
        Assert.Equal(alive.Select(i => x[i].Item3), r.Interactions.Select(e => e.Timestamp));
        // idempotent: filtering the core again changes nothing
        var again = Preprocessor.Apply(r, new PreprocessConfig { UserCore = k, ItemCore = k, Duplicates = DuplicatePolicy.KeepAll }).Dataset;
        Assert.Equal(r.Interactions, again.Interactions);
    }
}
