using RecAlign.Randomness;
using RecAlign.Training.Optimization;

namespace RecAlign.Training.Batching;

/// <summary>
/// Batch order for one epoch with little padding: shuffle all examples, cut the shuffled list into "megabatches" of
/// <c>batchSize × bucketFactor</c>, sort each by length, slice it into batches, and shuffle the batch order
/// (HF Trainer's group_by_length). Deterministic for (seed, epoch), so resuming at (epoch, batch) replays exactly.
/// </summary>
public static class LengthBucketedBatches
{
    public static IReadOnlyList<int[]> Plan(IReadOnlyList<int> lengths, int batchSize, long seed, int epoch, int bucketFactor = 50, bool dropLast = false)
    {
        if (batchSize <= 0) throw new ArgumentOutOfRangeException(nameof(batchSize), "batch size must be positive");
        var rng = new Pcg32((ulong)seed, (ulong)epoch);
        var order = Enumerable.Range(0, lengths.Count).ToArray();
        rng.Shuffle<int>(order);
        var batches = new List<int[]>();
        int mega = Math.Max(1, bucketFactor) * batchSize;
        for (int start = 0; start < order.Length; start += mega)
        {
            var chunk = order.AsSpan(start, Math.Min(mega, order.Length - start)).ToArray();
            // Longest first inside a megabatch; ties keep the shuffled order (stable sort) for determinism.
            var sorted = chunk.Select((ex, i) => (ex, i)).OrderByDescending(p => lengths[p.ex]).ThenBy(p => p.i).Select(p => p.ex).ToArray();
            for (int b = 0; b < sorted.Length; b += batchSize)
            {
                int n = Math.Min(batchSize, sorted.Length - b);
                if (n < batchSize && dropLast) continue;
                batches.Add(sorted.AsSpan(b, n).ToArray());
            }
        }
        var shuffled = batches.ToArray();
        rng.Shuffle<int[]>(shuffled);
        return shuffled;
    }
}
