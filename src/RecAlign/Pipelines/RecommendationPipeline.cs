using RecAlign.Randomness;
using System.Diagnostics;
using System.Text.Json.Nodes;
using RecAlign.Alignment;
using RecAlign.Data;
using RecAlign.Data.Candidates;
using RecAlign.Evaluation;
using RecAlign.Inference;
using RecAlign.Models;
using RecAlign.Models.Baselines;
using RecAlign.Models.Language;
using RecAlign.Models.Sequential;
using RecAlign.Training;
using RecAlign.Models.Language.Generation;
using RecAlign.Prompts;
using RecAlign.Runs;
using RecAlign.Text;
using RecAlign.Pipelines.Stages;

namespace RecAlign.Pipelines;

/// <summary>What the pipeline trains and evaluates on, whatever the source (synthetic world, sequence tables...).
/// Evaluation examples get candidate lists from RecAlign's own sampler, seeded per example, never by target.</summary>
public sealed record PipelineData(
    string Name,
    ItemCatalog Catalog,
    IReadOnlyList<SequenceExample> Train,
    IReadOnlyList<SequenceExample> Validation,
    IReadOnlyList<SequenceExample> Evaluation,
    IReadOnlyList<int[]> PretrainHistories,
    IReadOnlyList<PromptTemplate> Templates)
{
    /// <summary>Further question sets scored by every trained model (e.g. a published candidate file).</summary>
    public IReadOnlyList<(string Name, IReadOnlyList<CandidateQuestion> Questions)> ExtraEvaluations { get; init; } = [];

    /// <summary>Training examples the preference data is drawn from, disjoint from <see cref="Train"/> (e.g. each
    /// user's earlier prefixes); null draws it from the SFT examples. Preferences on examples the SFT model never
    /// trained on carry new information, and their hard negatives are the model's generalisation errors rather than
    /// what is left after it fitted those very targets.</summary>
    public IReadOnlyList<SequenceExample>? PreferencePool { get; init; }

    /// <summary>Next-item examples the classic sequential recommenders and the transition baseline train on (every
    /// training prefix, as RecBole trains); null uses <see cref="Train"/>.</summary>
    public IReadOnlyList<SequenceExample>? SequentialTrain { get; init; }

    /// <summary>Examples whose targets the popularity baseline counts; null uses <see cref="Train"/>.</summary>
    public IReadOnlyList<SequenceExample>? PopularityTargets { get; init; }

    /// <summary>Ground truth, where the data has one (a synthetic world): named true scores of an item as the next one of
    /// an evaluation example, one result row each, never ranked against the methods (<c>oracle</c>: the Bayes-optimal
    /// ranking; <c>oracle_observed_taste</c>: the same with the user's latent taste inferred from the history alone).</summary>
    public IReadOnlyList<(string Name, Func<CandidateExample, int, double> Score)> GroundTruths { get; init; } = [];
    /// <summary>The environment a training example is known to come from (a synthetic world's period of its target),
    /// carried by its preference example for CausalDPO's <c>given</c> features; null where the data does not say.</summary>
    public Func<SequenceExample, int>? EnvironmentOf { get; init; }

    /// <summary>Per-item weights the negatives of the training and validation candidate lists are drawn by (an exposure
    /// shift's logging policy); null draws them uniformly.</summary>
    public IReadOnlyList<double>? TrainingExposure { get; init; }

    /// <summary>Per-item weights for the negatives of the evaluation lists (an exposure shift's test policy); null: uniform.</summary>
    public IReadOnlyList<double>? EvaluationExposure { get; init; }

        /// <summary>What <see cref="Evaluation"/> is, in metric names (<c>test_hr1</c> in metrics.jsonl): <c>test</c>, or
    /// <c>validation</c> when the reported table is the one that also picked the checkpoints.</summary>
    public string EvaluationLabel { get; init; } = "test";

    /// <summary>summary.json's <c>evaluation</c>: which files were reported and which picked the models.</summary>
    public JsonObject? EvaluationRecord { get; init; }
}

/// <summary>Settings of the pipeline; the defaults are the quickstart's (a few minutes on a 2-core CPU).</summary>
public sealed record PipelineConfig
{
    public ulong Seed { get; init; } = 42;
    public int Candidates { get; init; } = 20;
    /// <summary>The most recent history items a prompt shows, and the length of the LM's pretraining windows (0: all).
    /// S-DPO shows 10; the classic sequential models read up to their own <c>max_seq_length</c>.</summary>
    public int MaxHistory { get; init; } = 10;
    /// <summary>What the LM is pretrained on: <c>histories</c> (each training user's whole sequence, one text each) or
    /// <c>prefixes</c> (every next-item training example as its own text: its history, cut to the items a prompt shows,
    /// then its target; the windows a sequential model trains on).</summary>
    public PretrainText PretrainOn { get; init; } = PretrainText.Prefixes;
    /// <summary>How the LM sees items: <c>title</c> (S-DPO's prompts and answers), <c>token</c> (one dedicated token per
    /// item in pretraining, prompts and answers) or <c>title_token</c> ("&lt;item_k&gt; Title" in prompts, the token as the
    /// answer). With item tokens the LM ranks a candidate list in one softmax and also the whole catalog.</summary>
    public ItemText ItemText { get; init; } = ItemText.Token;
    public int SftExamples { get; init; } = 3000;
    public int PreferenceExamples { get; init; } = 1500;
    /// <summary>How rejected responses are picked from the candidate list: <c>hard</c> (the starting model's highest-scored
    /// wrong candidates, mined once per starting model) or <c>random</c> (the S-DPO paper's choice); docs/benchmarks.md compares them.</summary>
    public RejectedSelection Rejected { get; init; } = RejectedSelection.Hard;
    /// <summary>An existing SFT model directory to align from, skipping pretrain and SFT (its tokenizer is used);
    /// e.g. to compare alignment settings on one SFT model.</summary>
    public string? SftModel { get; init; }
    /// <summary>An existing pretrained model directory (e.g. another run's <c>models/pretrain</c>, made from the same data)
    /// every sft method starts from, skipping pretraining (its tokenizer is used); e.g. to compare SFT settings, or item
    /// groups, on one pretrained model.</summary>
    public string? PretrainModel { get; init; }
    public int ValidationQuestions { get; init; } = 200;
    public int EvaluationQuestions { get; init; } = 600;
    /// <summary>Also answer the evaluation questions by greedy generation matched to a candidate, as S-DPO evaluates:
    /// <c>gen_hr1</c> and <c>gen_valid_ratio</c> (answers that name any candidate) beside the ranking metrics.</summary>
    public bool GenerationEvaluation { get; init; } = true;
    /// <summary>Also rank each model's evaluation lists with the prompt's history left out: <c>hr1_without_history</c>
    /// beside <c>hr1</c> shows how much a model reads the history (an LM that has only learned popularity scores the
    /// same either way).</summary>
    public bool HistoryAblation { get; init; } = true;
    /// <summary>Retrieval then re-ranking rows: the first sequential method retrieves this many items (history masked) and
    /// each LM row re-orders them (e.g. 50); reported with full-catalog metrics beside each model alone. 0 (the default:
    /// it re-scores every evaluation user's list of that many titles with each LM) turns it off.</summary>
    public int RerankDepth { get; init; }
    /// <summary>How LM rows with item tokens rank a candidate list: <c>prompt</c> (the question's prompt, which lists the
    /// candidates: what SFT trains) or <c>history</c> (the next-item distribution after the history alone, the
    /// pretraining format, as a sequential model ranks). The pretrained model gets a row of its own, ranked from the history.</summary>
    public LmCandidateScoring LmCandidateScoring { get; init; } = LmCandidateScoring.Prompt;
    /// <summary>The methods compared, by name, in order (see <see cref="MethodConfig.Defaults"/>); baselines (random,
    /// popularity, transition and, with ground truth, the oracle) always come first.</summary>
    public Dictionary<string, MethodConfig> Methods { get; init; } = MethodConfig.Defaults();
    /// <summary>Item-side fairness: the groups every row is measured on, and the re-ranked rows.</summary>
    public FairnessConfig Fairness { get; init; } = new();
    /// <summary>The LM's base stages, shared by every LM method.</summary>
    public PretrainConfig Pretrain { get; init; } = new();
    public SftConfig Sft { get; init; } = new();

    /// <summary>The enabled methods in order.</summary>
    public IEnumerable<(string Name, MethodConfig Method)> Enabled() => Methods.Where(m => m.Value.Enabled).Select(m => (m.Key, m.Value));

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid field (called before a run folder exists).</summary>
    public PipelineConfig Validate()
    {
        static void Check(bool ok, string field, object value, string rule)
        {
            if (!ok) throw new ArgumentException($"pipeline.{field} = {value} is invalid ({rule})");
        }
        Check(Candidates >= 2, "candidates", Candidates, "must be >= 2: the target and at least one negative");
        Check(MaxHistory >= 0, "max_history", MaxHistory, "must be >= 0 (0: the whole history)");
        Check(SftExamples >= 1, "sft_examples", SftExamples, "must be >= 1");
        Check(PreferenceExamples >= 1, "preference_examples", PreferenceExamples, "must be >= 1");
        Check(RerankDepth >= 0, "rerank_depth", RerankDepth, "must be >= 0 (0: off)");
        Check(ValidationQuestions >= 1, "validation_questions", ValidationQuestions, "must be >= 1");
        Check(EvaluationQuestions >= 1, "evaluation_questions", EvaluationQuestions, "must be >= 1");
        Fairness.Validate();
        var stages = new List<(string, IStageConfig)> { ("pretrain", Pretrain), ("sft", Sft) };
        var seen = new Dictionary<string, MethodStage>();
        foreach (var (name, m) in Enabled())
        {
            Check(name.Length > 0 && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-'), $"methods.{name}", name, "method names are letters, digits, '_' and '-'");
            Check(!Baselines.Contains(name), $"methods.{name}", name, $"{string.Join(", ", Baselines)} are the baselines' rows");
            if (m.Stage == MethodStage.Align)
            {
                Check(seen.TryGetValue(m.From, out var from) && from is MethodStage.Sft or MethodStage.Align, $"methods.{name}.from", m.From,
                    "must name an enabled sft or align method listed before it");
                Check(m.Negatives >= 1 && m.Negatives < Candidates, $"methods.{name}.negatives", m.Negatives, $"must be in [1, candidates - 1 = {Candidates - 1}]");
                Check(m.LabelNoise is >= 0 and <= 1, $"methods.{name}.label_noise", m.LabelNoise, "must be in [0, 1]");
                stages.Add(($"methods.{name}.align", m.Align));
            }
            if (m.Hybrid.Length > 0)
            {
                Check(m.Stage == MethodStage.Sft, $"methods.{name}.hybrid", m.Hybrid, "only sft methods take hybrid item embeddings (align methods inherit them from the method they start from)");
                Check(seen.TryGetValue(m.Hybrid, out var rec) && rec == MethodStage.Sequential, $"methods.{name}.hybrid", m.Hybrid,
                    "must name an enabled sequential method listed before it");
                Check(ItemText != ItemText.Title, $"methods.{name}.hybrid", m.Hybrid, "hybrid item embeddings replace item tokens: set item_text to token or title_token");
                Check(SftModel is null, $"methods.{name}.hybrid", m.Hybrid, "sft_model reuses an existing SFT model for every sft method, so none would be trained with hybrid embeddings; leave sft_model unset");
            }
            if (m.Stage == MethodStage.Sequential) stages.Add(($"methods.{name}.sequential", m.Sequential));
            Check(!m.FairnessWeights || m.Stage != MethodStage.Sequential, $"methods.{name}.fairness_weights", true, "weights the LM's sft and align stages only");
            Check(!m.FairnessWeights || Fairness.Enabled, $"methods.{name}.fairness_weights", true, "needs pipeline.fairness.enabled (the item groups the weights come from)");
            seen[name] = m.Stage;
        }
        foreach (var (name, stage) in stages)
        {
            try { stage.Validate(); }
            catch (ArgumentException e) { throw new ArgumentException($"pipeline.{name}.{e.Message}", e); }
        }
        return this;
    }

    /// <summary>Row names of a synthetic world's ground truth (<see cref="PipelineData.GroundTruths"/>): shown beside the
    /// methods, never ranked against them.</summary>
    public const string OracleRow = "oracle", ObservedTasteRow = "oracle_observed_taste";
    public static readonly IReadOnlyList<string> GroundTruthRows = [OracleRow, ObservedTasteRow];

    /// <summary>Row names the baselines take.</summary>
    public static readonly IReadOnlyList<string> Baselines = ["random", "popularity", "transition", .. GroundTruthRows];

    /// <summary>
    /// Every stage of a pipeline run trains with <see cref="Seed"/>: this config with every stage's and method's
    /// <c>training.seed</c> set to it, so the resolved config a run stores is the one it ran. A stage seed set to
    /// anything but its default or <see cref="Seed"/> is refused rather than silently replaced.
    /// </summary>
    public PipelineConfig WithStageSeeds()
    {
        long seed = (long)Seed, unset = new Training.TrainingConfig().Seed;
        void Require(string name, Training.TrainingConfig stage)
        {
            if (stage.Seed != seed && stage.Seed != unset)
                throw new ArgumentException($"pipeline.{name}.training.seed={stage.Seed}: every stage of a pipeline run trains with pipeline.seed ({Seed}); set pipeline.seed (or --seed) instead");
        }
        Require("pretrain", Pretrain.Training);
        Require("sft", Sft.Training);
        foreach (var (name, m) in Methods)
        {
            Require($"methods.{name}.align", m.Align.Training);
            Require($"methods.{name}.sequential", m.Sequential.Training);
        }
        return this with
        {
            Pretrain = Pretrain with { Training = Pretrain.Training with { Seed = seed } },
            Sft = Sft with { Training = Sft.Training with { Seed = seed } },
            Methods = Methods.ToDictionary(m => m.Key, m => m.Value with
            {
                Align = m.Value.Align with { Training = m.Value.Align.Training with { Seed = seed } },
                Sequential = m.Value.Sequential with { Training = m.Value.Sequential.Training with { Seed = seed } },
            }),
        };
    }
}

/// <summary>
/// Item-side fairness in the pipeline (IFairLRS): every row gets MGU/DGU@K on its candidate lists and, with a catalog,
/// MGU/DGU@K, coverage and Gini on its full-catalog top K (all K and per-group shares in <c>fairness.json</c>); methods
/// with <c>fairness_weights</c> train on the groups' weights; <see cref="Rerank"/> adds a re-ranked row per trained method.
/// </summary>
public sealed record FairnessConfig
{
    public bool Enabled { get; init; } = true;
    /// <summary><c>popularity</c> (equal-size groups by training interaction count) or <c>genre</c> (the catalog's genres).</summary>
    public ItemGrouping Groups { get; init; } = ItemGrouping.Popularity;
    public int PopularityGroups { get; init; } = 5;
    /// <summary>Add a <c>NAME_rerank</c> row per trained method (retrieve-then-re-rank rows, <see cref="PipelineConfig.RerankDepth"/>,
    /// report catalog accuracy only): <see cref="Models.ExposureReranker"/> with its penalty and λ
    /// fitted on validation users (<see cref="Evaluation.ExposureRerankerTuning"/>).</summary>
    public bool Rerank { get; init; }
    /// <summary>The λ grid tried on validation, in standard deviations of a user's scores that the most over-exposed group
    /// pays (0, the unchanged model, is always tried).</summary>
    public double[] RerankLambdas { get; init; } = [.. Evaluation.ExposureRerankerTuning.DefaultLambdas];
    /// <summary>The largest relative loss of validation NDCG@10 a chosen λ may cost.</summary>
    public double MaxAccuracyDrop { get; init; } = 0.05;
    /// <summary>The K whose group unfairness the re-ranker penalises and minimises (MGU@K) and the summary reports: one of
    /// the evaluated cut-offs 1, 5, 10, 20.</summary>
    public int K { get; init; } = 10;
    /// <summary>Validation users the re-ranker is tuned on (full catalog; a seeded subset when there are more).</summary>
    public int ValidationUsers { get; init; } = 1000;

    public void Validate()
    {
        static void Check(bool ok, string field, object value, string rule)
        {
            if (!ok) throw new ArgumentException($"pipeline.fairness.{field} = {value} is invalid ({rule})");
        }
        Check(PopularityGroups >= 1, "popularity_groups", PopularityGroups, "must be >= 1");
        Check(RerankLambdas.Length > 0 && RerankLambdas.All(l => double.IsFinite(l) && l >= 0), "rerank_lambdas", string.Join(",", RerankLambdas), "a non-empty list of finite values >= 0");
        Check(MaxAccuracyDrop >= 0 && MaxAccuracyDrop <= 1, "max_accuracy_drop", MaxAccuracyDrop, "must be in [0, 1]");
        Check(Evaluation.GroupFairness.DefaultKs.Contains(K), "k", K, $"must be one of the evaluated cut-offs {string.Join(", ", Evaluation.GroupFairness.DefaultKs)}");
        Check(ValidationUsers >= 1, "validation_users", ValidationUsers, "must be >= 1");
        Check(!Rerank || Enabled, "rerank", Rerank, "needs pipeline.fairness.enabled");
    }
}

public enum LmCandidateScoring
{
    Prompt,
    History,
}

public enum PretrainText
{
    Histories,
    Prefixes,
}

/// <summary>One method's result in the summary.</summary>
public sealed record MethodResult(string Method, IReadOnlyDictionary<string, double> Metrics, double? StageSeconds, string? ModelDirectory)
{
    /// <summary>Why the method has no metrics: its training diverged, or what it starts from did; null for a row that ran.</summary>
    public string? Failure { get; init; }
}

public sealed record PipelineResult(RunDirectory Run, IReadOnlyList<MethodResult> Methods, IReadOnlyList<StageResult> Stages, double Seconds);

/// <summary>
/// The configured methods end to end (<see cref="PipelineConfig.Methods"/>, in order): sequential models on every
/// training prefix; the LM (compact tokenizer from the data → pretraining from scratch on catalog text and training
/// histories → SFT on candidate prompts) and the preference methods aligned from it → every method and the random,
/// popularity and transition baselines (and, with ground truth, the oracle) scored through the recommender contract on
/// the same candidate lists and, where a model has a catalog, the whole catalog → summary.json, registry row and report.
/// </summary>
public static class RecommendationPipeline
{
    /// <summary>Summary keys of the generated-answer scores (<see cref="PipelineConfig.GenerationEvaluation"/>).</summary>
    public const string GeneratedHr1Key = Metrics.GeneratedPrefix + Metrics.HitRatioAt1Key, GeneratedValidRatioKey = Metrics.GeneratedPrefix + Metrics.ValidRatioKey;
    /// <summary>Summary key of HR@1 on the evaluation lists with the history left out (<see cref="PipelineConfig.HistoryAblation"/>).</summary>
    public const string Hr1WithoutHistoryKey = "hr1_without_history";

    public static PipelineResult Run(PipelineData data, PipelineConfig config, string runsDir, string kind, object resolvedConfig,
        TextWriter? console = null, TorchSharp.torch.Device? device = null)
    {
        config = config.WithStageSeeds().Validate(); // callers that store the outer config apply it first (Quickstart does)
        var total = Stopwatch.StartNew();
        // Groups first: a grouping the data cannot give (genres of a catalog without them) fails before a run folder exists.
        var groups = config.Fairness.Enabled ? ItemGroups.For(config.Fairness.Groups, data.Catalog, data.PretrainHistories, config.Fairness.PopularityGroups) : null;
        using var session = RunSession.Start(runsDir, kind, resolvedConfig);
        var run = session.Run;
        var ctx = new StageContext(run, console, device);
        try
        {
            var (methods, stages) = RunStages(data, config, run, ctx, groups);
            var finalMetrics = methods.SelectMany(m => m.Metrics.Where(kv => kv.Key is "hr1" or "valid_ratio" or "ndcg@5" or "mrr" or GeneratedHr1Key or GeneratedValidRatioKey or Hr1WithoutHistoryKey or CatalogHr10Key or CatalogNdcg10Key || kv.Key.EndsWith("/hr1"))
                .Select(kv => KeyValuePair.Create($"{m.Method}/{kv.Key}", Math.Round(kv.Value, 6)))).ToDictionary();
            session.Complete(new RunSummary
            {
                Run = run.Id, Data = data.Name, Seed = config.Seed, FinalMetrics = finalMetrics,
                Methods = methods.ToDictionary(m => m.Method, m => new MethodSummary(m.Metrics.ToDictionary(kv => kv.Key, kv => Math.Round(kv.Value, 6)))
                {
                    WallSeconds = m.StageSeconds is { } sec ? Math.Round(sec, 1) : null, ModelDir = m.ModelDirectory, Failure = m.Failure,
                }),
                Stages = stages.Select(st => new StageSummary(st.Stage)
                {
                    WallSeconds = Math.Round(st.Seconds, 1), Steps = st.Training.Steps, Tokens = st.Training.Tokens,
                    ModelDir = Path.GetRelativePath(run.Path, st.ModelDirectory),
                }).ToList(),
                WallSeconds = Math.Round(total.Elapsed.TotalSeconds, 1),
                Evaluation = data.EvaluationRecord,
            });
            return new PipelineResult(run, methods, stages, total.Elapsed.TotalSeconds);
        }
        catch (Exception e)
        {
            session.Fail(e);
            throw;
        }
    }

    private static (List<MethodResult>, List<StageResult>) RunStages(PipelineData data, PipelineConfig config, RunDirectory run, StageContext ctx, ItemGroups? groups)
    {
        var sw = Stopwatch.StartNew();
        var catalog = data.Catalog;
        var sampler = Sampler(config, catalog.Count, data.TrainingExposure);
        var trainSource = Subsample(data.Train, config.SftExamples, config.Seed);
        var trainCandidates = sampler.Sample(trainSource);
        var validation = Questions(catalog, data.Templates, sampler.Sample(Subsample(data.Validation, config.ValidationQuestions, config.Seed + 1)), PromptSettings(config, config.Seed + 1));
        var evaluationLists = EvaluationLists(data.Evaluation, catalog.Count, config, data.EvaluationExposure);
        var evaluation = EvaluationQuestions(evaluationLists, catalog, data.Templates, config);
        var withoutHistory = config.HistoryAblation ? EvaluationQuestions(evaluationLists, catalog, data.Templates, config, omitHistory: true) : null;
        var prompts = new PromptBuilder(catalog, data.Templates, PromptSettings(config, config.Seed));
        // Questions in the pretraining format itself (the `history` templates): a pretrained model answers them as it is.
        bool sequencePrompts = data.Templates.All(t => t.IsSequence);
        var sftData = prompts.Build(trainCandidates);
        // The sequence examples behind the preference examples, position for position (a subset depends only on the count and seed).
        var preferenceSource = data.PreferencePool is { } pool
            ? Subsample(pool, config.PreferenceExamples, config.Seed + 3)
            : Subsample(trainSource, config.PreferenceExamples, config.Seed + 3);
        var preferenceExamples = data.PreferencePool is not null ? sampler.Sample(preferenceSource)
            : Subsample(trainCandidates, config.PreferenceExamples, config.Seed + 3);
        ctx.Say($"data {data.Name}: {catalog.Count} items; {sftData.Count} SFT / {preferenceExamples.Count} preference examples" +
            (data.PreferencePool is null ? " (from the SFT examples), " : " (held out from SFT), ") +
            $"{validation.Count} validation and {evaluation.Count} evaluation questions ({sw.Elapsed.TotalSeconds:F1}s)");

        if (groups is not null)
            ctx.Say($"item groups for fairness: {groups} items");
        var models = Path.Combine(run.Path, "models");
        var stages = new List<StageResult>();
        StageResult? pretrained = null;
        var trained = new List<(string Name, MethodConfig Method, StageResult Stage)>();
        var sequentialTrain = data.SequentialTrain ?? data.Train;
        // Preference data per starting model: hard negatives are mined once, with the most negatives any method asks of it.
        var preferenceCache = new Dictionary<string, List<PreferenceExample>>();
        // A method whose training diverges costs its own row (and the rows that start from it), not the run: a sweep
        // over losses and learning rates reports the others. Any other error still fails the run.
        var failures = new Dictionary<string, string>();
        string? pretrainFailure = null;
        foreach (var (name, method) in config.Enabled())
        {
            string? blocked = method.Stage switch
            {
                MethodStage.Align when failures.ContainsKey(method.From) => $"not run: {method.From}, which it starts from, has no model",
                MethodStage.Sft when method.Hybrid.Length > 0 && failures.ContainsKey(method.Hybrid) => $"not run: {method.Hybrid}, whose item embeddings it reads, has no model",
                MethodStage.Sft when pretrainFailure is not null => $"not run: {pretrainFailure}",
                _ => null,
            };
            if (blocked is not null)
            {
                failures[name] = blocked;
                ctx.Say($"{name}: {blocked}");
                continue;
            }
            StageResult stage;
            try
            {
                switch (method.Stage)
                {
                    case MethodStage.Sequential:
                        stage = StageRunner.TrainSequential(catalog, sequentialTrain, data.Validation, method.Sequential, Path.Combine(models, name), ctx, name);
                        break;
                    case MethodStage.Sft when config.SftModel is { } sftModel:
                        stage = ExistingModel("sft_model", sftModel, name);
                        ctx.Say($"{name}: the existing SFT model {stage.ModelDirectory} (pretrain and SFT skipped)");
                        break;
                    case MethodStage.Sft:
                    {
                        if (pretrained is null && config.PretrainModel is { } pretrainModel)
                        {
                            pretrained = ExistingModel("pretrain_model", pretrainModel, "pretrain");
                            ctx.Say($"pretrain: the existing model {pretrained.ModelDirectory} (pretraining skipped)");
                        }
                        if (pretrained is null)
                        {
                            // Windows as long as a prompt's history; 0: whole histories.
                            int window = config.PretrainOn == PretrainText.Prefixes ? prompts.Config.MaxHistory : 0;
                            var tokenizer = LanguageModelTokenizer(data, config, sftData, window);
                            ctx.Say($"tokenizer: compact cl100k vocabulary of {tokenizer.VocabSize} ids" + (tokenizer is ItemTokenizer it ? $" ({it.Catalog.Count} item tokens)" : ""));
                            var corpus = PretrainCorpus.Render(window > 0 ? PretrainCorpus.Windows(sequentialTrain, window) : data.PretrainHistories, catalog, config.ItemText, config.Pretrain.CatalogText);
                            pretrained = StageRunner.Pretrain(corpus, tokenizer, config.Pretrain, Path.Combine(models, "pretrain"), ctx, data.Validation,
                                sequencePrompts ? validation : null);
                            stages.Add(pretrained);
                        }
                        // Every sft method starts from the one pretrained model; they differ in how they train.
                        var train = sftData;
                        if (method.FairnessWeights)
                        {
                            var weights = GroupWeights.PerSample(trainCandidates.Select(e => e.History).ToList(), trainCandidates.Select(e => e.Target).ToList(), groups!);
                            train = sftData.Select((e, i) => e with { Weight = weights[i] }).ToList();
                        }
                        Func<LanguageModel, ITokenizer, HybridItemEmbedder>? hybrid = null;
                        if (method.Hybrid.Length > 0)
                        {
                            var recDir = trained.Single(t => t.Name == method.Hybrid).Stage.ModelDirectory;
                            hybrid = (lm, tok) => HybridItemEmbedder.FromRecommenderDirectory(lm, tok, recDir, $"{method.Hybrid} ({recDir})", (long)config.Seed + 13, method.HybridCombine);
                        }
                        stage = StageRunner.Sft(pretrained.ModelDirectory, train, validation, config.Sft, Path.Combine(models, name), ctx,
                            sampleWeighted: method.FairnessWeights, stageName: name, hybrid: hybrid, hybridSchedule: method.HybridSchedule);
                        break;
                    }
                    default:
                    {
                        var from = trained.Single(t => t.Name == method.From).Stage.ModelDirectory;
                        if (!preferenceCache.TryGetValue(method.From, out var fromPool))
                        {
                            int most = config.Enabled().Where(m => m.Method.Stage == MethodStage.Align && m.Method.From == method.From).Max(m => m.Method.Negatives);
                            preferenceCache[method.From] = fromPool = PreferenceData(preferenceExamples, prompts, catalog, config, from, most, method.From, ctx);
                        }
                        // The history as titles travels with each example (aligned with preferenceExamples), for losses that embed it.
                        var preferences = fromPool.Select((p, i) => p with
                        {
                            Rejected = p.Rejected.Take(method.Negatives).ToList(),
                            History = string.Join(", ", preferenceExamples[i].History.Select(catalog.Title)),
                            Environment = data.EnvironmentOf?.Invoke(preferenceSource[i]),
                        }).ToList();
                        if (method.LabelNoise > 0)
                        {
                            preferences = PreferenceNoise.Flip(preferences, method.LabelNoise, config.Seed + 11).Examples;
                            ctx.Say($"{name}: label noise: chosen and rejected swapped in {method.LabelNoise:P0} of {preferences.Count} preference examples");
                        }
                        if (method.FairnessWeights)
                        {
                            // The preference data is aligned with its examples, so each example's weight is its own.
                            var weights = GroupWeights.PerSample(preferenceExamples.Select(e => e.History).ToList(), preferenceExamples.Select(e => e.Target).ToList(), groups!);
                            preferences = preferences.Select((p, i) => p with { Weight = weights[i] }).ToList();
                        }
                        stage = StageRunner.Align(from, preferences, validation, method.Align, Path.Combine(models, name), ctx, name);
                        break;
                    }
                }
            }
            catch (TrainingDivergedException e)
            {
                // An sft method that diverges before it has a pretrained model diverged in pretraining, which every sft method shares.
                if (method.Stage == MethodStage.Sft && pretrained is null) pretrainFailure = $"pretraining diverged ({e.Message})";
                failures[name] = pretrainFailure ?? $"diverged ({e.Message})";
                ctx.Say($"{name}: {failures[name]}; the other methods go on without its row");
                continue;
            }
            stages.Add(stage);
            trained.Add((name, method, stage));
        }

        // Every row through the one contract: the same lists, the same metrics (and the whole catalog where a model has one).
        var popularity = CandidateSampler.PopularityWeights((data.PopularityTargets ?? data.Train).Select(e => e.Target), catalog.Count);
        var catalogExamples = evaluationLists.Select(e => new SequenceExample(e.User, e.History, e.Target, 0)).ToList();
        var results = new List<MethodResult>();
        var fairness = new Dictionary<string, Dictionary<string, double>>();
        var headline = HeadlineFairnessKeys(config.Fairness.K);
        void Add(string method, IRecommender recommender, StageResult? stage, bool say = false)
        {
            var evalWatch = Stopwatch.StartNew();
            var metrics = Evaluate(recommender, evaluation, withoutHistory, catalogExamples, data, config, groups);
            // Where preference training ended (margins, chosen log-probs, per-environment losses), so a sweep can show why a row moved or not.
            if (stage?.Training.FinalTrainingValues() is { } final && final.ContainsKey(Alignment.PreferenceStatistics.RewardsMargins))
                foreach (var (key, value) in final) metrics[TrainingResult.FinalValuePrefix + key] = value;
            // Every K and group goes to fairness.json; the summary keeps the headline figures at the configured K.
            fairness[method] = metrics.Where(kv => GroupFairness.IsFairnessKey(kv.Key)).ToDictionary();
            foreach (var key in fairness[method].Keys.Where(k => !headline.Contains(k))) metrics.Remove(key);
            results.Add(new(method, metrics, stage is { Training.Steps: > 0 } ? stage.Seconds : null, stage is null ? null : Path.GetRelativePath(run.Path, stage.ModelDirectory)));
            if (stage is not null) run.LogMetrics(stage.Training.Steps, metrics.ToDictionary(kv => $"{data.EvaluationLabel}_{kv.Key}", kv => kv.Value), stage.Stage);
            else if (!say) return;
            ctx.Say($"evaluation {method}: hr1 {metrics["hr1"]:F4}, ndcg@5 {metrics.GetValueOrDefault("ndcg@5"):F4}" +
                (metrics.TryGetValue(Hr1WithoutHistoryKey, out var bare) ? $", hr1 without history {bare:F4}" : "") +
                (metrics.TryGetValue(CatalogNdcg10Key, out var full) ? $", catalog ndcg@10 {full:F4}" : "") +
                (metrics.TryGetValue(Metrics.CatalogPrefix + GroupFairness.MguKey(config.Fairness.K), out var mgu) ? $", catalog mgu@{config.Fairness.K} {mgu:F4}"
                    : metrics.TryGetValue(GroupFairness.MguKey(config.Fairness.K), out mgu) ? $", mgu@{config.Fairness.K} {mgu:F4}" : "") +
                (metrics.TryGetValue(GeneratedHr1Key, out var genHr1) ? $", generated hr1 {genHr1:F4} (valid {metrics[GeneratedValidRatioKey]:F4})" : "") +
                string.Concat(data.ExtraEvaluations.Select(e => $", {e.Name}/hr1 {metrics[e.Name + "/hr1"]:F4}")) + $" ({evalWatch.Elapsed.TotalSeconds:F1}s)");
        }
        using (var random = new RandomRecommender(config.Seed, catalog)) Add("random", random, null);
        using (var popular = new PopularityRecommender(catalog, popularity)) Add("popularity", popular, null);
        using (var transition = TransitionRecommender.FromTraining(catalog, sequentialTrain)) Add("transition", transition, null);
        foreach (var (name, truth) in data.GroundTruths)
            results.Add(new(name, Baselines.Oracle(evaluation, evaluationLists, truth), null, null));
        // The pretrained LM alone (what SFT and alignment start from): an item-token LM ranked as a sequential model
        // ranks, or any LM asked in the pretraining format itself, which it answers as it is.
        if ((config.ItemText != ItemText.Title || sequencePrompts) && pretrained is not null)
            using (var recommender = Recommenders.Load(pretrained.ModelDirectory, ctx.TorchDevice))
            {
                if (recommender is LanguageModelRecommender lm) lm.RankFromHistory = !sequencePrompts;
                Add("pretrain", recommender, pretrained);
            }
        foreach (var (name, _, stage) in trained)
            using (var recommender = Recommenders.Load(stage.ModelDirectory, ctx.TorchDevice))
            {
                if (recommender is LanguageModelRecommender { Catalog: not null } lm) lm.RankFromHistory = config.LmCandidateScoring == LmCandidateScoring.History;
                Add(name, recommender, stage);
            }
        foreach (var (name, reason) in failures)
            results.Add(new(name, new Dictionary<string, double>(), null, null) { Failure = reason });

        // Fairness re-ranking: each trained method behind a re-ranker whose penalty and λ are fitted on validation users.
        var tunings = new Dictionary<string, RerankTuning>();
        if (config.Fairness.Rerank && groups is not null)
        {
            var tuneUsers = Subsample(data.Validation, config.Fairness.ValidationUsers, config.Seed + 5);
            foreach (var (name, _, stage) in trained)
                using (var recommender = Recommenders.Load(stage.ModelDirectory, ctx.TorchDevice))
                {
                    var watch = Stopwatch.StartNew();
                    if (recommender is LanguageModelRecommender { Catalog: not null } lm) lm.RankFromHistory = config.LmCandidateScoring == LmCandidateScoring.History;
                    var tuning = ExposureRerankerTuning.Fit(recommender, groups, tuneUsers, validation, config.Fairness.RerankLambdas, config.Fairness.MaxAccuracyDrop, config.Fairness.K);
                    tunings[name + "_rerank"] = tuning;
                    ctx.Say($"fairness re-ranking of {name}: λ = {tuning.Lambda} on {tuning.Protocol} validation (" +
                        string.Join(", ", tuning.Trials.Select(t => $"λ {t.Lambda}: ndcg@10 {t.Accuracy:F4} mgu@{config.Fairness.K} {t.Mgu:F4}")) + $"; {watch.Elapsed.TotalSeconds:F1}s)");
                    using var reranked = tuning.Apply(recommender, groups);
                    Add(name + "_rerank", reranked, null, say: true);
                }
        }
        if (groups is not null) WriteFairness(run, groups, config.Fairness, fairness, tunings);

        // Retrieval then re-ranking: the first sequential method retrieves, each LM row re-orders its top items.
        var recommenders = trained.Where(t => t.Method.Stage == MethodStage.Sequential).Select(t => (t.Name, t.Stage)).ToList();
        var lmRows = trained.Where(t => t.Method.Stage != MethodStage.Sequential).Select(t => t.Stage).ToList();
        if (config.RerankDepth > 0 && recommenders.Count > 0 && lmRows.Count > 0)
        {
            var builder = new PromptBuilder(catalog, data.Templates, PromptSettings(config, config.Seed + 2));
            CandidateQuestion Ask(IReadOnlyList<int> history, IReadOnlyList<int> retrieved) =>
                CandidateQuestions.From(builder, catalog, [new CandidateExample(0, history, retrieved[0], retrieved)])[0];
            var (retrieverName, retrieverStage) = recommenders[0];
            using var retriever = Recommenders.Load(retrieverStage.ModelDirectory, ctx.TorchDevice);
            foreach (var stage in lmRows)
            {
                var watch = Stopwatch.StartNew();
                using var lm = Recommenders.Load(stage.ModelDirectory, ctx.TorchDevice);
                using var hybrid = new RetrieveThenRerank(retriever, lm, config.RerankDepth, Ask);
                var full = RecommenderEvaluator.Catalog(hybrid, catalogExamples, batchSize: 32).Metrics;
                var metrics = new[] { CatalogHr10Key, CatalogNdcg10Key, CatalogMrrKey }.ToDictionary(k => k, k => full[k]);
                var method = $"{retrieverName}_top{config.RerankDepth}_{stage.Stage}";
                results.Add(new(method, metrics, null, null));
                ctx.Say($"evaluation {method} ({retrieverName} retrieves {config.RerankDepth}, {stage.Stage} re-ranks): catalog hr@10 {metrics[CatalogHr10Key]:F4}, " +
                    $"ndcg@10 {metrics[CatalogNdcg10Key]:F4} ({watch.Elapsed.TotalSeconds:F1}s)");
            }
        }
        return (results, stages);
    }

    /// <summary>A model directory named by <c>pipeline.{field}</c> as a stage that trained nothing.</summary>
    private static StageResult ExistingModel(string field, string directory, string stage)
    {
        if (!File.Exists(Path.Combine(directory, "config.json")))
            throw new ArgumentException($"pipeline.{field}: '{directory}' is not a model directory (no config.json)");
        return new StageResult(stage, Path.GetFullPath(directory), 0, new TrainingResult(0, double.NaN, null, null, false, 0, []));
    }

    /// <summary>Summary keys of full-catalog metrics on the evaluation examples (models with a catalog).</summary>
    public const string CatalogHr10Key = Metrics.CatalogPrefix + "hr@10", CatalogNdcg10Key = Metrics.CatalogPrefix + "ndcg@10", CatalogMrrKey = Metrics.CatalogPrefix + Metrics.MrrKey;

    /// <summary>One row's metrics: the evaluation lists (and extra sets), the history ablation, the whole catalog when the
    /// model has one, and greedy generation when it is a language model (generation is its capability alone).</summary>
    private static Dictionary<string, double> Evaluate(IRecommender recommender, IReadOnlyList<CandidateQuestion> evaluation,
        IReadOnlyList<CandidateQuestion>? withoutHistory, IReadOnlyList<SequenceExample> catalogExamples, PipelineData data, PipelineConfig config, ItemGroups? groups)
    {
        var metrics = WithExtras(RecommenderEvaluator.Candidates(recommender, evaluation, groups: groups).Metrics, data, q => RecommenderEvaluator.Candidates(recommender, q).Metrics);
        if (withoutHistory is not null)
            metrics[Hr1WithoutHistoryKey] = RecommenderEvaluator.Candidates(recommender, withoutHistory).Metrics[Metrics.HitRatioAt1Key];
        if (recommender.Catalog is not null)
        {
            var full = RecommenderEvaluator.Catalog(recommender, catalogExamples, groups: groups).Metrics;
            foreach (var key in new[] { CatalogHr10Key, CatalogNdcg10Key, CatalogMrrKey }.Concat(full.Keys.Where(GroupFairness.IsFairnessKey))) metrics[key] = full[key];
        }
        // Generation answers the candidate prompt; a model ranked from the history alone was never asked one.
        if (config.GenerationEvaluation && recommender is LanguageModelRecommender { RankFromHistory: false } lm)
        {
            var generated = GenerateGreedy(lm.Model, lm.Tokenizer, evaluation).Metrics;
            metrics[GeneratedHr1Key] = generated[GeneratedHr1Key];
            metrics[GeneratedValidRatioKey] = generated[GeneratedValidRatioKey];
        }
        return metrics;
    }

    /// <summary>The fairness figures a method's summary row keeps: MGU and DGU at <paramref name="k"/> on the candidate
    /// lists and the catalog, with the catalog's coverage and Gini.</summary>
    public static IReadOnlySet<string> HeadlineFairnessKeys(int k) => new HashSet<string>
    {
        GroupFairness.MguKey(k), GroupFairness.DguKey(k),
        Metrics.CatalogPrefix + GroupFairness.MguKey(k), Metrics.CatalogPrefix + GroupFairness.DguKey(k),
        Metrics.CatalogPrefix + GroupFairness.CoverageKey(k), Metrics.CatalogPrefix + GroupFairness.GiniKey(k),
    };

    private static void WriteFairness(RunDirectory run, ItemGroups groups, FairnessConfig config, Dictionary<string, Dictionary<string, double>> rows,
        Dictionary<string, RerankTuning> tunings)
    {
        var json = new JsonObject
        {
            ["groups"] = new JsonObject
            {
                ["kind"] = groups.Kind,
                ["names"] = new JsonArray(groups.Names.Select(n => (JsonNode?)n).ToArray()),
                ["sizes"] = new JsonArray(groups.Sizes().Select(s => (JsonNode?)s).ToArray()),
            },
            ["k"] = config.K,
            ["methods"] = new JsonObject(rows.Select(r => KeyValuePair.Create(r.Key, (JsonNode?)new JsonObject(
                r.Value.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)Math.Round(kv.Value, 6))))))),
            ["rerank"] = new JsonObject(tunings.Select(t => KeyValuePair.Create(t.Key, (JsonNode?)new JsonObject
            {
                ["protocol"] = t.Value.Protocol,
                ["lambda"] = t.Value.Lambda,
                ["group_penalty"] = new JsonArray(t.Value.GroupPenalty.Select(p => (JsonNode?)Math.Round(p, 6)).ToArray()),
                ["trials"] = new JsonArray(t.Value.Trials.Select(x => (JsonNode?)new JsonObject
                {
                    ["lambda"] = x.Lambda, ["ndcg@10"] = Math.Round(x.Accuracy, 6), [$"mgu@{config.K}"] = Math.Round(x.Mgu, 6),
                }).ToArray()),
            }))),
        };
        IO.AtomicFile.WriteAllText(run.FairnessPath, json.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }) + "\n");
    }

    /// <summary>The from-scratch LM's tokenizer: cl100k ranks the titles, catalog text and prompts use (item tokens
    /// left out of that count), plus one token per item when <see cref="PipelineConfig.ItemText"/> asks for them.</summary>
    private static ITokenizer LanguageModelTokenizer(PipelineData data, PipelineConfig config, IReadOnlyList<PromptExample> sftData, int historyWindow)
    {
        var catalog = data.Catalog;
        var text = PretrainCorpus.Render(data.PretrainHistories, catalog, ItemText.Title)
            .Concat(catalog.Items.Select(i => PromptTokenization.ResponseSeparator + i.Title))
            .Concat(sftData.Take(200).Select(e => ItemTokens.Pattern().Replace(e.Prompt, " ")));
        var compact = CompactVocabularyTokenizer.Build(text);
        return config.ItemText == ItemText.Title ? compact
            : new ItemTokenizer(compact, catalog) { HistoryWindow = historyWindow, HistoryTitles = config.ItemText == ItemText.TitleToken };
    }

    /// <summary>Preference examples with <paramref name="negatives"/> rejected responses each, for every method aligned from
    /// <paramref name="fromModel"/>: uniformly drawn (<c>random</c>), or that model's top wrong candidates (<c>hard</c>; with
    /// <c>generated</c>, its wrong greedy answer first). A method with fewer negatives takes the first ones, so DPO's
    /// rejected response is S-DPO's first.</summary>
    private static List<PreferenceExample> PreferenceData(IReadOnlyList<CandidateExample> examples, PromptBuilder prompts, ItemCatalog catalog,
        PipelineConfig config, string fromModel, int negatives, string fromName, StageContext ctx)
    {
        if (config.Rejected == RejectedSelection.Random) return prompts.BuildPreferences(examples, negatives);
        var sw = Stopwatch.StartNew();
        var questions = CandidateQuestions.From(prompts, catalog, examples);
        var (lm, tokenizer) = ModelDirectory.Load(fromModel, device: ctx.TorchDevice);
        using (lm)
        {
            using var scores = CandidateEvaluator.Score(lm, tokenizer, questions);
            var preferences = HardNegatives.Select(scores, questions, negatives);
            if (config.Rejected == RejectedSelection.Generated)
            {
                var answers = GenerateGreedy(lm, tokenizer, questions, keepDetails: true).Details!.Select(d => d.Answer ?? "").ToList();
                preferences = HardNegatives.WithGeneratedAnswers(preferences, answers);
            }
            ctx.Say($"hard negatives: the {fromName} model's " + (config.Rejected == RejectedSelection.Generated ? "wrong greedy answer and " : "") +
                $"top wrong candidates ({negatives} in all) for {questions.Count} examples ({sw.Elapsed.TotalSeconds:F1}s)");
            return preferences;
        }
    }

    /// <summary>Greedy answers matched to the candidates, with room for the longest candidate title plus EOS; an LM with
    /// item tokens answers with one, constrained to the listed items' tokens (always a valid answer).</summary>
    private static EvaluationResult GenerateGreedy(LanguageModel lm, Text.ITokenizer tokenizer, IReadOnlyList<CandidateQuestion> questions, bool keepDetails = false)
    {
        int maxTokens = questions.SelectMany(q => q.Candidates).Distinct().Max(t => PromptTokenization.Response(tokenizer, t).Length) + 2;
        return CandidateEvaluator.Generate(lm, tokenizer, questions, new GenerationConfig { MaxNewTokens = maxTokens }, constrained: tokenizer is ItemTokenizer, keepDetails: keepDetails);
    }

    private static Dictionary<string, double> WithExtras(IReadOnlyDictionary<string, double> main, PipelineData data,
        Func<IReadOnlyList<CandidateQuestion>, IReadOnlyDictionary<string, double>> evaluate)
    {
        var all = new Dictionary<string, double>(main);
        foreach (var (name, questions) in data.ExtraEvaluations)
            foreach (var (k, v) in evaluate(questions))
                all[$"{name}/{k}"] = v;
        return all;
    }

    /// <summary>A seeded subset of <paramref name="n"/> examples in their original order (all of them when there are
    /// fewer). Never the first n: sequence tables list each user's prefixes together, so a head would be a handful of users.</summary>
    public static IReadOnlyList<T> Subsample<T>(IReadOnlyList<T> examples, int n, ulong seed)
    {
        if (n < 1) throw new ArgumentOutOfRangeException(nameof(n), n, "a subset needs at least one example");
        if (examples.Count <= n) return examples;
        var order = Enumerable.Range(0, examples.Count).ToArray();
        new Randomness.Pcg32(seed, 0x5ab).Shuffle<int>(order);
        return order.Take(n).Order().Select(i => examples[i]).ToList();
    }

    /// <summary>The reported evaluation lists: a seeded subset of <see cref="PipelineConfig.EvaluationQuestions"/>
    /// examples, each with its seeded candidate list. <see cref="SequenceTablePipeline"/> asks a validation table the
    /// same way, so its validation columns equal what a run without a test table reports.</summary>
    internal static List<CandidateExample> EvaluationLists(IReadOnlyList<SequenceExample> examples, int itemCount, PipelineConfig config,
        IReadOnlyList<double>? exposure = null) =>
        Sampler(config, itemCount, exposure).Sample(Subsample(examples, config.EvaluationQuestions, config.Seed + 2));

    /// <summary>The evaluation lists as prompts (the same seeded template draw every time).</summary>
    internal static List<CandidateQuestion> EvaluationQuestions(IReadOnlyList<CandidateExample> lists, ItemCatalog catalog,
        IReadOnlyList<PromptTemplate> templates, PipelineConfig config, bool omitHistory = false) =>
        Questions(catalog, templates, lists, PromptSettings(config, config.Seed + 2) with { OmitHistory = omitHistory });

    /// <param name="exposure">Per-item weights for the negatives (an exposure policy); null: uniform.</param>
    private static CandidateSampler Sampler(PipelineConfig config, int itemCount, IReadOnlyList<double>? exposure = null) =>
        exposure is null
            ? CandidateSampler.For(new CandidateConfig { Count = config.Candidates, Seed = config.Seed }, itemCount)
            : new CandidateSampler(new CandidateConfig { Count = config.Candidates, Seed = config.Seed, Negatives = NegativeSampling.Weighted }, itemCount, exposure);

    private static List<CandidateQuestion> Questions(ItemCatalog catalog, IReadOnlyList<PromptTemplate> templates,
        IReadOnlyList<CandidateExample> examples, PromptConfig settings) =>
        CandidateQuestions.From(new PromptBuilder(catalog, templates, settings), catalog, examples);

    /// <summary>How every prompt of a run is rendered (seeded per use: SFT, validation, evaluation...).</summary>
    internal static PromptConfig PromptSettings(PipelineConfig config, ulong seed) =>
        new() { Seed = seed, ItemText = config.ItemText, MaxHistory = config.MaxHistory };
}
