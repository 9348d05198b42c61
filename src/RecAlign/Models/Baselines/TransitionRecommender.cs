using RecAlign.Data;
using static TorchSharp.torch;

namespace RecAlign.Models.Baselines;

/// <summary>
/// First-order Markov chain (item-to-item transitions, as in FPMC's MC part, Rendle et al. 2010): score(c | history) =
/// how often c directly followed the history's last item in training, with popularity breaking ties (and ranking every
/// item when the last item was never followed, or the history is empty). The floor any sequence-reading model must beat.
/// </summary>
public sealed class TransitionRecommender : ItemIdRecommender
{
    private readonly int[] _rowStart;   // CSR over "from" items
    private readonly long[] _to;
    private readonly float[] _count;
    private readonly float[] _tieBreak; // popularity scaled into [0, 1): never outweighs one transition

    private TransitionRecommender(ItemCatalog catalog, int[] rowStart, long[] to, float[] count, float[] tieBreak) : base("transition", catalog)
    {
        _rowStart = rowStart; _to = to; _count = count; _tieBreak = tieBreak;
    }

    /// <summary>Counts (last history item → target) over <paramref name="train"/>; popularity = target counts.</summary>
    public static TransitionRecommender FromTraining(ItemCatalog catalog, IEnumerable<SequenceExample> train)
    {
        int n = catalog.Count;
        var pairs = new Dictionary<long, int>();
        var popularity = new double[n];
        foreach (var e in train)
        {
            popularity[e.Target]++;
            if (e.History.Count == 0) continue;
            long key = (long)e.History[^1] * n + e.Target;
            pairs[key] = pairs.GetValueOrDefault(key) + 1;
        }
        var ordered = pairs.OrderBy(p => p.Key).ToArray();
        var rowStart = new int[n + 1];
        foreach (var (key, _) in ordered) rowStart[key / n + 1]++;
        for (int i = 0; i < n; i++) rowStart[i + 1] += rowStart[i];
        double max = popularity.Max();
        var tie = popularity.Select(p => (float)(p / (max + 1))).ToArray();
        return new TransitionRecommender(catalog, rowStart, ordered.Select(p => p.Key % n).ToArray(), ordered.Select(p => (float)p.Value).ToArray(), tie);
    }

    public override Tensor ScoreCatalog(IReadOnlyList<IReadOnlyList<int>> histories)
    {
        int n = Catalog.Count;
        var scores = new float[histories.Count * n];
        for (int b = 0; b < histories.Count; b++)
        {
            Array.Copy(_tieBreak, 0, scores, (long)b * n, n);
            if (histories[b].Count == 0) continue;
            int last = histories[b][^1];
            for (int k = _rowStart[last]; k < _rowStart[last + 1]; k++)
                scores[(long)b * n + _to[k]] += _count[k];
        }
        return tensor(scores, [histories.Count, n]);
    }

    protected override Tensor ScoreItems(IReadOnlyList<IReadOnlyList<int>> histories, Tensor candidates)
    {
        using var scope = NewDisposeScope();
        return ScoreCatalog(histories).gather(1, candidates).MoveToOuterDisposeScope();
    }
}
