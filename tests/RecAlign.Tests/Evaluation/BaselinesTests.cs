using RecAlign.Prompts;
using RecAlign.Data;
using RecAlign.Data.Synthetic;
using RecAlign.Evaluation;
using RecAlign.Inference;
using RecAlign.Pipelines;

namespace RecAlign.Tests.Evaluation;

public class BaselinesTests
{
    [Fact]
    public void OracleRanksByTheGroundTruthScorer()
    {
        // Truth: item 7 is the best, then higher ids. Question 0: target 7 → rank 1. Question 1: target 2 among
        // {2, 5, 3} → rank 3 (5 and 3 beat it). HR@1 1/2, MRR (1 + 1/3)/2.
        var examples = new[]
        {
            new CandidateExample(0, [1], 7, [4, 7, 9]),
            new CandidateExample(1, [1], 2, [2, 5, 3]),
        };
        var questions = examples.Select(e => new CandidateQuestion("p", e.Candidates.Select(i => $"t{i}").ToList(), e.Candidates.ToList().IndexOf(e.Target))).ToList();
        var m = Baselines.Oracle(questions, examples, (_, item) => item == 7 ? 100 : item);
        Assert.Equal(0.5, m["hr1"], 1e-12);
        Assert.Equal((1 + 1.0 / 3) / 2, m["mrr"], 1e-6);
        Assert.Throws<ArgumentException>(() => Baselines.Oracle(questions, examples[..1], (_, i) => i));
    }

    [Fact]
    public void SyntheticHeadroomOrdersTheGroundTruthRankers()
    {
        var rows = SyntheticHeadroom.Compute(SyntheticWorld.Generate(SyntheticConfig.Tiny)).ToDictionary(r => r.Ranker, r => r.Hr1);
        // The test targets lie in the shifted period: the true exposure is worth most, the training period's misleads.
        Assert.True(rows["oracle"] > rows["oracle_no_exposure"]);
        Assert.True(rows["oracle_no_exposure"] > rows["oracle_train_exposure"]);
        Assert.True(rows["oracle_train_exposure"] > rows["random"]);
        Assert.InRange(rows["random"], 0.0, 0.15);
        Assert.InRange(rows["oracle"], 0.5, 0.8); // docs/data/synthetic.md: ≈ 0.65 in the shifted period
        Assert.True(rows["oracle"] > rows["random"] + 0.3);
        // The taste a learner infers from the history sits between knowing none of it and knowing it exactly.
        Assert.True(rows["oracle_observed_taste"] > rows["oracle_no_taste"], $"observed {rows["oracle_observed_taste"]} vs none {rows["oracle_no_taste"]}");
        Assert.True(rows["oracle_observed_taste"] <= rows["oracle"] + 0.02, $"observed {rows["oracle_observed_taste"]} vs oracle {rows["oracle"]}");
    }

    [Fact]
    public void SyntheticHeadroomScoresTrainedModelsOnTheSameLists()
    {
        // A model scored beside the ground truth must see the very lists the rows above see: the random
        // recommender with the headroom's seed reproduces its "random" row exactly.
        var world = SyntheticWorld.Generate(SyntheticConfig.Tiny);
        using var random = new RecAlign.Models.Baselines.RandomRecommender(42);
        var rows = SyntheticHeadroom.Compute(world, 20, 42, [("model random", random)]).ToDictionary(r => r.Ranker, r => r.Hr1);
        Assert.Equal(rows["random"], rows["model random"]);
    }
}
