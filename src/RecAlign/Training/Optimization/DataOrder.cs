using RecAlign.Randomness;

namespace RecAlign.Training.Optimization;

/// <summary>Where a run is in its data: epoch and the index of the next batch within it. JSON-serialisable.</summary>
public sealed record DataPosition(int Epoch, int Batch);

/// <summary>
/// Deterministic epoch shuffler: epoch e's order is a Fisher-Yates permutation from <see cref="Pcg32"/>(seed, stream e),
/// a pure function of (seed, epoch), so resuming from a <see cref="DataPosition"/> replays exactly the batches an
/// uninterrupted run would have seen.
/// </summary>
public sealed class DataOrder
{
    public int Count { get; }
    public int BatchSize { get; }
    public ulong Seed { get; }
    public bool Shuffle { get; }
    public bool DropLast { get; }

    public DataOrder(int count, int batchSize, ulong seed, bool shuffle = true, bool dropLast = false)
    {
        if (count < 0) throw new ArgumentOutOfRangeException(nameof(count), count, "example count must be >= 0");
        if (batchSize <= 0) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "batch size must be > 0");
        (Count, BatchSize, Seed, Shuffle, DropLast) = (count, batchSize, seed, shuffle, dropLast);
    }

    public int BatchesPerEpoch => DropLast ? Count / BatchSize : (Count + BatchSize - 1) / BatchSize;

    /// <summary>The example order of <paramref name="epoch"/>.</summary>
    public int[] Permutation(int epoch)
    {
        if (epoch < 0) throw new ArgumentOutOfRangeException(nameof(epoch), epoch, "epoch must be >= 0");
        var order = new int[Count];
        for (int i = 0; i < order.Length; i++) order[i] = i;
        if (Shuffle) new Pcg32(Seed, (ulong)epoch).Shuffle<int>(order);
        return order;
    }

    /// <summary>Batches of <paramref name="epoch"/> starting at batch <paramref name="startBatch"/>.</summary>
    public IEnumerable<int[]> Batches(int epoch, int startBatch = 0)
    {
        if (startBatch < 0 || startBatch > BatchesPerEpoch)
            throw new ArgumentOutOfRangeException(nameof(startBatch), startBatch, $"batch must be in [0, {BatchesPerEpoch}]");
        var order = Permutation(epoch);
        for (int b = startBatch; b < BatchesPerEpoch; b++)
        {
            int start = b * BatchSize;
            yield return order.AsSpan(start, Math.Min(BatchSize, Count - start)).ToArray();
        }
    }

    /// <summary>
    /// Endless stream of (position of this batch, indices) from <paramref name="from"/> onwards across epochs; the
    /// position to save after consuming a batch is <see cref="Next"/> of the yielded one.
    /// </summary>
    public IEnumerable<(DataPosition Position, int[] Indices)> Stream(DataPosition? from = null)
    {
        if (BatchesPerEpoch == 0) yield break;
        var pos = Normalize(from ?? new DataPosition(0, 0));
        while (true)
        {
            foreach (var batch in Batches(pos.Epoch, pos.Batch))
            {
                yield return (pos, batch);
                pos = pos with { Batch = pos.Batch + 1 };
            }
            pos = new DataPosition(pos.Epoch + 1, 0);
        }
    }

    /// <summary>The position right after <paramref name="position"/>'s batch (rolls into the next epoch).</summary>
    public DataPosition Next(DataPosition position) => Normalize(position with { Batch = position.Batch + 1 });

    private DataPosition Normalize(DataPosition p)
    {
        if (p.Epoch < 0 || p.Batch < 0) throw new ArgumentOutOfRangeException(nameof(p), p, "data position must be non-negative");
        return p.Batch >= BatchesPerEpoch ? new DataPosition(p.Epoch + 1, 0) : p;
    }
}
