using RecAlign.Data.Formats;
using RecAlign.Data.Loaders;
using RecAlign.Prompts;
using RecAlign.Training.Stages;

namespace RecAlign.Pipelines;

/// <summary>Settings of the pipeline on LLaRA/S-DPO sequence tables (e.g. LastFM's train_data.csv / Val_data.csv).</summary>
public sealed record SequenceTablePipelineConfig
{
    /// <summary>Prompt template set (music, movie, item) or a template file.</summary>
    public string Template { get; init; } = "music";
    public PipelineConfig Pipeline { get; init; } = new() { SftExamples = 8000, PreferenceExamples = 3000, EvaluationQuestions = 100_000 };
}

/// <summary>
/// Real data through the <see cref="RecommendationPipeline"/>: train on a sequence table's prefixes, tune and evaluate on
/// the validation table with candidate lists from RecAlign's own sampler (seeded per example, so they pass the leak
/// audit), and optionally also score published candidate files (e.g. S-DPO's target-seeded LastFM lists) to show the
/// difference.
/// </summary>
public static class SequenceTablePipeline
{
    public static PipelineResult Run(string trainCsv, string validationCsv, string? itemsFile, IReadOnlyList<(string Name, string Path)> extraCandidateFiles,
        SequenceTablePipelineConfig config, string runsDir, TextWriter? console = null, TorchSharp.torch.Device? device = null)
    {
        config = config with { Pipeline = config.Pipeline.WithStageSeeds() }; // the stored config says the seeds used
        var train = SequenceTableLoader.Load(trainCsv, itemsFile);
        var validation = SequenceTableLoader.Load(validationCsv, itemsFile);
        var trainUsers = SequenceTableLoader.LoadDataset(trainCsv).Dataset;
        var templates = PromptTemplates.NamedOrFile(config.Template);
        var extras = extraCandidateFiles.Select(e =>
        {
            var file = CandidatePromptJson.Read(e.Path);
            var builder = new PromptBuilder(file.Catalog, templates, new PromptConfig { Seed = config.Pipeline.Seed + 3 });
            return (e.Name, (IReadOnlyList<Inference.CandidateQuestion>)CandidateQuestions.From(builder, file.Catalog, file.Examples));
        }).ToList();
        // Pretraining sees only training users (their whole sequences); validation users are disjoint in these tables.
        var corpus = PretrainCorpus.FromDataset(trainUsers, holdOutLast: 0);
        var data = new PipelineData(Path.GetFileName(Path.GetDirectoryName(Path.GetFullPath(trainCsv))) ?? "seqcsv", train.Catalog,
            train.Examples, validation.Examples, validation.Examples, corpus, templates) { ExtraEvaluations = extras };
        console?.WriteLine($"{trainCsv}: {train.Examples.Count} training rows ({train.UserCount} users); {validationCsv}: {validation.Examples.Count} rows; {train.Catalog.Count} items");
        return RecommendationPipeline.Run(data, config.Pipeline, runsDir, "pipeline", config, console, device);
    }
}
