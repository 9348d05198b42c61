namespace RecAlign.Data.Storage;

/// <summary>One bucket of the per-user sequence-length histogram: users with <see cref="Min"/>..<see cref="Max"/>
/// interactions (<see cref="Max"/> null = open-ended).</summary>
public sealed record LengthBucket(string Label, int Min, int? Max, int Users);

/// <summary>Summary numbers of a dataset, stored in <c>dataset.json</c>.</summary>
public sealed record DatasetStats(
    int Users,
    int Items,
    long Interactions,
    double Sparsity,
    int UsersWithInteractions,
    int ItemsWithInteractions,
    int MinSequenceLength,
    double MedianSequenceLength,
    double MeanSequenceLength,
    int MaxSequenceLength,
    long? FirstTimestamp,
    long? LastTimestamp,
    bool HasRatings,
    IReadOnlyList<LengthBucket> SequenceLengthHistogram)
{
    /// <summary>Bucket lower bounds: 1, 2-4, 5-9, 10-19, 20-49, 50-99, 100-199, 200-499, 500-999, 1000+ (the
    /// 5/10/20/50 cuts are the usual history-length and k-core thresholds).</summary>
    public static readonly int[] BucketStarts = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000];

    public static DatasetStats Compute(InteractionDataset dataset)
    {
        var perUser = new int[dataset.UserCount];
        var itemSeen = new bool[dataset.Catalog.Count];
        long first = long.MaxValue, last = long.MinValue;
        bool ratings = false;
        foreach (var x in dataset.Interactions)
        {
            perUser[x.User]++;
            itemSeen[x.Item] = true;
            if (x.Timestamp < first) first = x.Timestamp;
            if (x.Timestamp > last) last = x.Timestamp;
            if (!float.IsNaN(x.Rating)) ratings = true;
        }
        var lengths = perUser.Where(c => c > 0).Order().ToArray();
        var buckets = new List<LengthBucket>();
        for (int b = 0; b < BucketStarts.Length; b++)
        {
            int lo = BucketStarts[b];
            int? hi = b + 1 < BucketStarts.Length ? BucketStarts[b + 1] - 1 : null;
            string label = hi is null ? $"{lo}+" : hi == lo ? $"{lo}" : $"{lo}-{hi}";
            buckets.Add(new LengthBucket(label, lo, hi, lengths.Count(l => l >= lo && (hi is null || l <= hi))));
        }
        long n = dataset.Interactions.Length;
        double cells = (double)dataset.UserCount * dataset.Catalog.Count;
        double median = lengths.Length == 0 ? 0
            : lengths.Length % 2 == 1 ? lengths[lengths.Length / 2]
            : (lengths[lengths.Length / 2 - 1] + lengths[lengths.Length / 2]) / 2.0;
        return new DatasetStats(
            dataset.UserCount, dataset.Catalog.Count, n,
            cells == 0 ? 1.0 : 1.0 - n / cells,
            lengths.Length, itemSeen.Count(s => s),
            lengths.Length == 0 ? 0 : lengths[0], median, lengths.Length == 0 ? 0 : (double)n / lengths.Length,
            lengths.Length == 0 ? 0 : lengths[^1],
            n == 0 ? null : first, n == 0 ? null : last, ratings, buckets);
    }
}
