using System.Globalization;
using RecAlign.Data.Preprocessing;

namespace RecAlign.Data.Splits;

/// <summary>Turns a dataset into train/validation/test <see cref="SequenceExample"/> lists. Sequences are
/// chronological; equal timestamps keep source order (duplicate timestamps are allowed). Histories are views over
/// the user's item array (no per-example copy), cut to <see cref="SplitConfig.MaxHistoryLength"/>. For every setting,
/// a user's test targets are never earlier than that user's training targets.</summary>
public static class Splitter
{
    public static SplitResult Split(InteractionDataset dataset, SplitConfig config) =>
        Split(Sequences(dataset), dataset.Catalog, config);

    public static SplitResult Split(IReadOnlyList<UserSequence> sequences, ItemCatalog catalog, SplitConfig config)
    {
        if (config.MinHistoryLength < 0 || config.MaxHistoryLength < 0)
            throw new ArgumentException("history lengths must be >= 0");
        return config.Method switch
        {
            SplitMethod.LeaveOneOut => LeaveOneOut(sequences, config),
            SplitMethod.Temporal => Temporal(sequences, config),
            SplitMethod.UserRatio => UserRatio(sequences, config),
            SplitMethod.TemporalShift => OodSplits.TemporalShift(sequences, config),
            SplitMethod.PopularityShift => OodSplits.PopularityShift(sequences, catalog, config),
            SplitMethod.AttributeShift => OodSplits.AttributeShift(sequences, catalog, config),
            SplitMethod.ExposureShift => OodSplits.ExposureShift(sequences, catalog, config),
            _ => throw new ArgumentOutOfRangeException(nameof(config), config.Method, "unknown split method"),
        };
    }

    /// <summary>Chronological sequences like <see cref="InteractionDataset.Sequences"/> (same order and tie rule),
    /// built with one counting sort instead of a LINQ sort per user.</summary>
    public static IReadOnlyList<UserSequence> Sequences(InteractionDataset dataset)
    {
        var x = dataset.Interactions;
        var order = Preprocessor.ChronologicalOrder(x, dataset.UserCount);
        var result = new List<UserSequence>();
        int i = 0;
        while (i < order.Length)
        {
            int user = x[order[i]].User, j = i;
            while (j < order.Length && x[order[j]].User == user) j++;
            var items = new int[j - i];
            var times = new long[j - i];
            for (int k = i; k < j; k++) { items[k - i] = x[order[k]].Item; times[k - i] = x[order[k]].Timestamp; }
            result.Add(new UserSequence(user, items, times));
            i = j;
        }
        return result;
    }

    /// <summary>The example whose target is position <paramref name="pos"/> of <paramref name="s"/>.</summary>
    internal static SequenceExample Example(UserSequence s, int pos, SplitConfig c)
    {
        int start = c.MaxHistoryLength > 0 ? Math.Max(0, pos - c.MaxHistoryLength) : 0;
        return new SequenceExample(s.User, new ArraySegment<int>(s.Items, start, pos - start), s.Items[pos], s.Timestamps[pos]);
    }

    /// <summary>Adds training examples for positions [from, to) (every prefix, or only the last one).</summary>
    internal static void AddTrain(List<SequenceExample> train, UserSequence s, int from, int to, SplitConfig c)
    {
        from = Math.Max(from, c.MinHistoryLength);
        if (to <= from) return;
        if (!c.TrainAllPrefixes) from = to - 1;
        for (int p = from; p < to; p++) train.Add(Example(s, p, c));
    }

    internal static bool Eligible(int pos, SplitConfig c) => pos >= c.MinHistoryLength;

    public static SplitResult LeaveOneOut(IReadOnlyList<UserSequence> sequences, SplitConfig c)
    {
        var (train, val, test) = (new List<SequenceExample>(), new List<SequenceExample>(), new List<SequenceExample>());
        foreach (var s in sequences)
        {
            int n = s.Items.Length;
            if (n < 3) { AddTrain(train, s, 0, n, c); continue; }
            AddTrain(train, s, 0, n - 2, c);
            if (Eligible(n - 2, c)) val.Add(Example(s, n - 2, c));
            if (Eligible(n - 1, c)) test.Add(Example(s, n - 1, c));
        }
        return new SplitResult(SplitMethod.LeaveOneOut, train, val, test);
    }

    public static SplitResult Temporal(IReadOnlyList<UserSequence> sequences, SplitConfig c)
    {
        var t = c.Temporal;
        long testCut = t.TestCut ?? Quantile(sequences, 1 - t.TestFraction);
        long valCut = t.Validation == ValidationCut.Time ? t.ValidationCutTime ?? Quantile(sequences, 1 - t.TestFraction - t.ValidationFraction) : testCut;
        if (valCut > testCut) throw new ArgumentException($"validation cut {valCut} is after the test cut {testCut}");
        var (train, val, test) = (new List<SequenceExample>(), new List<SequenceExample>(), new List<SequenceExample>());
        foreach (var s in sequences)
        {
            int firstTest = FirstAtOrAfter(s.Timestamps, testCut);
            int firstVal = FirstAtOrAfter(s.Timestamps, valCut);
            int trainEnd = firstVal;
            if (t.Validation == ValidationCut.LastBeforeTest)
            {
                int last = firstTest - 1;
                if (last >= 0 && Eligible(last, c)) { val.Add(Example(s, last, c)); trainEnd = last; }
                else trainEnd = firstTest;
            }
            else if (t.Validation == ValidationCut.Time)
                for (int p = Math.Max(firstVal, c.MinHistoryLength); p < firstTest; p++) val.Add(Example(s, p, c));
            AddTrain(train, s, 0, trainEnd, c);
            for (int p = Math.Max(firstTest, c.MinHistoryLength); p < s.Items.Length; p++) test.Add(Example(s, p, c));
        }
        return new SplitResult(SplitMethod.Temporal, train, val, test)
        {
            Details = new Dictionary<string, string>
            {
                ["test_cut"] = testCut.ToString(CultureInfo.InvariantCulture),
                ["validation_cut"] = t.Validation == ValidationCut.Time ? valCut.ToString(CultureInfo.InvariantCulture) : t.Validation.ToString(),
            },
        };
    }

    public static SplitResult UserRatio(IReadOnlyList<UserSequence> sequences, SplitConfig c)
    {
        var r = c.UserRatio;
        double total = r.Train + r.Validation + r.Test;
        if (r.Train < 0 || r.Validation < 0 || r.Test < 0 || total <= 0) throw new ArgumentException("user ratios must be >= 0 with a positive sum");
        var order = Enumerable.Range(0, sequences.Count).ToArray();
        new Random(c.Seed).Shuffle(order);
        int nTrain = (int)Math.Round(sequences.Count * r.Train / total);
        int nVal = (int)Math.Round(sequences.Count * r.Validation / total);
        var part = new int[sequences.Count];
        for (int k = 0; k < order.Length; k++) part[order[k]] = k < nTrain ? 0 : k < nTrain + nVal ? 1 : 2;
        var lists = new[] { new List<SequenceExample>(), new List<SequenceExample>(), new List<SequenceExample>() };
        for (int k = 0; k < sequences.Count; k++)
        {
            var s = sequences[k];
            if (part[k] == 0) AddTrain(lists[0], s, 0, s.Items.Length, c);
            else for (int p = c.MinHistoryLength; p < s.Items.Length; p++) lists[part[k]].Add(Example(s, p, c));
        }
        return new SplitResult(SplitMethod.UserRatio, lists[0], lists[1], lists[2]);
    }

    /// <summary>The interaction time below which a share <paramref name="q"/> of all interactions fall.</summary>
    internal static long Quantile(IReadOnlyList<UserSequence> sequences, double q)
    {
        if (q is < 0 or > 1 || double.IsNaN(q)) throw new ArgumentException($"quantile {q} outside [0, 1]");
        long n = sequences.Sum(s => (long)s.Timestamps.Length);
        if (n == 0) return 0;
        var all = new long[n];
        long k = 0;
        foreach (var s in sequences) { s.Timestamps.CopyTo(all, k); k += s.Timestamps.Length; }
        Array.Sort(all);
        long idx = Math.Min(n - 1, (long)Math.Floor(q * n));
        return q >= 1 ? all[n - 1] + 1 : all[idx];
    }

    internal static int FirstAtOrAfter(long[] times, long cut)
    {
        // sequences are sorted by time, so a binary search finds the first position at or after the cut
        int lo = 0, hi = times.Length;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (times[mid] < cut) lo = mid + 1; else hi = mid;
        }
        return lo;
    }
}
