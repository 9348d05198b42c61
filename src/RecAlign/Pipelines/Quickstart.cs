using RecAlign.Data;
using RecAlign.Data.Splits;
using RecAlign.Data.Synthetic;
using RecAlign.Prompts;
using RecAlign.Pipelines.Stages;

namespace RecAlign.Pipelines;

/// <summary>Settings of the end-to-end quickstart on synthetic data.</summary>
public sealed record QuickstartConfig
{
    /// <summary>Synthetic preset: <c>tiny</c> or <c>small</c>.</summary>
    public string DataSize { get; init; } = "small";
    /// <summary>Correlation between the training- and test-period exposure of the world's items (see
    /// docs/data/synthetic.md): null keeps the preset's shift (−0.6, an out-of-distribution test period); 1 removes
    /// the shift, so the test period is in distribution.</summary>
    public double? ShiftCorrelation { get; init; }
    /// <summary>Draw the preference data from each user's previous training prefix (held out from SFT) instead of the
    /// SFT examples themselves. Off by default: it changed nothing measurable with an SFT model that ignored the history,
    /// and added about +0.003 HR@1 over the default alignment gain with one that reads it, measured on test users rather
    /// than tuned on validation (docs/benchmarks.md, session 5).</summary>
    public bool HeldOutPreferences { get; init; }
    /// <summary>What SFT trains on: <c>latest</c>, each user's latest training prefix (one example per user, recent like
    /// the test), or <c>prefixes</c>, every training prefix (what pretraining and SASRec see), capped by
    /// <c>pipeline.sft_examples</c> as a seeded subset.</summary>
    public SftData SftOn { get; init; } = SftData.Latest;
    /// <summary>The prompt templates: a built-in set (<c>history</c>: the pretraining format, the history's items alone;
    /// <c>item</c>: S-DPO-style questions listing the candidates) or a template file. <c>history</c> by default: SFT on
    /// candidate questions cost the pretrained LM 0.05-0.10 HR@1 on this world (docs/benchmarks.md, sessions 14-15).</summary>
    public string Template { get; init; } = "history";
    public PipelineConfig Pipeline { get; init; } = PipelineDefaults();

    /// <summary>The pipeline's defaults for this world (sessions 15): prompts and pretraining windows of up to 50 history
    /// items (the world's users have 10-40, and their taste shows across all of them), an LM of SASRec's size with its
    /// dropout (the tiny default over-fits 3,000 users within 1-3 epochs), and SFT at 1e-4, which continues the
    /// pretraining objective rather than teaching a new format.</summary>
    public static PipelineConfig PipelineDefaults()
    {
        var p = new PipelineConfig();
        return p with
        {
            MaxHistory = 50,
            Pretrain = p.Pretrain with { ModelSize = "nano", HiddenDropout = 0.5 },
            Sft = p.Sft with { Training = p.Sft.Training with { Optimizer = p.Sft.Training.Optimizer with { LearningRate = 1e-4 } } },
        };
    }
}

/// <summary>Which training examples SFT trains on (quickstart and <c>--dataset</c> pipelines).</summary>
public enum SftData
{
    Latest,
    Prefixes,
}

/// <summary>
/// The one command: the synthetic <c>small</c> world, leave-one-out split (test = each user's last item), then the
/// <see cref="RecommendationPipeline"/> evaluated on the test candidate lists.
/// </summary>
public static class Quickstart
{
    public static PipelineResult Run(QuickstartConfig config, string runsDir, TextWriter? console = null, TorchSharp.torch.Device? device = null)
    {
        config = config with { Pipeline = config.Pipeline.WithStageSeeds().Validate() }; // the stored config says the seeds used
        var preset = SyntheticConfig.Preset(config.DataSize) with { Seed = config.Pipeline.Seed };
        if (config.ShiftCorrelation is { } rho) preset = preset with { ShiftCorrelation = rho };
        if (config.HeldOutPreferences && config.SftOn == SftData.Prefixes)
            throw new ArgumentException("held_out_preferences needs sft_on=latest: with sft_on=prefixes every training prefix may be an SFT example");
        var world = SyntheticWorld.Generate(preset);
        var dataset = world.Dataset;
        // Validation and test are each user's last two items; SFT trains on each user's latest training prefix (recent,
        // like the test), and with held_out_preferences the preference data comes from the prefix before it.
        var split = Splitter.Split(dataset, new SplitConfig { Method = SplitMethod.LeaveOneOut });
        var (latest, previous) = LatestTwoPrefixes(split.Train);
        var data = new PipelineData($"synthetic-{config.DataSize}", dataset.Catalog, config.SftOn == SftData.Prefixes ? split.Train : latest, split.Validation, split.Test,
            PretrainCorpus.Histories(dataset, holdOutLast: 2), PromptTemplates.NamedOrFile(config.Template))
        {
            PreferencePool = config.HeldOutPreferences ? previous : null, SequentialTrain = split.Train,
            // Popularity counts each user's latest training target either way (the row the benchmarks report).
            PopularityTargets = latest,
        };
        data = data with
        {
            GroundTruths =
            [
                (PipelineConfig.OracleRow, world.GroundTruth(split.Test)),
                // What a learner could reach: the oracle's gap to any trained model includes taste no history reveals.
                (PipelineConfig.ObservedTasteRow, SyntheticHeadroom.ObservedTaste(world, split.Test, config.Pipeline.Seed)),
            ],
            EnvironmentOf = e => world.PeriodOf(e.TargetTimestamp) == SyntheticPeriod.Train ? 0 : 1,
        };
        console?.WriteLine($"synthetic {config.DataSize}: {dataset.UserCount} users, {dataset.Catalog.Count} items, {dataset.Interactions.Length} interactions");
        return RecommendationPipeline.Run(data, config.Pipeline, runsDir, "quickstart", config, console, device);
    }

    /// <summary>Each user's last training example and the one before it (users with one training example have none).</summary>
    internal static (List<SequenceExample> Latest, List<SequenceExample> Previous) LatestTwoPrefixes(IReadOnlyList<SequenceExample> train)
    {
        var latest = new List<SequenceExample>();
        var previous = new List<SequenceExample>();
        foreach (var user in train.GroupBy(e => e.User).OrderBy(g => g.Key))
        {
            var byTime = user.OrderBy(e => e.History.Count).ToList();
            latest.Add(byTime[^1]);
            if (byTime.Count > 1) previous.Add(byTime[^2]);
        }
        return (latest, previous);
    }
}
