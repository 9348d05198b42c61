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

    /// <summary>Candidate-list metrics: <c>hr1</c> (= hr@1; <c>valid_ratio</c> is 1 for a ranking), hr@K, ndcg@K, mrr.</summary>
    public static EvaluationResult Candidates(IRecommender recommender, IReadOnlyList<CandidateQuestion> questions, IReadOnlyList<int>? ks = null)
    {
        using var scores = recommender.ScoreCandidates(questions);
        return CandidateEvaluator.FromScores(scores, questions, ks);
    }

    /// <summary>
    /// Full-catalog metrics (<c>catalog_hr@K</c>, <c>catalog_ndcg@K</c>, <c>catalog_mrr@K</c>, <c>catalog_mrr</c>) of next items <paramref name="examples"/> (ids of the recommender's catalog): every item
    /// ranked, the history's items excluded (<paramref name="excludeHistory"/>; the target itself never is).
    /// </summary>
    public static EvaluationResult Catalog(IRecommender recommender, IReadOnlyList<SequenceExample> examples, IReadOnlyList<int>? ks = null,
        bool excludeHistory = true, int batchSize = 256)
    {
        var catalog = recommender.Catalog ?? throw new NotSupportedException($"{recommender.Name} ranks candidate lists only; full-catalog evaluation needs a recommender with a catalog");
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "batch size must be ≥ 1");
        var ranks = new List<Tensor>();
        try
        {
            for (int start = 0; start < examples.Count; start += batchSize)
            {
                using var scope = NewDisposeScope();
                var batch = examples.Skip(start).Take(batchSize).ToList();
                var histories = batch.Select(e => e.History).ToList();
                foreach (var e in batch)
                    if ((uint)e.Target >= (uint)catalog.Count) throw new ArgumentException($"target {e.Target} is outside the catalog [0, {catalog.Count})");
                var scores = recommender.ScoreCatalog(histories);
                var targets = tensor(batch.Select(e => (long)e.Target).ToArray());
                var r = excludeHistory ? Metrics.Ranks(scores, targets, histories) : Metrics.Ranks(scores, targets);
                ranks.Add(r.MoveToOuterDisposeScope());
            }
            using var all = ranks.Count == 0 ? zeros(0, dtype: ScalarType.Int64) : cat(ranks, 0);
            return Metrics.FromRanks(all, ks ?? CatalogKs).WithPrefix(Metrics.CatalogPrefix);
        }
        finally
        {
            foreach (var r in ranks) r.Dispose();
        }
    }
}
