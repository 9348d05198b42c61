using RecAlign.Data.Splits;
using RecAlign.Data.Storage;
using RecAlign.Pipelines.Stages;
using RecAlign.Prompts;

namespace RecAlign.Pipelines;

/// <summary>
/// A canonical dataset (<c>recalign data prepare</c>: MovieLens, Amazon, Steam, RecBole atomic files...) through the
/// <see cref="RecommendationPipeline"/> with RecBole's leave-one-out protocol: each user's last item is the test target,
/// the second-to-last the validation target (checkpoints and epochs are picked on it); sequential models train on every
/// earlier prefix, SFT on each user's latest training prefix, as the quickstart does. With <c>reportValidation</c> the
/// validation targets are the reported table too (for tuning: the test targets stay unseen).
/// </summary>
public static class DatasetPipeline
{
    public static PipelineResult Run(string datasetDir, SequenceTablePipelineConfig config, string runsDir, TextWriter? console = null,
        TorchSharp.torch.Device? device = null, bool reportValidation = false)
    {
        config = config with { Pipeline = config.Pipeline.WithStageSeeds().Validate() };
        var dataset = DatasetStore.Load(datasetDir);
        var split = Splitter.Split(dataset, new SplitConfig { Method = SplitMethod.LeaveOneOut });
        var (latest, _) = Quickstart.LatestTwoPrefixes(split.Train);
        var data = new PipelineData(Path.GetFileName(Path.GetFullPath(datasetDir).TrimEnd(Path.DirectorySeparatorChar)), dataset.Catalog, latest,
            split.Validation, reportValidation ? split.Validation : split.Test, PretrainCorpus.Histories(dataset, holdOutLast: 2), PromptTemplates.NamedOrFile(config.Template))
        {
            SequentialTrain = split.Train,
            EvaluationLabel = reportValidation ? "validation" : "test",
            EvaluationRecord = new System.Text.Json.Nodes.JsonObject
            {
                ["reported_split"] = reportValidation ? "validation" : "test",
                ["protocol"] = "leave_one_out",
                ["note"] = reportValidation
                    ? "validation targets (each user's second-to-last item), which also picked the checkpoints; the test targets were not used"
                    : "test targets (each user's last item); checkpoints picked on the validation targets (second-to-last)",
            },
        };
        console?.WriteLine($"{datasetDir}: {dataset.UserCount} users, {dataset.Catalog.Count} items, {dataset.Interactions.Length} interactions; " +
            $"leave-one-out: {split.Train.Count} training prefixes, {split.Validation.Count} validation and {split.Test.Count} test users");
        return RecommendationPipeline.Run(data, config.Pipeline, runsDir, "pipeline", config, console, device);
    }
}
