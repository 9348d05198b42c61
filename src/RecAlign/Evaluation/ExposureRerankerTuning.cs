using RecAlign.Data;
using RecAlign.Models;
using RecAlign.Prompts;
using static TorchSharp.torch;

namespace RecAlign.Evaluation;

/// <summary>One λ tried on validation: its accuracy (NDCG@10) and unfairness (MGU@K).</summary>
public sealed record RerankTrial(double Lambda, double Accuracy, double Mgu);

/// <summary>What <see cref="ExposureRerankerTuning.Fit"/> chose, on which protocol (<c>catalog</c> or <c>candidates</c>), and every trial.</summary>
public sealed record RerankTuning(string Protocol, IReadOnlyList<double> GroupPenalty, double Lambda, IReadOnlyList<RerankTrial> Trials)
{
    public ExposureReranker Apply(IRecommender inner, ItemGroups groups, bool ownsInner = false) => new(inner, groups, GroupPenalty, Lambda, ownsInner);
}

/// <summary>
/// Fits <see cref="ExposureReranker"/> on validation users only: the unchanged model's group unfairness GU_g@K gives the
/// penalty (<see cref="ExposureReranker.PenaltyOf"/>); λ is the grid value with the lowest validation MGU@K among those that keep at least
/// (1 − <c>maxAccuracyDrop</c>) of the unchanged model's validation NDCG@10 (λ = 0 always qualifies; ties go to the
/// smaller λ). A model with a catalog is tuned on full-catalog rankings, one without on its candidate lists. The
/// model scores the validation users once; every λ re-ranks those scores.
/// </summary>
public static class ExposureRerankerTuning
{
    /// <summary>λ in standard deviations of a user's scores that the most over-exposed group pays.</summary>
    public static readonly IReadOnlyList<double> DefaultLambdas = [0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2];

    public static RerankTuning Fit(IRecommender inner, ItemGroups groups, IReadOnlyList<SequenceExample> validation,
        IReadOnlyList<CandidateQuestion> validationQuestions, IReadOnlyList<double>? lambdas = null, double maxAccuracyDrop = 0.05, int k = 10)
    {
        lambdas ??= DefaultLambdas;
        if (lambdas.Count == 0 || lambdas.Any(l => !double.IsFinite(l) || l < 0)) throw new ArgumentException("λ grid must be non-empty, finite and ≥ 0", nameof(lambdas));
        if (!(maxAccuracyDrop >= 0 && maxAccuracyDrop <= 1)) throw new ArgumentOutOfRangeException(nameof(maxAccuracyDrop), maxAccuracyDrop, "must be in [0, 1]");
        using var scope = NewDisposeScope();
        bool catalog = inner.Catalog is not null && validation.Count > 0;
        if (!catalog && validationQuestions.Count == 0) throw new ArgumentException($"no validation users to tune {inner.Name}'s re-ranking on");
        string prefix = catalog ? Metrics.CatalogPrefix : "";
        Tensor scores;
        Func<Tensor, EvaluationResult> evaluate;
        if (catalog)
        {
            var parts = new List<Tensor>();
            for (int start = 0; start < validation.Count; start += 256)
                parts.Add(inner.ScoreCatalog(validation.Skip(start).Take(256).Select(e => e.History).ToList()));
            scores = cat(parts, 0);
            foreach (var p in parts) p.Dispose();
            evaluate = s => RecommenderEvaluator.CatalogFromScores(s, validation, groups: groups);
        }
        else
        {
            scores = inner.ScoreCandidates(validationQuestions);
            evaluate = s => RecommenderEvaluator.CandidateFairness(s, validationQuestions, groups, [k])
                .Merge(CandidateEvaluator.FromScores(s, validationQuestions, [1, 10]));
        }
        var unchanged = evaluate(scores);
        var penalty = ExposureReranker.PenaltyOf(groups.Names.Select(g =>
            unchanged[prefix + GroupFairness.RecommendedShareKey(k, g)] - unchanged[prefix + GroupFairness.HistoryShareKey(g)]).ToList());
        var itemPenalty = ExposureReranker.ItemPenalty(groups, penalty);
        var penaltyOf = catalog ? itemPenalty.unsqueeze(0)
            : ExposureReranker.PenaltyAt(itemPenalty, CandidateIds.Matrix(validationQuestions, (int)scores.shape[1], groups.ItemCount, "re-ranking by item group"));
        string accuracyKey = prefix + Metrics.NdcgKey(10), fairnessKey = prefix + GroupFairness.MguKey(k);
        var trials = new List<RerankTrial>();
        foreach (var lambda in lambdas.Append(0).Distinct().Order())
        {
            using var trialScope = NewDisposeScope();
            var result = lambda == 0 ? unchanged : evaluate(ExposureReranker.Rerank(scores, penaltyOf, lambda));
            trials.Add(new RerankTrial(lambda, result[accuracyKey], result[fairnessKey]));
        }
        double floor = (1 - maxAccuracyDrop) * unchanged[accuracyKey];
        var best = trials.Where(t => t.Lambda == 0 || t.Accuracy >= floor).MinBy(t => (t.Mgu, t.Lambda))!;
        return new RerankTuning(catalog ? "catalog" : "candidates", penalty, best.Lambda, trials);
    }
}
