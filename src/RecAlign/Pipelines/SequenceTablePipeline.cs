using System.Text.Json.Nodes;
using RecAlign.Data;
using RecAlign.Data.Formats;
using RecAlign.Data.Loaders;
using RecAlign.Inference;
using RecAlign.Prompts;
using RecAlign.Pipelines.Stages;

namespace RecAlign.Pipelines;

/// <summary>Settings of the pipeline on LLaRA/S-DPO sequence tables (e.g. LastFM's train_data.csv / Val_data.csv).</summary>
public sealed record SequenceTablePipelineConfig
{
    /// <summary>Prompt template set (music, movie, item) or a template file.</summary>
    public string Template { get; init; } = "music";
    public PipelineConfig Pipeline { get; init; } = new() { SftExamples = 8000, PreferenceExamples = 3000, EvaluationQuestions = 100_000 };
    /// <summary><c>--dataset</c> only: how the dataset is split (<c>split.method</c>: leave_one_out, or an
    /// out-of-distribution setting of docs/data/ood-splits.md such as popularity_shift, with its section's keys).</summary>
    public Data.Splits.SplitConfig Split { get; init; } = new();
    /// <summary><c>--dataset</c> only: what SFT trains on, <c>latest</c> (each user's latest training prefix) or
    /// <c>prefixes</c> (every training prefix, capped by <c>pipeline.sft_examples</c> as a seeded subset: what a
    /// sequence table's rows give).</summary>
    public SftData SftOn { get; init; } = SftData.Latest;
}

/// <summary>A question set scored besides the main one, and how much of its source was scored.</summary>
public sealed record ExtraEvaluationSet(string Name, string File, IReadOnlyList<CandidateQuestion> Questions, int Available);

/// <summary>
/// Real data through the <see cref="RecommendationPipeline"/>: train on a sequence table's prefixes, pick checkpoints on
/// the validation table and report the test table (or, without one, the validation table, labelled as such), with
/// candidate lists from RecAlign's own sampler (seeded per example, so they pass the leak audit), and optionally also
/// score published candidate files (e.g. S-DPO's target-seeded LastFM lists) to show the difference.
/// </summary>
public static class SequenceTablePipeline
{
    /// <summary>Name of the extra question set holding the validation table's metrics when a test table is reported
    /// (summary keys <c>METHOD/validation/hr1</c> ...).</summary>
    public const string ValidationSetName = "validation";

    /// <param name="testCsv">Test table reported in the results; null reports the validation table, which then both
    /// picks the checkpoints and is reported (optimistic; labelled so in the summary).</param>
    public static PipelineResult Run(string trainCsv, string validationCsv, string? testCsv, string? itemsFile,
        IReadOnlyList<(string Name, string Path)> extraCandidateFiles, SequenceTablePipelineConfig config, string runsDir,
        TextWriter? console = null, TorchSharp.torch.Device? device = null)
    {
        config = config with { Pipeline = config.Pipeline.WithStageSeeds().Validate() }; // the stored config says the seeds used
        if (config.Split.Method != Data.Splits.SplitMethod.LeaveOneOut)
            throw new ArgumentException($"split.method = {config.Split.Method}: split settings apply to --dataset; sequence tables come already split into train, validation and test");
        if (config.SftOn != SftData.Latest)
            throw new ArgumentException($"sft_on = {config.SftOn.ToString().ToLowerInvariant()}: applies to --dataset; every row of a sequence table is already an SFT example (pipeline.sft_examples caps them)");
        // One item list for every table: --items, else the one beside the training table.
        itemsFile ??= SequenceTableLoader.ItemListFor(trainCsv);
        var train = SequenceTableLoader.Load(trainCsv, itemsFile);
        var validation = SequenceTableLoader.Load(validationCsv, itemsFile);
        var test = testCsv is null ? null : SequenceTableLoader.Load(testCsv, itemsFile);
        var trainUsers = SequenceTableLoader.LoadDataset(trainCsv, new LoadOptions { ItemList = itemsFile }).Dataset;
        var templates = PromptTemplates.NamedOrFile(config.Template);
        var p = config.Pipeline;

        var extras = new List<ExtraEvaluationSet>();
        if (test is not null)
            extras.Add(ValidationSet(validation.Examples, validationCsv, train.Catalog, templates, p));
        foreach (var (name, path) in extraCandidateFiles)
            extras.Add(CandidateFileSet(name, path, templates, p, train.Catalog));

        // Pretraining sees only training users (their whole sequences); validation and test users are disjoint in these tables.
        var corpus = PretrainCorpus.Histories(trainUsers, holdOutLast: 0);
        var reported = test ?? validation;
        var data = new PipelineData(Path.GetFileName(Path.GetDirectoryName(Path.GetFullPath(trainCsv))) ?? "seqcsv", train.Catalog,
            train.Examples, validation.Examples, reported.Examples, corpus, templates)
        {
            ExtraEvaluations = extras.Select(e => (e.Name, e.Questions)).ToList(),
            EvaluationLabel = test is null ? "validation" : "test",
            EvaluationRecord = EvaluationRecord(validationCsv, testCsv, validation.Examples.Count, reported.Examples.Count, extras, p),
        };
        console?.WriteLine($"{trainCsv}: {train.Examples.Count} training rows ({train.UserCount} users); {validationCsv}: {validation.Examples.Count} rows" +
            (test is null ? "" : $"; {testCsv}: {test.Examples.Count} rows") + $"; {train.Catalog.Count} items");
        console?.WriteLine(test is null
            ? $"note: no --test table: the reported metrics are on the validation table {Path.GetFileName(validationCsv)}, which also picked the checkpoints (optimistic)"
            : $"checkpoints are picked on {Path.GetFileName(validationCsv)}; reported metrics are on the test table {Path.GetFileName(testCsv)} " +
              $"('{ValidationSetName}/...' columns: {extras[0].Questions.Count} of {extras[0].Available} validation rows)");
        foreach (var e in extras.Where(e => e.Name != ValidationSetName || test is null))
            console?.WriteLine($"extra evaluation {e.Name}: scoring {e.Questions.Count} of {e.Available} questions of {e.File}" +
                (e.Questions.Count < e.Available ? $" (a seeded subset: pipeline.evaluation_questions = {p.EvaluationQuestions})" : ""));

        return RecommendationPipeline.Run(data, p, runsDir, "pipeline", config, console, device);
    }

    /// <summary>The validation table's questions as the pipeline would ask them when reporting it: the same seeded
    /// subset, candidate lists and prompts, so <c>validation/hr1</c> equals the <c>hr1</c> a run without a test table reports.</summary>
    public static ExtraEvaluationSet ValidationSet(IReadOnlyList<SequenceExample> validation, string file, ItemCatalog catalog,
        IReadOnlyList<PromptTemplate> templates, PipelineConfig config)
    {
        var lists = RecommendationPipeline.EvaluationLists(validation, catalog.Count, config);
        return new ExtraEvaluationSet(ValidationSetName, file, RecommendationPipeline.EvaluationQuestions(lists, catalog, templates, config), validation.Count);
    }

    /// <summary>A published candidate-prompt file, capped at <see cref="PipelineConfig.EvaluationQuestions"/> questions
    /// (a seeded subset in file order when the file has more).</summary>
    /// <param name="catalog">The pipeline's catalog: with item tokens (<see cref="PipelineConfig.ItemText"/>) the file's
    /// items are written as that catalog's tokens, so they are mapped onto it by title (every one must be there).</param>
    public static ExtraEvaluationSet CandidateFileSet(string name, string path, IReadOnlyList<PromptTemplate> templates, PipelineConfig config, ItemCatalog? catalog = null)
    {
        if (name == ValidationSetName) throw new ArgumentException($"--extra-eval name '{ValidationSetName}' is reserved (the validation table's columns)");
        var file = CandidatePromptJson.Read(path);
        IReadOnlyList<CandidateExample> examples = RecommendationPipeline.Subsample(file.Examples, config.EvaluationQuestions, config.Seed + 4);
        var itemCatalog = file.Catalog;
        if (config.ItemText != ItemText.Title && catalog is not null)
        {
            examples = CandidateExamples.InCatalog(examples, file.Catalog, catalog, path);
            itemCatalog = catalog;
        }
        var builder = new PromptBuilder(itemCatalog, templates, RecommendationPipeline.PromptSettings(config, config.Seed + 3));
        return new ExtraEvaluationSet(name, path, CandidateQuestions.From(builder, itemCatalog, examples), file.Examples.Count);
    }

    /// <summary>summary.json's record of which table is reported, which picked the models, and what each extra set scored.</summary>
    private static JsonObject EvaluationRecord(string validationCsv, string? testCsv, int validationRows, int reportedRows,
        IReadOnlyList<ExtraEvaluationSet> extras, PipelineConfig config) =>
        new()
        {
            ["reported_split"] = testCsv is null ? "validation" : "test",
            ["reported_file"] = Path.GetFullPath(testCsv ?? validationCsv),
            ["reported_questions"] = Math.Min(reportedRows, config.EvaluationQuestions),
            ["reported_rows"] = reportedRows,
            ["model_selection_file"] = Path.GetFullPath(validationCsv),
            ["model_selection_questions"] = Math.Min(validationRows, config.ValidationQuestions),
            ["note"] = testCsv is null
                ? "no test table: the reported metrics are on the validation table, which also picked the checkpoints (optimistic)"
                : $"checkpoints picked on the validation table; reported metrics on the test table; '{ValidationSetName}/...' keys are validation metrics",
            ["extra"] = new JsonObject(extras.Select(e => KeyValuePair.Create(e.Name, (JsonNode?)new JsonObject
            {
                ["file"] = Path.GetFullPath(e.File),
                ["scored"] = e.Questions.Count,
                ["available"] = e.Available,
            }))),
        };
}
