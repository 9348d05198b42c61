using RecAlign.Numerics;
using RecAlign.Prompts;
using RecAlign.Inference;
using static TorchSharp.torch;

namespace RecAlign.Evaluation;

/// <summary>
/// Metrics for generated answers (generate mode), the counterpart of <c>CandidateEvaluator</c>'s rank mode:
/// candidate-list HitRatio@1/ValidRatio through an <see cref="AnswerMatcher"/>, and full-catalog HR@K/NDCG@K/MRR
/// through a <see cref="CatalogGrounder"/>.
/// </summary>
public static class GenerationMetrics
{
    /// <summary><c>hr1</c>, <c>valid_ratio</c>, <c>n</c> for answers to candidate questions. A hit is a valid answer
    /// whose matched title is the target's (titles compared normalised, so a duplicated target title still counts).
    /// <paramref name="sdpoRule"/> = S-DPO's raw substring rule (<see cref="AnswerMatcher.MatchSdpo"/>).</summary>
    public static EvaluationResult CandidateLists(IReadOnlyList<string> answers, IReadOnlyList<CandidateQuestion> questions,
        AnswerMatcher? matcher = null, bool sdpoRule = false, bool keepDetails = false)
    {
        if (answers.Count != questions.Count)
            throw new ArgumentException($"{answers.Count} answers for {questions.Count} questions", nameof(answers));
        matcher ??= new AnswerMatcher();
        int hits = 0, valid = 0;
        var details = keepDetails ? new List<ExampleDetail>(answers.Count) : null;
        for (int i = 0; i < answers.Count; i++)
        {
            var q = questions[i];
            var m = sdpoRule ? AnswerMatcher.MatchSdpo(answers[i], q.Candidates) : matcher.Match(answers[i], q.Candidates);
            bool hit = m.Index is int j && (j == q.TargetIndex
                || AnswerMatcher.Normalize(q.Candidates[j]) == AnswerMatcher.Normalize(q.Target));
            if (m.IsValid) valid++;
            if (hit) hits++;
            details?.Add(new ExampleDetail(i) { Target = q.TargetIndex, Matched = m.Index, Answer = answers[i], Valid = m.IsValid, Hit = hit });
        }
        int n = answers.Count;
        return new EvaluationResult(n, new Dictionary<string, double>
        {
            [Metrics.HitRatioAt1Key] = n == 0 ? 0 : (double)hits / n,
            [Metrics.ValidRatioKey] = n == 0 ? 0 : (double)valid / n,
        }, details);
    }

    /// <summary><c>hr1</c>, <c>valid_ratio</c>, then HR@K, NDCG@K, MRR and ORRatio@K over the whole catalog: each
    /// whole answer (never cut at a comma or full stop: "Lion King, The" is one title) is grounded to a score per item
    /// (exact title first, then similarity) and the target item's rank is taken, with <paramref name="histories"/>
    /// (optional) excluded from the ranking as in sequential recommenders' full-ranking protocol. <c>hr1</c> = share
    /// of targets ranked first (HR@1 over the catalog); <c>valid_ratio</c> = share of answers that name a catalog item
    /// exactly (normalised title, <see cref="CatalogGrounder.ExactMatches"/>); the rest were grounded by similarity only.
    /// A target of −1 is not in the ranking universe: it counts as a miss in every rank metric, whose denominator is
    /// all answers (as CausalDPO's HR/NDCG), and its list is left out of ORRatio@K, whose N counts the found targets.</summary>
    public static EvaluationResult FullCatalog(IReadOnlyList<string> answers, IReadOnlyList<int> targetItems, CatalogGrounder grounder,
        IReadOnlyList<int> ks, IReadOnlyList<IReadOnlyList<int>>? histories = null, bool keepDetails = false, int batchSize = 256)
    {
        if (answers.Count != targetItems.Count)
            throw new ArgumentException($"{answers.Count} answers for {targetItems.Count} targets", nameof(answers));
        if (histories is not null && histories.Count != answers.Count)
            throw new ArgumentException($"{histories.Count} histories for {answers.Count} answers", nameof(histories));
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "batch size must be ≥ 1");
        int topK = ks.Count == 0 ? 1 : ks.Max();
        // Batches bound the [batch, catalog] score matrix; ranks and top-K ids are gathered and the metrics computed once.
        var ranks = new List<double>(answers.Count);
        var tops = new List<Tensor>();
        try
        {
            for (int start = 0; start < answers.Count; start += batchSize)
            {
                using var scope = NewDisposeScope();
                int count = Math.Min(batchSize, answers.Count - start);
                var scores = grounder.Scores(answers.Skip(start).Take(count).ToList());
                var batchTargets = targetItems.Skip(start).Take(count).ToArray();
                var found = Enumerable.Range(0, count).Where(i => batchTargets[i] >= 0).Select(i => (long)i).ToArray();
                if (found.Length < count) scores = scores.index_select(0, tensor(found));
                var targets = tensor(found.Select(i => (long)batchTargets[i]).ToArray());
                var batchHistories = histories?.Skip(start).Take(count).ToList();
                var foundHistories = batchHistories is null ? null : found.Select(i => batchHistories[(int)i]).ToList();
                var r = foundHistories is null
                    ? Metrics.Ranks(scores, targets, TieBreak.Pessimistic)
                    : Metrics.Ranks(scores, targets, foundHistories, TieBreak.Pessimistic);
                var foundRanks = r.data<long>().ToArray();
                for (int i = 0, f = 0; i < count; i++)
                    ranks.Add(f < found.Length && found[f] == i ? foundRanks[f++] : double.PositiveInfinity);
                var shown = foundHistories is null ? scores
                    : scores.MaskedFill(Models.RecommenderExtensions.ItemMask(foundHistories, (int)scores.shape[1]), float.NegativeInfinity);
                tops.Add(GroupFairness.TopIds(shown, topK).MoveToOuterDisposeScope());
            }
            using var top = tops.Count == 0 ? zeros(0, 1, dtype: ScalarType.Int64) : cat(tops, 0);
            var exposure = Metrics.OverRecommendation(top, ks);
            using var rankTensor = tensor(ranks.ToArray());
            var result = Metrics.FromRanks(rankTensor, ks, keepDetails);
            var valid = answers.Select(a => grounder.ExactMatches(a).Count > 0).ToArray();
            int n = answers.Count;
            var metrics = new List<KeyValuePair<string, double>>
            {
                new(Metrics.HitRatioAt1Key, n == 0 ? 0 : (double)ranks.Count(r => r == 1) / n),
                new(Metrics.ValidRatioKey, n == 0 ? 0 : (double)valid.Count(v => v) / n),
            };
            metrics.AddRange(result.Metrics);
            metrics.AddRange(exposure.Metrics);
            var details = keepDetails && result.Details is not null
                ? result.Details.Select((d, i) => d with { Target = targetItems[i] >= 0 ? targetItems[i] : null, Answer = answers[i], Valid = valid[i] }).ToList()
                : null;
            return new EvaluationResult(result.N, metrics, details);
        }
        finally
        {
            foreach (var t in tops) t.Dispose();
        }
    }
}
