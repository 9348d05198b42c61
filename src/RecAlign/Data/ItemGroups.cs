using static TorchSharp.torch;

namespace RecAlign.Data;

/// <summary>How items are grouped for item-side fairness.</summary>
public enum ItemGrouping
{
    /// <summary>Equal-size groups by training interaction count (<c>pop1</c> least popular … <c>popG</c> most).</summary>
    Popularity,
    /// <summary>The catalog's genres (multi-label: an item counts once in each of its genres).</summary>
    Genre,
}

/// <summary>
/// Items of a catalog assigned to named groups, possibly several per item (genres), as IFairLRS groups them. An item
/// without a group (no genre) counts in no share. <see cref="Membership"/> is the 0/1 matrix [N, G] the metrics use.
/// </summary>
public sealed class ItemGroups
{
    private readonly int[][] _groupsOf;

    public ItemGroups(string kind, IReadOnlyList<string> names, IReadOnlyList<IReadOnlyList<int>> groupsOfItem)
    {
        if (names.Count == 0) throw new ArgumentException("at least one group is needed", nameof(names));
        if (names.Distinct(StringComparer.Ordinal).Count() != names.Count) throw new ArgumentException("group names must be distinct", nameof(names));
        Kind = kind;
        Names = names.ToArray();
        _groupsOf = new int[groupsOfItem.Count][];
        for (int i = 0; i < groupsOfItem.Count; i++)
        {
            var gs = groupsOfItem[i].Distinct().Order().ToArray();
            foreach (var g in gs)
                if (g < 0 || g >= names.Count) throw new ArgumentException($"item {i} is in group {g}, outside [0, {names.Count})", nameof(groupsOfItem));
            _groupsOf[i] = gs;
        }
    }

    /// <summary><c>popularity</c> or <c>genre</c>.</summary>
    public string Kind { get; }
    public IReadOnlyList<string> Names { get; }
    public int ItemCount => _groupsOf.Length;
    public int GroupCount => Names.Count;
    public IReadOnlyList<int> GroupsOf(int item) => _groupsOf[item];

    /// <summary>"popularity (pop1 337, pop2 336, ...)": the kind and each group's item count.</summary>
    public override string ToString() => $"{Kind} ({string.Join(", ", Names.Zip(Sizes(), (n, c) => $"{n} {c}"))})";

    /// <summary>Items in each group.</summary>
    public int[] Sizes()
    {
        var sizes = new int[GroupCount];
        foreach (var gs in _groupsOf)
            foreach (var g in gs) sizes[g]++;
        return sizes;
    }

    /// <summary>These groups over another catalog: <paramref name="map"/>[i] is item i's id there (−1: absent); items of
    /// the other catalog no mapped item lands on have no group.</summary>
    public ItemGroups Reindexed(IReadOnlyList<int> map, int itemCount)
    {
        if (map.Count != ItemCount) throw new ArgumentException($"map has {map.Count} entries for {ItemCount} grouped items", nameof(map));
        var of = new IReadOnlyList<int>[itemCount];
        for (int i = 0; i < itemCount; i++) of[i] = [];
        for (int i = 0; i < map.Count; i++)
            if (map[i] >= 0) of[map[i]] = _groupsOf[i];
        return new ItemGroups(Kind, Names, of);
    }

    /// <summary>0/1 float64 [N, G]: 1 where the item is in the group.</summary>
    public Tensor Membership()
    {
        var data = new double[ItemCount * GroupCount];
        for (int i = 0; i < _groupsOf.Length; i++)
            foreach (var g in _groupsOf[i]) data[i * GroupCount + g] = 1;
        return tensor(data, [ItemCount, GroupCount]);
    }

    /// <summary>
    /// <paramref name="groups"/> equal-size groups by interaction count (IFairLRS's default of 5): items sorted by count,
    /// ascending, ties by id, then cut into consecutive runs whose sizes differ by at most one. <c>pop1</c> holds the
    /// least popular items, <c>pop{groups}</c> the most popular.
    /// </summary>
    public static ItemGroups ByPopularity(IReadOnlyList<int> counts, int groups = 5)
    {
        if (groups < 1) throw new ArgumentOutOfRangeException(nameof(groups), groups, "need at least one popularity group");
        if (counts.Count < groups) throw new ArgumentException($"{counts.Count} items cannot form {groups} non-empty popularity groups", nameof(counts));
        var order = Enumerable.Range(0, counts.Count).OrderBy(i => counts[i]).ThenBy(i => i).ToArray();
        var of = new IReadOnlyList<int>[counts.Count];
        for (int rank = 0; rank < order.Length; rank++)
            of[order[rank]] = [(int)((long)rank * groups / order.Length)];
        return new ItemGroups("popularity", Enumerable.Range(1, groups).Select(g => $"pop{g}").ToList(), of);
    }

    /// <summary>Interaction counts per item id of a catalog of <paramref name="itemCount"/> items.</summary>
    public static int[] Counts(IEnumerable<IReadOnlyList<int>> sequences, int itemCount)
    {
        var counts = new int[itemCount];
        foreach (var s in sequences)
            foreach (var i in s)
            {
                if ((uint)i >= (uint)itemCount) throw new ArgumentException($"item {i} is outside the catalog [0, {itemCount})", nameof(sequences));
                counts[i]++;
            }
        return counts;
    }

    /// <summary>The catalog's genres as groups, in order of first appearance; throws when no item has one.</summary>
    public static ItemGroups ByGenre(ItemCatalog catalog)
    {
        var names = new List<string>();
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        var of = new IReadOnlyList<int>[catalog.Count];
        for (int i = 0; i < catalog.Count; i++)
        {
            var gs = new List<int>();
            foreach (var genre in catalog[i].Genres)
            {
                if (!index.TryGetValue(genre, out var g)) { index[genre] = g = names.Count; names.Add(genre); }
                gs.Add(g);
            }
            of[i] = gs;
        }
        if (names.Count == 0) throw new ArgumentException("the catalog has no genres to group items by (use popularity groups)");
        return new ItemGroups("genre", names, of);
    }

    /// <summary>Groups of <paramref name="grouping"/>'s kind: popularity from <paramref name="trainingSequences"/>.</summary>
    public static ItemGroups For(ItemGrouping grouping, ItemCatalog catalog, IEnumerable<IReadOnlyList<int>> trainingSequences, int popularityGroups = 5) =>
        grouping switch
        {
            ItemGrouping.Popularity => ByPopularity(Counts(trainingSequences, catalog.Count), popularityGroups),
            ItemGrouping.Genre => ByGenre(catalog),
            _ => throw new ArgumentOutOfRangeException(nameof(grouping), grouping, null),
        };
}
