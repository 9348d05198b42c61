using RecAlign.Data;
using RecAlign.Data.Candidates;
using RecAlign.Data.Splits;
using RecAlign.Data.Synthetic;
using RecAlign.Evaluation;
using RecAlign.Inference;
using RecAlign.Numerics;
using RecAlign.Prompts;

namespace RecAlign.Pipelines;

/// <summary>How far a learned model could go on a synthetic world: HR@1 and NDCG@5 of rankers built from the world's
/// ground truth (and of count popularity) on the leave-one-out test lists, so a model's score can be read against the
/// Bayes-optimal one and against what the training period alone could teach.</summary>
public static class SyntheticHeadroom
{
    public sealed record Row(string Ranker, string Description, double Hr1, double Ndcg5);

    /// <param name="models">trained recommenders (name, model) scored on the same lists, beside the ground-truth rows.</param>
    public static IReadOnlyList<Row> Compute(SyntheticWorld world, int candidates = 20, ulong seed = 42,
        IReadOnlyList<(string Name, Models.IRecommender Model)>? models = null)
    {
        var split = Splitter.Split(world.Dataset, new SplitConfig { Method = SplitMethod.LeaveOneOut });
        var examples = CandidateSampler.For(new CandidateConfig { Count = candidates, Seed = seed }, world.Catalog.Count).Sample(split.Test);
        var questions = examples.Select(e => new CandidateQuestion("", e.Candidates.Select(world.Catalog.Title).ToList(), CandidateQuestions.TargetIndex(e))
            { Items = new QuestionItems(world.Catalog, e.History, e.Candidates) }).ToList();
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
            ("oracle_no_taste", "true logit without the user's latent taste (everything else a learner could know exactly)",
                (e, i) => truth(e, i) - world.TasteTerm(e.User, e.History.Count, i)),
            ("oracle_observed_taste", "true logit with the taste inferred from the observed history (posterior predictive; what a learner could reach)",
                ObservedTaste(world, split.Test, seed)),
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
        foreach (var (name, model) in models ?? [])
        {
            var m = RecommenderEvaluator.Candidates(model, questions).Metrics;
            rows.Add(new Row(name, "a trained model on the same lists", m[Metrics.HitRatioAt1Key], m["ndcg@5"]));
        }
        return rows;
    }

    /// <summary>
    /// The Bayes-optimal ranking given what a learner observes. The oracle ranks by the user's latent taste θ, which the
    /// history reveals only in part; here θ is integrated out: prior θ ~ N(0, taste_sharpness²·I), likelihood = the
    /// probability of each observed choice under the world's own softmax with every other term exact, posterior by
    /// importance-weighting prior samples, and p(i | history) = E_θ|history[softmax(logit(θ))_i]. θ's drift is ignored
    /// (held fixed over the history), so this is a slight underestimate of the observable optimum. Items sharing their
    /// (primary, secondary) genres share their taste term, so every sum over items runs over those groups. Each user's
    /// scores are computed when first asked for (a pipeline evaluates a subset of <paramref name="evaluation"/>).
    /// </summary>
    public static Func<CandidateExample, int, double> ObservedTaste(SyntheticWorld world, IReadOnlyList<SequenceExample> evaluation, ulong seed, int samples = 1000)
    {
        int n = world.Config.Items, genres = world.Config.Genres;
        var group = new int[n];
        var groups = new Dictionary<(int, int), int>();
        for (int i = 0; i < n; i++)
        {
            var key = (world.PrimaryGenre(i), world.SecondaryGenre(i));
            if (!groups.TryGetValue(key, out var g)) groups[key] = g = groups.Count;
            group[i] = g;
        }
        int c = groups.Count;
        var loadings = new double[c * genres];
        foreach (var ((primary, secondary), g) in groups)
        {
            loadings[g * genres + primary] += world.Config.GenreWeight;
            if (secondary >= 0) loadings[g * genres + secondary] += 0.5 * world.Config.GenreWeight;
        }
        // The prior samples' taste per group, [M, C], kept as an array so no tensor outlives the call that made it.
        double[] tasteSamples;
        using (TorchSharp.torch.NewDisposeScope())
        {
            using var generator = new TorchSharp.torch.Generator(seed ^ 0x7a57e);
            var theta = TorchSharp.torch.randn([samples, genres], generator: generator, dtype: TorchSharp.torch.ScalarType.Float64).Times(world.Config.TasteSharpness);
            tasteSamples = theta.matmul(TorchSharp.torch.tensor(loadings, [c, genres]).t()).data<double>().ToArray();
        }
        var byUser = evaluation.ToDictionary(e => e.User);
        var timestamps = new Lazy<Dictionary<int, long[]>>(() => world.Dataset.Sequences().ToDictionary(u => u.User, u => u.Timestamps));
        var scores = new System.Collections.Concurrent.ConcurrentDictionary<int, double[]>();

        double[] Scores(int user)
        {
            var e = byUser[user];
            using var userScope = TorchSharp.torch.NewDisposeScope();
            int steps = e.History.Count;
            var logits = new double[n];
            // Per step k (choice k, then the evaluated step): log Σ_{i in group} exp(rest_i), rest = the true logit minus its taste term.
            var logMass = new double[(steps + 1) * c];
            var chosenGroup = new long[steps];
            var chosenRest = new double[steps];
            var targetRest = new double[n];
            for (int k = 0; k <= steps; k++)
            {
                var period = world.PeriodOf(k < steps ? timestamps.Value[e.User][k] : e.TargetTimestamp);
                var context = e.History.Take(k).ToArray();
                world.Logits(e.User, context, period, logits);
                var mass = new double[c];
                for (int i = 0; i < n; i++)
                {
                    double rest = logits[i] - world.TasteTerm(e.User, k, i);
                    if (k == steps) targetRest[i] = rest;
                    if (double.IsNegativeInfinity(rest)) continue;
                    mass[group[i]] += Math.Exp(rest);
                }
                for (int g = 0; g < c; g++) logMass[k * c + g] = Math.Log(mass[g]);
                if (k < steps)
                {
                    chosenGroup[k] = group[e.History[k]];
                    chosenRest[k] = logits[e.History[k]] - world.TasteTerm(e.User, k, e.History[k]);
                }
            }
            var tasteByGroup = TorchSharp.torch.tensor(tasteSamples, [samples, c]);                          // [M, C]
            var massT = TorchSharp.torch.tensor(logMass, [steps + 1, c]);                                   // [K+1, C]
            var normalisers = tasteByGroup.unsqueeze(0).Plus(massT.unsqueeze(1)).logsumexp(2);              // [K+1, M]
            var logLik = steps == 0 ? TorchSharp.torch.zeros(samples, dtype: TorchSharp.torch.ScalarType.Float64)
                : tasteByGroup.index_select(1, TorchSharp.torch.tensor(chosenGroup)).t().Plus(TorchSharp.torch.tensor(chosenRest).unsqueeze(1))
                   .Minus(normalisers.narrow(0, 0, steps)).sum(dim: 0);                                              // [M]
            var weights = logLik.log_softmax(0);                                                           // log w_m
            // log p(i) = rest_i + log Σ_m w_m exp(taste_m[group(i)] − log Z_m(evaluated step))
            var factor = weights.unsqueeze(1).Plus(tasteByGroup).Minus(normalisers[steps].unsqueeze(1)).logsumexp(0); // [C]
            var f = factor.data<double>().ToArray();
            var s = new double[n];
            for (int i = 0; i < n; i++) s[i] = targetRest[i] + f[group[i]];
            return s;
        }
        return (e, i) => scores.GetOrAdd(e.User, Scores)[i];
    }
}
