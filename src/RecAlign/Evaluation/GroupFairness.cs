using RecAlign.Numerics;
using RecAlign.Data;
using static TorchSharp.torch;

namespace RecAlign.Evaluation;

/// <summary>
/// Item-side fairness of top-K recommendations (IFairLRS, Jiang et al. 2024), for every model alike. With item groups
/// g (possibly several per item) and memberships counted once per (item, group):
/// <list type="bullet">
/// <item>P_hist(g) = share of group g among the evaluated users' history items; P_rec@K(g) = its share among all
/// top-K recommendations;</item>
/// <item>GU_g@K = P_rec@K(g) − P_hist(g); <c>mgu@K</c> = mean_g |GU_g@K|; <c>dgu@K</c> = max_g GU_g@K − min_g GU_g@K;</item>
/// <item><c>coverage@K</c> = share of catalog items recommended to anyone; <c>gini@K</c> = Gini index of the items'
/// exposure counts, Σ_i (2i − N − 1)·c_(i) / (N·Σc) over counts sorted ascending (0: equal exposure, → 1: one item).</item>
/// </list>
/// Per-group shares are kept as <c>p_hist/G</c> and <c>p_rec@K/G</c>, so plots and reports need nothing else.
/// </summary>
public static class GroupFairness
{
    public static readonly IReadOnlyList<int> DefaultKs = [1, 5, 10, 20];

    public static string MguKey(int k) => $"mgu@{k}";
    public static string DguKey(int k) => $"dgu@{k}";
    public static string CoverageKey(int k) => $"coverage@{k}";
    public static string GiniKey(int k) => $"gini@{k}";
    public static string HistoryShareKey(string group) => $"p_hist/{group}";
    public static string RecommendedShareKey(int k, string group) => $"p_rec@{k}/{group}";

    /// <summary>True for every key this class produces, with or without a protocol prefix (<c>catalog_mgu@10</c>).</summary>
    public static bool IsFairnessKey(string key)
    {
        var k = key.StartsWith(Metrics.CatalogPrefix, StringComparison.Ordinal) ? key[Metrics.CatalogPrefix.Length..] : key;
        return k.StartsWith("mgu@", StringComparison.Ordinal) || k.StartsWith("dgu@", StringComparison.Ordinal) || k.StartsWith("coverage@", StringComparison.Ordinal)
            || k.StartsWith("gini@", StringComparison.Ordinal) || k.StartsWith("p_hist/", StringComparison.Ordinal) || k.StartsWith("p_rec@", StringComparison.Ordinal);
    }

    /// <summary>Fairness of ranked lists <paramref name="recommended"/> (int64 [Q, K'] item ids, best first; −1 where a
    /// list is shorter) against the users' <paramref name="histories"/>, for each K in <paramref name="ks"/> (K &gt; K'
    /// uses the whole lists).</summary>
    public static EvaluationResult FromTopK(Tensor recommended, IReadOnlyList<IReadOnlyList<int>> histories, ItemGroups groups, IReadOnlyList<int>? ks = null)
    {
        if (recommended.dim() != 2) throw new ArgumentException($"recommended must be [Q, K], got shape [{string.Join(", ", recommended.shape)}]", nameof(recommended));
        if (histories.Count != recommended.shape[0]) throw new ArgumentException($"{histories.Count} histories for {recommended.shape[0]} recommendation lists", nameof(histories));
        ks ??= DefaultKs;
        foreach (var k in ks)
            if (k <= 0) throw new ArgumentException($"every K must be positive, got {k}", nameof(ks));
        using var scope = NewDisposeScope();
        int n = groups.ItemCount;
        var ids = recommended.to_type(ScalarType.Int64).cpu();
        if (ids.numel() > 0 && ids.max().item<long>() >= n) throw new ArgumentException($"a recommended item is outside the grouped catalog [0, {n})", nameof(recommended));
        var membership = groups.Membership();
        var historyShare = Shares(membership, HistoryIds(histories, n));
        var metrics = new OrderedDictionary<string, double>();
        for (int g = 0; g < groups.GroupCount; g++) metrics[HistoryShareKey(groups.Names[g])] = historyShare[g].item<double>();
        foreach (var k in ks.Distinct().Order())
        {
            var top = ids.narrow(1, 0, Math.Min(k, ids.shape[1])).reshape(-1);
            top = top.index_select(0, top.ge(0).nonzero().squeeze(1));
            var share = Shares(membership, top);
            var gu = share - historyShare;
            metrics[MguKey(k)] = gu.abs().mean().item<double>();
            metrics[DguKey(k)] = (gu.max() - gu.min()).item<double>();
            var exposure = top.numel() == 0 ? zeros(n, dtype: ScalarType.Float64) : top.bincount(null, n).to_type(ScalarType.Float64);
            metrics[CoverageKey(k)] = exposure.gt(0).to_type(ScalarType.Float64).mean().item<double>();
            metrics[GiniKey(k)] = Gini(exposure);
            for (int g = 0; g < groups.GroupCount; g++) metrics[RecommendedShareKey(k, groups.Names[g])] = share[g].item<double>();
        }
        return new EvaluationResult(histories.Count, metrics);
    }

    /// <summary>The top <paramref name="k"/> columns of each row of <paramref name="scores"/> [Q, C] as item ids
    /// (<paramref name="columnItems"/> [Q, C] maps columns to items; null: column = item id), −1 where the score is
    /// −∞ (padding, masked history), so a short list stays short. NaN ranks last, as in <see cref="Metrics.Ranks(Tensor, Tensor, TieBreak, Tensor?)"/>;
    /// equal scores keep column order (a stable sort, as <see cref="Inference.CatalogGrounder.Ground(IReadOnlyList{string}, int, IReadOnlyList{IReadOnlyList{int}}?)"/>):
    /// topk's tie order is unspecified, and exposure counts (ORRatio, coverage) must not depend on it.</summary>
    public static Tensor TopIds(Tensor scores, int k, Tensor? columnItems = null)
    {
        using var scope = NewDisposeScope();
        k = (int)Math.Min(k, scores.shape[1]);
        var (sorted, order) = scores.nan_to_num(nan: double.NegativeInfinity, posinf: double.PositiveInfinity, neginf: double.NegativeInfinity).sort(dim: 1, descending: true, stable: true);
        var values = sorted.narrow(1, 0, k);
        var index = order.narrow(1, 0, k);
        var ids = columnItems is null ? index : columnItems.to_type(ScalarType.Int64).gather(1, index);
        return ids.MaskedFill(values.isneginf(), -1).MoveToOuterDisposeScope();
    }

    /// <summary>Gini index of non-negative values (0 when all are equal or all zero).</summary>
    public static double Gini(Tensor values)
    {
        using var scope = NewDisposeScope();
        var x = values.to_type(ScalarType.Float64).flatten().sort().Values;
        long n = x.shape[0];
        double total = x.sum().item<double>();
        if (n == 0 || total <= 0) return 0;
        var coef = arange(1, n + 1, dtype: ScalarType.Float64) * 2 - n - 1;
        return (coef * x).sum().item<double>() / (n * total);
    }

    private static Tensor HistoryIds(IReadOnlyList<IReadOnlyList<int>> histories, int n)
    {
        var flat = new long[histories.Sum(h => h.Count)];
        int p = 0;
        foreach (var h in histories)
            foreach (var i in h)
            {
                if ((uint)i >= (uint)n) throw new ArgumentException($"history item {i} is outside the grouped catalog [0, {n})", nameof(histories));
                flat[p++] = i;
            }
        return tensor(flat);
    }

    /// <summary>Each group's share of the memberships of <paramref name="ids"/> (zeros when none is grouped).</summary>
    private static Tensor Shares(Tensor membership, Tensor ids)
    {
        var counts = ids.numel() == 0 ? zeros(membership.shape[1], dtype: ScalarType.Float64) : membership.index_select(0, ids).sum(dim: 0);
        var total = counts.sum();
        return total.item<double>() > 0 ? counts / total : counts;
    }
}
