using RecAlign.Numerics;
using RecAlign.Data;
using RecAlign.Models;
using RecAlign.Prompts;
using static TorchSharp.torch;

namespace RecAlign.Evaluation;

/// <summary>
/// The one evaluation for every <see cref="IRecommender"/>: candidate lists (the lists an LM answers: <c>hr1</c>,
/// HR/NDCG/MRR@K) and the full catalog with RecBole's full-sort definitions (history masked, pessimistic ties,
/// HR/NDCG/MRR@K for K in 1, 5, 10, 20), batched: one scoring call per batch of users, never a per-user loop.
/// </summary>
public static class RecommenderEvaluator
{
    public static readonly IReadOnlyList<int> CatalogKs = [1, 5, 10, 20];

    /// <summary>Candidate-list metrics: <c>hr1</c> (= hr@1; <c>valid_ratio</c> is 1 for a ranking), hr@K, ndcg@K, mrr;
    /// with <paramref name="groups"/>, also the item-side fairness of each list's top K (<see cref="GroupFairness"/>;
    /// the questions must carry catalog ids).</summary>
    public static EvaluationResult Candidates(IRecommender recommender, IReadOnlyList<CandidateQuestion> questions, IReadOnlyList<int>? ks = null,
        ItemGroups? groups = null)
    {
        using var scores = recommender.ScoreCandidates(questions);
        var result = CandidateEvaluator.FromScores(scores, questions, ks);
        return groups is null ? result : result.Merge(CandidateFairness(scores, questions, groups));
    }

    /// <summary>Item-side fairness of candidate-list rankings: each list's top K against the users' whole histories.</summary>
    public static EvaluationResult CandidateFairness(Tensor scores, IReadOnlyList<CandidateQuestion> questions, ItemGroups groups, IReadOnlyList<int>? ks = null)
    {
        using var scope = NewDisposeScope();
        var columnItems = CandidateIds.Matrix(questions, (int)scores.shape[1], groups.ItemCount, "item-side fairness");
        var histories = questions.Select(q => q.Items!.History).ToList();
        // Padding columns score −∞, so TopIds leaves them out.
        var top = GroupFairness.TopIds(scores, (ks ?? GroupFairness.DefaultKs).Max(), columnItems);
        return GroupFairness.FromTopK(top, histories, groups, ks);
    }

    /// <summary>
    /// Full-catalog metrics (<c>catalog_hr@K</c>, <c>catalog_ndcg@K</c>, <c>catalog_mrr@K</c>, <c>catalog_mrr</c>, and
    /// <c>catalog_orratio@K</c> of the users' top K) of next items <paramref name="examples"/> (ids of the recommender's catalog): every item
    /// ranked, the history's items excluded (<paramref name="excludeHistory"/>; the target itself never is).
    /// </summary>
    /// <param name="groups">Also the item-side fairness (<see cref="GroupFairness"/>, <c>catalog_mgu@K</c>...) of each
    /// user's top K (history masked as above) against the users' histories; the groups must cover the recommender's catalog.</param>
    public static EvaluationResult Catalog(IRecommender recommender, IReadOnlyList<SequenceExample> examples, IReadOnlyList<int>? ks = null,
        bool excludeHistory = true, int batchSize = 256, ItemGroups? groups = null)
    {
        var catalog = recommender.Catalog ?? throw new NotSupportedException($"{recommender.Name} ranks candidate lists only; full-catalog evaluation needs a recommender with a catalog");
        if (groups is not null && groups.ItemCount != catalog.Count)
            throw new ArgumentException($"the item groups cover {groups.ItemCount} items but {recommender.Name}'s catalog has {catalog.Count}", nameof(groups));
        return Catalog((_, batch) => recommender.ScoreCatalog(batch.Select(e => e.History).ToList()), catalog.Count, examples, ks, excludeHistory, batchSize, groups);
    }

    /// <summary><see cref="Catalog(IRecommender, IReadOnlyList{SequenceExample}, IReadOnlyList{int}?, bool, int, ItemGroups?)"/>
    /// of catalog scores already computed, [examples, N] (e.g. one model's scores re-ranked several ways).</summary>
    public static EvaluationResult CatalogFromScores(Tensor scores, IReadOnlyList<SequenceExample> examples, IReadOnlyList<int>? ks = null,
        bool excludeHistory = true, ItemGroups? groups = null, int batchSize = 256)
    {
        if (scores.dim() != 2 || scores.shape[0] != examples.Count)
            throw new ArgumentException($"scores must be [{examples.Count}, N], got [{string.Join(", ", scores.shape)}]", nameof(scores));
        if (groups is not null && groups.ItemCount != scores.shape[1])
            throw new ArgumentException($"the item groups cover {groups.ItemCount} items but the scores rank {scores.shape[1]}", nameof(groups));
        return Catalog((start, batch) => scores.narrow(0, start, batch.Count).alias(), (int)scores.shape[1], examples, ks, excludeHistory, batchSize, groups);
    }

    private static EvaluationResult Catalog(Func<int, IReadOnlyList<SequenceExample>, Tensor> scoreBatch, int catalogCount, IReadOnlyList<SequenceExample> examples,
        IReadOnlyList<int>? ks, bool excludeHistory, int batchSize, ItemGroups? groups)
    {
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "batch size must be ≥ 1");
        ks ??= CatalogKs;
        // Each user's top K (history masked as the ranks are) feeds ORRatio@K for every K, and fairness when grouped.
        int topK = Math.Max(ks.Count == 0 ? 1 : ks.Max(), groups is null ? 1 : GroupFairness.DefaultKs.Max());
        var ranks = new List<Tensor>();
        var tops = new List<Tensor>();
        try
        {
            for (int start = 0; start < examples.Count; start += batchSize)
            {
                using var scope = NewDisposeScope();
                var batch = examples.Skip(start).Take(batchSize).ToList();
                var histories = batch.Select(e => e.History).ToList();
                foreach (var e in batch)
                    if ((uint)e.Target >= (uint)catalogCount) throw new ArgumentException($"target {e.Target} is outside the catalog [0, {catalogCount})");
                var scores = scoreBatch(start, batch);
                var targets = tensor(batch.Select(e => (long)e.Target).ToArray());
                var r = excludeHistory ? Metrics.Ranks(scores, targets, histories) : Metrics.Ranks(scores, targets);
                ranks.Add(r.MoveToOuterDisposeScope());
                var shown = excludeHistory ? scores.MaskedFill(RecommenderExtensions.ItemMask(histories, catalogCount), float.NegativeInfinity) : scores;
                tops.Add(GroupFairness.TopIds(shown, topK).MoveToOuterDisposeScope());
            }
            using var all = ranks.Count == 0 ? zeros(0, dtype: ScalarType.Int64) : cat(ranks, 0);
            var result = Metrics.FromRanks(all, ks);
            using var top = tops.Count == 0 ? zeros(0, topK, dtype: ScalarType.Int64) : cat(tops, 0);
            result = result.Merge(Metrics.OverRecommendation(top, ks));
            if (groups is not null)
                result = result.Merge(GroupFairness.FromTopK(top, examples.Select(e => e.History).ToList(), groups));
            return result.WithPrefix(Metrics.CatalogPrefix);
        }
        finally
        {
            foreach (var r in ranks) r.Dispose();
            foreach (var t in tops) t.Dispose();
        }
    }
}
