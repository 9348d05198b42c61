namespace RecAlign.Data.Preprocessing;

/// <summary>Repeated (user, item) pairs.</summary>
public enum DuplicatePolicy
{
    /// <summary>Keep every interaction (re-watches, re-purchases stay in the sequence).</summary>
    KeepAll,
    /// <summary>Keep the earliest interaction of each pair (ties: first in source order).</summary>
    KeepFirst,
    /// <summary>Keep the latest interaction of each pair (ties: last in source order).</summary>
    KeepLast,
}

/// <summary>Preprocessing settings (ConfigLoader-compatible; defaults change nothing but duplicates).
/// Steps run in this order: rating threshold, duplicates, per-user cap, k-core, id compaction.</summary>
public sealed record PreprocessConfig
{
    /// <summary>Implicit feedback: keep interactions rated at least this (unrated ones are dropped); null keeps all.</summary>
    public float? MinRating { get; init; }

    public DuplicatePolicy Duplicates { get; init; } = DuplicatePolicy.KeepFirst;

    /// <summary>Minimum interactions per user after filtering (k-core, iterated to a fixed point); 0 or 1 = off.</summary>
    public int UserCore { get; init; }

    /// <summary>Minimum interactions per item after filtering; 0 or 1 = off.</summary>
    public int ItemCore { get; init; }

    /// <summary>Keep only each user's latest N interactions (0 = all), before the k-core.</summary>
    public int MaxInteractionsPerUser { get; init; }

    /// <summary>Drop catalog items left without interactions (ids are re-densified either way for users).</summary>
    public bool DropUnusedItems { get; init; } = true;

    /// <summary>Both cores at <paramref name="k"/>.</summary>
    public static PreprocessConfig KCore(int k) => new() { UserCore = k, ItemCore = k };
}

/// <summary>What each step removed.</summary>
public sealed record PreprocessReport(
    long InputInteractions,
    long BelowMinRating,
    long Duplicates,
    long OverUserCap,
    long KCoreRemoved,
    int KCoreIterations,
    long OutputInteractions,
    int OutputUsers,
    int OutputItems)
{
    public override string ToString() =>
        $"{InputInteractions} -> {OutputInteractions} interactions ({OutputUsers} users, {OutputItems} items): " +
        $"-{BelowMinRating} below min rating, -{Duplicates} duplicates, -{OverUserCap} over the per-user cap, " +
        $"-{KCoreRemoved} by k-core in {KCoreIterations} passes";
}

/// <summary>Filters a dataset and re-densifies ids (users and items keep their relative order). Duplicate
/// timestamps are allowed: equal times keep source order, everywhere.</summary>
public static class Preprocessor
{
    public static (InteractionDataset Dataset, PreprocessReport Report) Apply(InteractionDataset dataset, PreprocessConfig config)
    {
        if (config.UserCore < 0 || config.ItemCore < 0 || config.MaxInteractionsPerUser < 0)
            throw new ArgumentException("core sizes and the per-user cap must be >= 0");
        var src = dataset.Interactions;
        var keep = new bool[src.Length];
        Array.Fill(keep, true);
        long belowRating = 0, dups = 0, capped = 0;

        if (config.MinRating is float min)
            for (int i = 0; i < src.Length; i++)
                if (float.IsNaN(src[i].Rating) || src[i].Rating < min) { keep[i] = false; belowRating++; }

        var order = ChronologicalOrder(src, dataset.UserCount);
        if (config.Duplicates != DuplicatePolicy.KeepAll) dups = Dedupe(src, order, keep, config.Duplicates);
        if (config.MaxInteractionsPerUser > 0) capped = Cap(src, order, keep, config.MaxInteractionsPerUser);

        var (removed, passes) = KCore(src, keep, dataset.UserCount, dataset.Catalog.Count, config.UserCore, config.ItemCore);
        var result = Compact(dataset, keep, config.DropUnusedItems);
        return (result, new PreprocessReport(src.Length, belowRating, dups, capped, removed, passes,
            result.Interactions.Length, result.UserCount, result.Catalog.Count));
    }

    /// <summary>Indices of <paramref name="x"/> grouped by user (ascending), each group by (timestamp, index).</summary>
    internal static int[] ChronologicalOrder(Interaction[] x, int users)
    {
        var start = new int[users + 1];
        foreach (var e in x) start[e.User + 1]++;
        for (int u = 0; u < users; u++) start[u + 1] += start[u];
        var pos = (int[])start.Clone();
        var order = new int[x.Length];
        for (int i = 0; i < x.Length; i++) order[pos[x[i].User]++] = i;
        var keys = new long[0];
        for (int u = 0; u < users; u++)
        {
            int a = start[u], n = start[u + 1] - a;
            bool sorted = true;
            for (int k = a + 1; k < a + n && sorted; k++) sorted = x[order[k - 1]].Timestamp <= x[order[k]].Timestamp;
            if (sorted) continue;
            // indices inside a group are ascending, so a stable sort by timestamp gives (timestamp, index) order
            if (keys.Length < n) keys = new long[n];
            for (int k = 0; k < n; k++) keys[k] = x[order[a + k]].Timestamp;
            StableSort(keys.AsSpan(0, n), order.AsSpan(a, n));
        }
        return order;
    }

    private static void StableSort(Span<long> keys, Span<int> idx)
    {
        // sort (key, idx) pairs; idx is unique, so the pair order is total and the result is stable
        var pairs = new (long Key, int Idx)[keys.Length];
        for (int k = 0; k < pairs.Length; k++) pairs[k] = (keys[k], idx[k]);
        Array.Sort(pairs);
        for (int k = 0; k < pairs.Length; k++) idx[k] = pairs[k].Idx;
    }

    private static long Dedupe(Interaction[] x, int[] order, bool[] keep, DuplicatePolicy policy)
    {
        long removed = 0;
        var seen = new Dictionary<int, int>(); // item -> kept index, reset per user
        int i = 0;
        while (i < order.Length)
        {
            int user = x[order[i]].User, j = i;
            seen.Clear();
            for (; j < order.Length && x[order[j]].User == user; j++)
            {
                int idx = order[j];
                if (!keep[idx]) continue;
                if (seen.TryGetValue(x[idx].Item, out int prev))
                {
                    removed++;
                    if (policy == DuplicatePolicy.KeepFirst) keep[idx] = false;
                    else { keep[prev] = false; seen[x[idx].Item] = idx; }
                }
                else seen[x[idx].Item] = idx;
            }
            i = j;
        }
        return removed;
    }

    private static long Cap(Interaction[] x, int[] order, bool[] keep, int cap)
    {
        long removed = 0;
        int i = 0;
        while (i < order.Length)
        {
            int user = x[order[i]].User, j = i;
            while (j < order.Length && x[order[j]].User == user) j++;
            int kept = 0;
            for (int k = j - 1; k >= i; k--)
            {
                if (!keep[order[k]]) continue;
                if (++kept > cap) { keep[order[k]] = false; removed++; }
            }
            i = j;
        }
        return removed;
    }

    /// <summary>Removes interactions until every remaining user has at least <paramref name="userCore"/> and every
    /// remaining item at least <paramref name="itemCore"/> interactions (the fixed point is the unique maximal core).</summary>
    internal static (long Removed, int Passes) KCore(Interaction[] x, bool[] keep, int users, int items, int userCore, int itemCore)
    {
        if (userCore <= 1 && itemCore <= 1) return (0, 0);
        var uc = new int[users];
        var ic = new int[items];
        for (int i = 0; i < x.Length; i++)
            if (keep[i]) { uc[x[i].User]++; ic[x[i].Item]++; }
        long removed = 0;
        int passes = 0;
        while (true)
        {
            passes++;
            long before = removed;
            for (int i = 0; i < x.Length; i++)
            {
                if (!keep[i]) continue;
                var e = x[i];
                if (uc[e.User] < userCore || ic[e.Item] < itemCore)
                {
                    keep[i] = false;
                    removed++;
                    // counts drop immediately, so one pass already propagates most removals
                    uc[e.User]--;
                    ic[e.Item]--;
                }
            }
            if (removed == before) return (removed, passes);
        }
    }

    /// <summary>Keeps the marked interactions (in their order) and renumbers users and items densely.</summary>
    internal static InteractionDataset Compact(InteractionDataset d, bool[] keep, bool dropUnusedItems)
    {
        var src = d.Interactions;
        var userMap = new int[d.UserCount];
        var itemMap = new int[d.Catalog.Count];
        Array.Fill(userMap, -1);
        long n = 0;
        for (int i = 0; i < src.Length; i++)
            if (keep[i]) { userMap[src[i].User] = 0; itemMap[src[i].Item] = 1; n++; }
        var users = new List<string>();
        for (int u = 0; u < userMap.Length; u++)
            if (userMap[u] == 0) { userMap[u] = users.Count; users.Add(d.UserExternalIds[u]); }
        var items = new List<Item>();
        for (int it = 0; it < itemMap.Length; it++)
        {
            if (dropUnusedItems && itemMap[it] == 0) { itemMap[it] = -1; continue; }
            itemMap[it] = items.Count;
            items.Add(d.Catalog[it] with { Id = items.Count });
        }
        var outp = new Interaction[n];
        long k = 0;
        for (int i = 0; i < src.Length; i++)
            if (keep[i]) outp[k++] = src[i] with { User = userMap[src[i].User], Item = itemMap[src[i].Item] };
        return new InteractionDataset(d.Name, new ItemCatalog(items), users, outp);
    }

    /// <summary>True when every user and item of <paramref name="d"/> has at least k interactions (test helper).</summary>
    public static bool IsKCore(InteractionDataset d, int userCore, int itemCore)
    {
        var uc = new int[d.UserCount];
        var ic = new int[d.Catalog.Count];
        foreach (var e in d.Interactions) { uc[e.User]++; ic[e.Item]++; }
        return uc.All(c => c == 0 || c >= userCore) && ic.All(c => c == 0 || c >= itemCore);
    }
}
