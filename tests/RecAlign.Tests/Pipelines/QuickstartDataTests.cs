using RecAlign.Data;
using RecAlign.Data.Splits;
using RecAlign.Data.Synthetic;
using RecAlign.Pipelines;
using RecAlign.Tests.Data;

namespace RecAlign.Tests.Pipelines;

public class QuickstartDataTests
{
    [Fact]
    public void LatestTwoPrefixesPicksEachUsersLastAndPreviousTrainingExample()
    {
        SequenceExample E(int user, int target, params int[] history) => new(user, history, target, history.Length);
        var train = new List<SequenceExample>
        {
            E(2, 7, 5), E(1, 11, 10), E(1, 12, 10, 11), E(2, 8, 5, 7), E(1, 13, 10, 11, 12), E(3, 4, 9),
        };
        var (latest, previous) = Quickstart.LatestTwoPrefixes(train);
        Assert.Equal([13, 8, 4], latest.Select(e => e.Target));
        Assert.Equal([12, 7], previous.Select(e => e.Target)); // user 3 has a single training example
    }

    [Fact]
    public void OnTheSyntheticWorldSftAndPreferenceExamplesAreDisjointAndBothPrecedeValidation()
    {
        var world = SyntheticWorld.Generate(SyntheticConfig.Preset("tiny") with { Seed = 5 });
        var split = Splitter.Split(world.Dataset, new SplitConfig { Method = SplitMethod.LeaveOneOut });
        var (latest, previous) = Quickstart.LatestTwoPrefixes(split.Train);
        var validation = split.Validation.ToDictionary(e => e.User);
        Assert.Equal(world.Dataset.UserCount, latest.Count);
        foreach (var e in latest)
        {
            // the latest training prefix is the validation history minus its last item
            Assert.Equal(validation[e.User].History.Count - 1, e.History.Count);
            Assert.Equal(validation[e.User].History[^1], e.Target);
        }
        var latestByUser = latest.ToDictionary(e => e.User);
        foreach (var e in previous)
            Assert.Equal(latestByUser[e.User].History.Count - 1, e.History.Count);
    }

    /// <summary>The quickstart gives each preference example the period its target happened in, so CausalDPO can take the
    /// true environments (<c>causal_dpo_features=given</c>): both periods hold examples, and the run logs their sizes
    /// with full assignment confidence.</summary>
    [Fact]
    public void CausalDpoTakesTheWorldsPeriodsAsGivenEnvironments()
    {
        using var dir = new TempDir();
        var p = SequenceTablePipelineTests.SmallConfig() with { Fairness = new FairnessConfig { Enabled = false }, SftExamples = 200, PreferenceExamples = 200 };
        var causal = p.Methods["causaldpo"];
        var methods = new Dictionary<string, MethodConfig>
        {
            ["sft"] = p.Methods["sft"],
            ["causaldpo"] = causal with
            {
                Enabled = true,
                Align = causal.Align with { Loss = causal.Align.Loss with { CausalDpoFeatures = RecAlign.Alignment.EnvironmentFeatures.Given }, Training = causal.Align.Training with { BatchSize = 200 } },
            },
        };
        p = SequenceTablePipelineTests.TinyStages(p with { Methods = methods });
        var result = Quickstart.Run(new QuickstartConfig { DataSize = "tiny", SftOn = SftData.Prefixes, Pipeline = p }, dir.Sub("runs"));
        var logged = File.ReadAllLines(Path.Combine(result.Run.Path, "metrics.jsonl")).Select(l => System.Text.Json.Nodes.JsonNode.Parse(l)!)
            .Where(n => n["causal_dpo/env0_size"] is not null).ToList();
        Assert.NotEmpty(logged);
        var sizes = new[] { 0, 1 }.Select(k => logged[0][$"causal_dpo/env{k}_size"]!.GetValue<double>()).ToArray();
        Assert.All(sizes, size => Assert.InRange(size, 0.01, 0.99)); // both periods are there
        Assert.Equal(1, sizes.Sum(), 6);
        Assert.True(logged[0]["causal_dpo/assignment_confidence"]!.GetValue<double>() > 0.999);
    }

    /// <summary>The quickstart reports both ground-truth rows: the oracle (the user's latent taste) and the observable
    /// optimum (that taste inferred from the history), the latter between the taste-free ranking and the oracle.</summary>
    [Fact]
    public void QuickstartReportsTheOracleAndTheObservableOptimum()
    {
        using var dir = new TempDir();
        var p = SequenceTablePipelineTests.SmallConfig() with { Fairness = new FairnessConfig { Enabled = false }, Methods = new Dictionary<string, MethodConfig>(), EvaluationQuestions = 200 };
        var result = Quickstart.Run(new QuickstartConfig { DataSize = "tiny", Pipeline = p }, dir.Sub("runs"));
        var hr1 = result.Methods.ToDictionary(m => m.Method, m => m.Metrics["hr1"]);
        Assert.InRange(hr1["oracle"], 0.4, 0.9);
        Assert.InRange(hr1["oracle_observed_taste"], hr1["popularity"] + 0.1, hr1["oracle"] + 0.02); // all 200 tiny users
        // The observable optimum is the one SyntheticHeadroom computes, whichever users are asked first.
        var world = SyntheticWorld.Generate(SyntheticConfig.Preset("tiny") with { Seed = p.Seed });
        var test = Splitter.Split(world.Dataset, new SplitConfig { Method = SplitMethod.LeaveOneOut }).Test;
        var forward = SyntheticHeadroom.ObservedTaste(world, test, 7);
        var backward = SyntheticHeadroom.ObservedTaste(world, test, 7);
        var examples = test.Select(e => new CandidateExample(e.User, e.History, e.Target, [e.Target])).ToList();
        var a = examples.Select(e => forward(e, e.Target)).ToList();
        var b = Enumerable.Reverse(examples).Select(e => backward(e, e.Target)).Reverse().ToList();
        Assert.Equal(a, b);
        Assert.All(a, v => Assert.True(double.IsFinite(v)));
    }

    [Fact]
    public void SftOnParsesAndRefusesHeldOutPreferencesWithEveryPrefix()
    {
        var config = RecAlign.Configuration.ConfigLoader.Load(new QuickstartConfig(), overrides: ["sft_on=prefixes", "held_out_preferences=true"]);
        Assert.Equal(SftData.Prefixes, config.SftOn);
        var e = Assert.Throws<ArgumentException>(() => Quickstart.Run(config, "unused-runs-dir"));
        Assert.Contains("held_out_preferences needs sft_on=latest", e.Message);
        Assert.False(Directory.Exists("unused-runs-dir"));
    }
}
