using RecAlign.Numerics;
using TorchSharp;
using static TorchSharp.torch;

namespace RecAlign.Evaluation;

/// <summary>How a ranking treats items whose score equals the target's.</summary>
public enum TieBreak
{
    /// <summary>Rank = 1 + #(other items with score ≥ target's): ties count against the target (the default; a
    /// model that gives every item the same score gets the worst rank, not the best).</summary>
    Pessimistic,

    /// <summary>Rank = 1 + #(items with score &gt; target's): ties count for the target.</summary>
    Optimistic,
}

/// <summary>
/// Recommendation metrics as pure functions, shared by every model. Keys produced (see <see cref="EvaluationResult"/>):
/// <list type="bullet">
/// <item><c>hr1</c>, <c>valid_ratio</c>: S-DPO's HitRatio@1 and ValidRatio over generated answers matched to a
/// candidate list (an answer that matches no candidate, or several, is invalid and a miss).</item>
/// <item><c>hr@k</c>, <c>ndcg@k</c>, <c>mrr@k</c>, <c>mrr</c>: ranking metrics with a single relevant item:
/// HR@K = [rank ≤ K], NDCG@K = [rank ≤ K]/log2(rank+1), MRR = 1/rank, MRR@K = [rank ≤ K]/rank, averaged over examples.
/// Ranks are 1-based; an item missing from a ranked list has rank ∞ and scores 0 on every metric.</item>
/// <item><c>orratio@k</c>: CausalDPO's over-recommendation ratio of top-K lists (<see cref="OverRecommendation"/>).</item>
/// </list>
/// </summary>
public static class Metrics
{
    /// <summary>Prefix of metrics of generated answers (<c>gen_hr1</c>, <c>gen_valid_ratio</c>).</summary>
    public const string GeneratedPrefix = "gen_";
    /// <summary>Prefix of metrics of whole-catalog rankings (<c>catalog_hr@10</c>, <c>catalog_ndcg@10</c>, <c>catalog_mrr</c>).</summary>
    public const string CatalogPrefix = "catalog_";

    public const string HitRatioAt1Key = "hr1";
    public const string ValidRatioKey = "valid_ratio";
    public const string MrrKey = "mrr";
    public static string HitRatioKey(int k) => $"hr@{k}";
    public static string NdcgKey(int k) => $"ndcg@{k}";
    public static string MrrKeyAt(int k) => $"mrr@{k}";
    public static string OverRecommendationKey(int k) => $"orratio@{k}";

    /// <summary>Items whose exposure <see cref="OverRecommendation"/> sums (CausalDPO's choice).</summary>
    public const int OverRecommendedItems = 3;

    /// <summary>
    /// ORRatio@K (CausalDPO, lower is better): top-K appearances of the 3 most-recommended items divided by K·N, over
    /// the N lists in <paramref name="top"/> (int64 [N, K'] item ids, best first, −1 for an empty slot; K &gt; K' uses
    /// the whole lists): N users all shown the same ten items give ORRatio@10 = 3N/(10N) = 0.3, its maximum at K = 10;
    /// lists spread evenly over I items approach 3/I. Counts restart for every K (the released evaluate.py kept one counter across K = 10 and 20,
    /// which halved ORRatio@20); callers pass the lists of samples whose target is in the ranking universe, as N is
    /// defined there.
    /// </summary>
    public static EvaluationResult OverRecommendation(Tensor top, IReadOnlyList<int> ks)
    {
        if (top.dim() != 2) throw new ArgumentException($"top must be [N, K], got shape [{string.Join(", ", top.shape)}]", nameof(top));
        foreach (var k in ks)
            if (k <= 0) throw new ArgumentException($"every K must be positive, got {k}", nameof(ks));
        using var scope = NewDisposeScope();
        long n = top.shape[0];
        var ids = top.to_type(int64).cpu();
        var metrics = new OrderedDictionary<string, double>();
        foreach (var k in ks.Distinct().Order())
        {
            var shown = ids.narrow(1, 0, Math.Min(k, ids.shape[1])).reshape(-1);
            shown = shown.index_select(0, shown.ge(0).nonzero().squeeze(1));
            double value = 0;
            if (n > 0 && shown.numel() > 0)
            {
                var counts = shown.bincount(null);
                value = counts.topk((int)Math.Min(OverRecommendedItems, counts.shape[0])).values.sum().item<long>() / ((double)k * n);
            }
            metrics[OverRecommendationKey(k)] = value;
        }
        return new EvaluationResult((int)n, metrics);
    }

    /// <summary>Fraction of examples whose matched item equals the target (unmatched answers are misses).</summary>
    public static double HitRatioAt1(IReadOnlyList<int?> matched, IReadOnlyList<int> targets)
    {
        CheckSameLength(matched.Count, targets.Count, nameof(matched), nameof(targets));
        if (matched.Count == 0) return 0;
        int hits = 0;
        for (int i = 0; i < matched.Count; i++)
            if (matched[i] == targets[i]) hits++;
        return (double)hits / matched.Count;
    }

    /// <summary>Fraction of examples whose answer matched some candidate.</summary>
    public static double ValidRatio(IReadOnlyList<int?> matched)
    {
        if (matched.Count == 0) return 0;
        int valid = 0;
        foreach (var m in matched)
            if (m.HasValue) valid++;
        return (double)valid / matched.Count;
    }

    /// <summary><c>hr1</c>, <c>valid_ratio</c> and <c>n</c> for generated answers already matched to item ids
    /// (null = the answer matched no candidate).</summary>
    public static EvaluationResult FromGeneratedAnswers(IReadOnlyList<int?> matched, IReadOnlyList<int> targets,
        IReadOnlyList<string>? answers = null, bool keepDetails = false)
    {
        CheckSameLength(matched.Count, targets.Count, nameof(matched), nameof(targets));
        if (answers is not null) CheckSameLength(answers.Count, targets.Count, nameof(answers), nameof(targets));
        var metrics = new OrderedDictionary<string, double>
        {
            [HitRatioAt1Key] = HitRatioAt1(matched, targets),
            [ValidRatioKey] = ValidRatio(matched),
        };
        List<ExampleDetail>? details = null;
        if (keepDetails)
        {
            details = new List<ExampleDetail>(matched.Count);
            for (int i = 0; i < matched.Count; i++)
                details.Add(new ExampleDetail(i)
                {
                    Target = targets[i], Matched = matched[i], Answer = answers?[i],
                    Valid = matched[i].HasValue, Hit = matched[i] == targets[i],
                });
        }
        return new EvaluationResult(matched.Count, metrics, details);
    }

    /// <summary>
    /// 1-based rank of each row's target column in <paramref name="scores"/> [N, C] (higher score = better).
    /// <paramref name="exclude"/> (bool [N, C], optional) removes items from the ranking by setting their scores to
    /// -∞, e.g. the user's history in full-catalog ranking; a row's target column is never excluded. Returns int64 [N].
    /// A NaN target score is rejected; NaN scores of other items never count as ranking above the target.
    /// </summary>
    public static Tensor Ranks(Tensor scores, Tensor targets, TieBreak tieBreak = TieBreak.Pessimistic, Tensor? exclude = null)
    {
        if (scores.dim() != 2) throw new ArgumentException($"scores must be [N, C], got shape [{string.Join(", ", scores.shape)}]", nameof(scores));
        long n = scores.shape[0], c = scores.shape[1];
        if (targets.dim() != 1 || targets.shape[0] != n)
            throw new ArgumentException($"targets must be [N] = [{n}], got shape [{string.Join(", ", targets.shape)}]", nameof(targets));
        if (exclude is not null && (exclude.dim() != 2 || exclude.shape[0] != n || exclude.shape[1] != c))
            throw new ArgumentException($"exclude mask must be [N, C] = [{n}, {c}], got shape [{string.Join(", ", exclude.shape)}]", nameof(exclude));
        using var scope = NewDisposeScope();
        if (n == 0) return zeros(0, dtype: int64).MoveToOuterDisposeScope();
        if (c == 0) throw new ArgumentException("scores has no columns", nameof(scores));
        var t = targets.to_type(int64).to(scores.device);
        long tmin = t.min().item<long>(), tmax = t.max().item<long>();
        if (tmin < 0 || tmax >= c) throw new ArgumentException($"target column index out of range [0, {c}): min {tmin}, max {tmax}", nameof(targets));

        var s = scores.is_floating_point() ? scores : scores.to_type(float64);
        var col = t.unsqueeze(1);
        var targetScore = s.gather(1, col);
        // Only the targets' scores are checked (N values, not N·C): a NaN elsewhere compares false and so ranks below
        // every item, which is deterministic; a NaN target would make its rank meaningless.
        if (targetScore.isnan().any().item<bool>()) throw new ArgumentException("a target's score is NaN", nameof(scores));
        if (exclude is not null)
        {
            // Masked items drop to -∞; then each row's target score is written back, so a history that contains the
            // target (repeat consumption) cannot hide it.
            s = s.MaskedFill(exclude.to_type(@bool).to(s.device), float.NegativeInfinity);
            s.scatter_(1, col, targetScore);
        }
        var better = tieBreak == TieBreak.Pessimistic
            ? s.ge(targetScore).sum(1, type: int64) - 1 // the target itself is ≥ its own score
            : s.gt(targetScore).sum(1, type: int64);
        return (better + 1).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Like <see cref="Ranks(Tensor, Tensor, TieBreak, Tensor?)"/> with items excluded per row given as id lists (e.g.
    /// histories). Cheaper for large catalogs: no [N, C] mask or masked copy is built; the excluded items' scores are
    /// gathered ([N, H]) and those that would have outranked the target are subtracted. Duplicates and the target
    /// itself in a list are ignored.
    /// </summary>
    public static Tensor Ranks(Tensor scores, Tensor targets, IReadOnlyList<IReadOnlyList<int>> exclude, TieBreak tieBreak = TieBreak.Pessimistic)
    {
        using var scope = NewDisposeScope();
        var ranks = Ranks(scores, targets, tieBreak);
        if (exclude.Count != scores.shape[0])
            throw new ArgumentException($"{exclude.Count} exclusion lists for {scores.shape[0]} score rows", nameof(exclude));
        var ids = PaddedIds(exclude, (int)scores.shape[1]).to(scores.device); // [N, H], -1 = padding
        if (ids.shape[1] == 0) return ranks.MoveToOuterDisposeScope();
        var t = targets.to_type(int64).to(scores.device).unsqueeze(1);
        var sorted = ids.sort(dim: 1).Values;
        // Count each excluded item once: drop padding, the target, and repeats (adjacent equal ids after sorting).
        var repeat = cat([zeros(sorted.shape[0], 1, dtype: @bool, device: sorted.device), sorted.narrow(1, 1, sorted.shape[1] - 1).eq(sorted.narrow(1, 0, sorted.shape[1] - 1))], 1);
        var valid = sorted.ge(0).logical_and(sorted.ne(t)).logical_and(repeat.logical_not());
        var s = scores.is_floating_point() ? scores : scores.to_type(float64);
        var targetScore = s.gather(1, t);
        var hs = s.gather(1, sorted.clamp_min(0));
        var outranked = tieBreak == TieBreak.Pessimistic ? hs.ge(targetScore) : hs.gt(targetScore);
        var correction = outranked.logical_and(valid).sum(1, type: int64);
        return (ranks - correction).MoveToOuterDisposeScope();
    }

    /// <summary>HR@K, NDCG@K, MRR@K and MRR with per-row excluded item ids (histories); see the id-list
    /// <see cref="Ranks(Tensor, Tensor, IReadOnlyList{IReadOnlyList{int}}, TieBreak)"/>.</summary>
    public static EvaluationResult FromScores(Tensor scores, Tensor targets, IReadOnlyList<int> ks,
        IReadOnlyList<IReadOnlyList<int>> exclude, TieBreak tieBreak = TieBreak.Pessimistic, bool keepDetails = false)
    {
        using var scope = NewDisposeScope();
        var ranks = Ranks(scores, targets, exclude, tieBreak);
        var result = FromRanks(ranks, ks, keepDetails);
        if (keepDetails && result.Details is not null)
        {
            var tgt = targets.to_type(int64).cpu().data<long>().ToArray();
            return new EvaluationResult(result.N, result.Metrics, result.Details.Select((d, i) => d with { Target = (int)tgt[i] }).ToList());
        }
        return result;
    }

    /// <summary>HR@K, NDCG@K, MRR@K for every K in <paramref name="ks"/>, plus MRR, from a score matrix [N, C]
    /// and each row's target column [N]. See <see cref="Ranks"/> for ties and the exclusion mask.</summary>
    public static EvaluationResult FromScores(Tensor scores, Tensor targets, IReadOnlyList<int> ks,
        TieBreak tieBreak = TieBreak.Pessimistic, Tensor? exclude = null, bool keepDetails = false)
    {
        using var scope = NewDisposeScope();
        var ranks = Ranks(scores, targets, tieBreak, exclude);
        var result = FromRanks(ranks, ks, keepDetails);
        if (keepDetails && result.Details is not null)
        {
            var tgt = targets.to_type(int64).cpu().data<long>().ToArray();
            var details = result.Details.Select((d, i) => d with { Target = (int)tgt[i] }).ToList();
            return new EvaluationResult(result.N, result.Metrics, details);
        }
        return result;
    }

    /// <summary>Metrics from 1-based ranks [N] (any numeric dtype; +∞ = not ranked).</summary>
    public static EvaluationResult FromRanks(Tensor ranks, IReadOnlyList<int> ks, bool keepDetails = false)
    {
        if (ranks.dim() != 1) throw new ArgumentException($"ranks must be [N], got shape [{string.Join(", ", ranks.shape)}]", nameof(ranks));
        foreach (var k in ks)
            if (k <= 0) throw new ArgumentException($"every K must be positive, got {k}", nameof(ks));
        using var scope = NewDisposeScope();
        int n = (int)ranks.shape[0];
        var metrics = new OrderedDictionary<string, double>();
        if (n == 0)
        {
            foreach (var k in ks) { metrics[HitRatioKey(k)] = 0; metrics[NdcgKey(k)] = 0; metrics[MrrKeyAt(k)] = 0; }
            metrics[MrrKey] = 0;
            return new EvaluationResult(0, metrics, keepDetails ? [] : null);
        }
        var r = ranks.to_type(float64).cpu();
        if (r.lt(1).any().item<bool>() || r.isnan().any().item<bool>())
            throw new ArgumentException("ranks must be ≥ 1 (1-based) and not NaN", nameof(ranks));
        var reciprocal = r.reciprocal(); // 1/∞ = 0
        var gain = (r + 1).log2().reciprocal();
        foreach (var k in ks.Distinct().Order())
        {
            var inTop = r.le(k);
            metrics[HitRatioKey(k)] = inTop.to_type(float64).mean().item<double>();
            metrics[NdcgKey(k)] = where(inTop, gain, 0.0).mean().item<double>();
            metrics[MrrKeyAt(k)] = where(inTop, reciprocal, 0.0).mean().item<double>();
        }
        metrics[MrrKey] = reciprocal.mean().item<double>();
        List<ExampleDetail>? details = null;
        if (keepDetails)
        {
            var values = r.data<double>().ToArray();
            details = values.Select((v, i) => new ExampleDetail(i) { Rank = double.IsPositiveInfinity(v) ? null : v }).ToList();
        }
        return new EvaluationResult(n, metrics, details);
    }

    /// <summary>Metrics for models that emit ranked item-id lists (generative models, grounded answers): the rank is
    /// the target's first position in its list; absent = ∞. Lists may be shorter than the largest K.</summary>
    public static EvaluationResult FromRankedLists(IReadOnlyList<IReadOnlyList<int>> rankedIds, IReadOnlyList<int> targets,
        IReadOnlyList<int> ks, bool keepDetails = false)
    {
        CheckSameLength(rankedIds.Count, targets.Count, nameof(rankedIds), nameof(targets));
        var ranks = new double[targets.Count];
        for (int i = 0; i < ranks.Length; i++)
        {
            ranks[i] = double.PositiveInfinity;
            var list = rankedIds[i];
            for (int j = 0; j < list.Count; j++)
                if (list[j] == targets[i]) { ranks[i] = j + 1; break; }
        }
        using var scope = NewDisposeScope();
        var result = FromRanks(tensor(ranks), ks, keepDetails);
        if (keepDetails && result.Details is not null)
            return new EvaluationResult(result.N, result.Metrics, result.Details.Select((d, i) => d with { Target = targets[i] }).ToList());
        return result;
    }

    /// <summary>Id lists as an int64 [N, H] tensor (H = longest list), padded with -1.</summary>
    internal static Tensor PaddedIds(IReadOnlyList<IReadOnlyList<int>> lists, int catalogSize)
    {
        int h = lists.Count == 0 ? 0 : lists.Max(l => l.Count);
        var data = new long[lists.Count * h];
        Array.Fill(data, -1L);
        for (int i = 0; i < lists.Count; i++)
            for (int j = 0; j < lists[i].Count; j++)
            {
                int item = lists[i][j];
                if (item < 0 || item >= catalogSize)
                    throw new ArgumentException($"exclusion list {i} holds item {item}, outside the catalog [0, {catalogSize})", nameof(lists));
                data[i * h + j] = item;
            }
        return tensor(data, [lists.Count, h]);
    }

    private static void CheckSameLength(int a, int b, string nameA, string nameB)
    {
        if (a != b) throw new ArgumentException($"{nameA} has {a} entries but {nameB} has {b}");
    }
}
