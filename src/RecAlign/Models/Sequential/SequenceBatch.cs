using static TorchSharp.torch;

namespace RecAlign.Models.Sequential;

/// <summary>Histories as a sequential model reads them (RecBole's <c>item_seq</c>, <c>item_seq_len</c>): each history
/// cut to its last <c>maxLength</c> items, item id i as row i + 1, right-padded with 0, and each row's length.</summary>
public sealed class SequenceBatch : IDisposable
{
    private SequenceBatch(Tensor items, Tensor lengths) { Items = items; Lengths = lengths; }

    /// <summary>int64 [B, L] embedding rows (0 = padding).</summary>
    public Tensor Items { get; }
    /// <summary>int64 [B] real items per row (0 for an empty history).</summary>
    public Tensor Lengths { get; }

    /// <param name="width">Columns L (default: the longest history after cutting, at least 1).</param>
    public static SequenceBatch Make(IReadOnlyList<IReadOnlyList<int>> histories, int maxLength, int itemCount, Device? device = null, int? width = null)
    {
        int l = width ?? Math.Max(1, histories.Count == 0 ? 1 : histories.Max(h => Math.Min(h.Count, maxLength)));
        if (l > maxLength) throw new ArgumentOutOfRangeException(nameof(width), l, $"width exceeds max_seq_length ({maxLength})");
        var rows = new long[histories.Count * l];
        var lengths = new long[histories.Count];
        for (int b = 0; b < histories.Count; b++)
        {
            var h = histories[b];
            int n = Math.Min(h.Count, l), start = h.Count - n;
            for (int j = 0; j < n; j++)
            {
                int item = h[start + j];
                if ((uint)item >= (uint)itemCount)
                    throw new ArgumentException($"history {b} holds item {item}, outside the catalog [0, {itemCount})", nameof(histories));
                rows[b * l + j] = item + 1;
            }
            lengths[b] = n;
        }
        return new SequenceBatch(tensor(rows, [histories.Count, l], device: device), tensor(lengths, device: device));
    }

    public void Dispose()
    {
        Items.Dispose();
        Lengths.Dispose();
    }
}
