using RecAlign.Data.Splits;
using RecAlign.Data.Storage;
using RecAlign.Pipelines.Stages;
using RecAlign.Prompts;

namespace RecAlign.Pipelines;

/// <summary>
/// A canonical dataset (<c>recalign data prepare</c>: MovieLens, Amazon, Steam, RecBole atomic files...) through the
/// <see cref="RecommendationPipeline"/> with RecBole's leave-one-out protocol: each user's last item is the test target,
/// the second-to-last the validation target (checkpoints and epochs are picked on it); sequential models train on every
/// earlier prefix, SFT on each user's latest training prefix, as the quickstart does (<c>sft_on=prefixes</c>: on every
/// training prefix). With <c>reportValidation</c> the
/// validation targets are the reported table too (for tuning: the test targets stay unseen).
/// </summary>
public static class DatasetPipeline
{
    public static PipelineResult Run(string datasetDir, SequenceTablePipelineConfig config, string runsDir, TextWriter? console = null,
        TorchSharp.torch.Device? device = null, bool reportValidation = false)
    {
        config = config with { Pipeline = config.Pipeline.WithStageSeeds().Validate() };
        var dataset = DatasetStore.Load(datasetDir);
        var split = Splitter.Split(dataset, config.Split);
        if (split.Train.Count == 0 || split.Validation.Count == 0 || split.Test.Count == 0)
            throw new ArgumentException($"{datasetDir}: split {Protocol(config.Split.Method)} leaves {split.Train.Count} training, {split.Validation.Count} validation and {split.Test.Count} test examples; every part must be non-empty (check the split's settings)");
        bool loo = config.Split.Method == SplitMethod.LeaveOneOut;
        var (latest, _) = Quickstart.LatestTwoPrefixes(split.Train);
        // Leave-one-out holds out each user's last two items; another split holds out whatever it does not train on,
        // so the LM pretrains on each user's longest training sequence.
        var pretrain = loo ? PretrainCorpus.Histories(dataset, holdOutLast: 2) : LongestTrainingSequences(split.Train);
        var record = new System.Text.Json.Nodes.JsonObject
        {
            ["reported_split"] = reportValidation ? "validation" : "test",
            ["protocol"] = Protocol(config.Split.Method),
            ["note"] = !loo
                ? $"{(reportValidation ? "validation" : "test")} examples of the {Protocol(config.Split.Method)} split (docs/data/ood-splits.md); checkpoints picked on its validation examples (in distribution)"
                : reportValidation
                    ? "validation targets (each user's second-to-last item), which also picked the checkpoints; the test targets were not used"
                    : "test targets (each user's last item); checkpoints picked on the validation targets (second-to-last)",
        };
        foreach (var (k, v) in split.Details) record["split_" + k] = v;
        var data = new PipelineData(Path.GetFileName(Path.GetFullPath(datasetDir).TrimEnd(Path.DirectorySeparatorChar)), dataset.Catalog,
            config.SftOn == SftData.Prefixes ? split.Train : latest, split.Validation, reportValidation ? split.Validation : split.Test, pretrain, PromptTemplates.NamedOrFile(config.Template))
        {
            SequentialTrain = split.Train,
            // Popularity counts each user's latest training target whatever SFT trains on, as the quickstart's does.
            PopularityTargets = latest,
            EvaluationLabel = reportValidation ? "validation" : "test",
            EvaluationRecord = record,
            // An exposure shift draws training and validation lists by its logging policy, the reported lists by its test policy.
            TrainingExposure = split.Exposure?.Train,
            EvaluationExposure = reportValidation ? split.Exposure?.Train : split.Exposure?.Test,
        };
        console?.WriteLine($"{datasetDir}: {dataset.UserCount} users, {dataset.Catalog.Count} items, {dataset.Interactions.Length} interactions; " +
            $"{Protocol(config.Split.Method)}: {split.Train.Count} training prefixes, {split.Validation.Count} validation and {split.Test.Count} test examples");
        return RecommendationPipeline.Run(data, config.Pipeline, runsDir, "pipeline", config, console, device);
    }

    private static string Protocol(SplitMethod method) => System.Text.Json.JsonNamingPolicy.SnakeCaseLower.ConvertName(method.ToString());

    /// <summary>Each user's longest training sequence (history + target of their latest training example).</summary>
    private static List<int[]> LongestTrainingSequences(IReadOnlyList<Data.SequenceExample> train) =>
        train.GroupBy(e => e.User).Select(g => g.MaxBy(e => e.History.Count)!).Select(e => e.History.Append(e.Target).ToArray()).ToList();
}
