using RecAlign.Data;
using RecAlign.Data.Candidates;
using RecAlign.Data.Splits;
using RecAlign.Data.Synthetic;
using RecAlign.Evaluation;
using RecAlign.Inference;
using RecAlign.Prompts;

namespace RecAlign.Pipelines;

/// <summary>How far a learned model could go on a synthetic world: HR@1 and NDCG@5 of rankers built from the world's
/// ground truth (and of count popularity) on the leave-one-out test lists, so a model's score can be read against the
/// Bayes-optimal one and against what the training period alone could teach.</summary>
public static class SyntheticHeadroom
{
    public sealed record Row(string Ranker, string Description, double Hr1, double Ndcg5);

    public static IReadOnlyList<Row> Compute(SyntheticWorld world, int candidates = 20, ulong seed = 42)
    {
        var split = Splitter.Split(world.Dataset, new SplitConfig { Method = SplitMethod.LeaveOneOut });
        var examples = CandidateSampler.For(new CandidateConfig { Count = candidates, Seed = seed }, world.Catalog.Count).Sample(split.Test);
        var questions = examples.Select(e => new CandidateQuestion("", e.Candidates.Select(world.Catalog.Title).ToList(), CandidateQuestions.TargetIndex(e))).ToList();
        var truth = world.GroundTruth(split.Test);
        var allTargets = CandidateSampler.PopularityWeights(split.Train.Select(e => e.Target), world.Catalog.Count);
        var latestTargets = CandidateSampler.PopularityWeights(Quickstart.LatestTwoPrefixes(split.Train).Latest.Select(e => e.Target), world.Catalog.Count);
        var rankers = new (string Name, string Description, Func<CandidateExample, int, double> Score)[]
        {
            ("oracle", "true logit in the test target's period (Bayes-optimal)", truth),
            ("oracle_no_exposure", "true logit without the platform's exposure term", // the only period-dependent term
                (e, i) => world.Score(e.User, e.History, i, SyntheticPeriod.Train) - world.Exposure(i, SyntheticPeriod.Train)),
            ("oracle_train_exposure", "true logit with the training period's exposure (all a training-period learner can know)",
                (e, i) => world.Score(e.User, e.History, i, SyntheticPeriod.Train)),
            ("popularity_all", "count of every training target", (_, i) => allTargets[i]),
            ("popularity_latest", "count of each user's latest training target (the quickstart's popularity)", (_, i) => latestTargets[i]),
        };
        var rows = rankers.Select(r =>
        {
            var m = Baselines.Oracle(questions, examples, r.Score);
            return new Row(r.Name, r.Description, m[Metrics.HitRatioAt1Key], m["ndcg@5"]);
        }).ToList();
        using var randomRecommender = new Models.Baselines.RandomRecommender(seed);
        var random = RecommenderEvaluator.Candidates(randomRecommender, questions).Metrics;
        rows.Add(new Row("random", "uniform scores", random[Metrics.HitRatioAt1Key], random["ndcg@5"]));
        return rows;
    }
}
