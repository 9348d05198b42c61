using System.Diagnostics;
using System.Text.Json.Nodes;
using RecAlign.Alignment;
using RecAlign.Configuration;
using RecAlign.Data;
using RecAlign.Data.Candidates;
using RecAlign.Data.Splits;
using RecAlign.Data.Synthetic;
using RecAlign.Evaluation;
using RecAlign.Inference;
using RecAlign.Models.Language;
using RecAlign.Prompts;
using RecAlign.Runs;
using RecAlign.Text;
using RecAlign.Training.Stages;

namespace RecAlign.Pipelines;

/// <summary>Settings of the end-to-end quickstart; the defaults finish in a few minutes on a 2-core CPU.</summary>
public sealed record QuickstartConfig
{
    public ulong Seed { get; init; } = 42;
    /// <summary>Synthetic preset: <c>tiny</c> or <c>small</c>.</summary>
    public string DataSize { get; init; } = "small";
    public int Candidates { get; init; } = 20;
    public int SftExamples { get; init; } = 3000;
    public int PreferenceExamples { get; init; } = 1500;
    public int SdpoNegatives { get; init; } = 3;
    public int ValidationQuestions { get; init; } = 200;
    public int TestQuestions { get; init; } = 600;
    public PretrainConfig Pretrain { get; init; } = new();
    public SftConfig Sft { get; init; } = new();
    public AlignConfig Dpo { get; init; } = new() { Loss = new PreferenceLossConfig { LossType = "dpo", Beta = 0.1 } };
    public AlignConfig Sdpo { get; init; } = new() { Loss = new PreferenceLossConfig { LossType = "sdpo", Beta = 1.0 } };
}

/// <summary>One method's test result in the quickstart summary.</summary>
public sealed record MethodResult(string Method, IReadOnlyDictionary<string, double> Metrics, double? StageSeconds, string? ModelDirectory);

public sealed record QuickstartResult(RunDirectory Run, IReadOnlyList<MethodResult> Methods, double Seconds);

/// <summary>
/// The one command: synthetic data → pretrain a tiny LM on catalog text and training histories → SFT on candidate
/// prompts → DPO and Softmax-DPO from the same SFT model → evaluate everything (plus random and popularity baselines)
/// on the same test candidate lists → summary.json, registry row and report.
/// </summary>
public static class Quickstart
{
    public static QuickstartResult Run(QuickstartConfig config, string runsDir, TextWriter? console = null)
    {
        var total = Stopwatch.StartNew();
        var run = RunDirectory.Create(runsDir, "quickstart", config);
        var registry = RunRegistry.ForRunsDir(runsDir);
        registry.Register(run, RunStatus.Running);
        var ctx = new StageContext(run, console);
        try
        {
            var methods = RunStages(config, run, ctx);
            var summary = new JsonObject
            {
                ["run"] = run.Id,
                ["seed"] = config.Seed,
                ["data"] = config.DataSize,
                ["methods"] = new JsonObject(methods.Select(m => KeyValuePair.Create(m.Method, (JsonNode?)MethodJson(m)))),
                ["total_seconds"] = Math.Round(total.Elapsed.TotalSeconds, 1),
            };
            run.WriteSummary(summary);
            registry.SetFinalMetrics(run.Id, methods.SelectMany(m => m.Metrics.Where(kv => kv.Key is "hr1" or "valid_ratio")
                .Select(kv => KeyValuePair.Create($"{m.Method}/{kv.Key}", kv.Value))).ToDictionary());
            registry.UpdateStatus(run.Id, RunStatus.Completed);
            Report.Write(run);
            return new QuickstartResult(run, methods, total.Elapsed.TotalSeconds);
        }
        catch
        {
            registry.UpdateStatus(run.Id, RunStatus.Failed);
            throw;
        }
    }

    private static JsonObject MethodJson(MethodResult m)
    {
        var o = new JsonObject();
        foreach (var (k, v) in m.Metrics) o[k] = Math.Round(v, 6);
        if (m.StageSeconds is { } s) o["wall_seconds"] = Math.Round(s, 1);
        if (m.ModelDirectory is { } d) o["model_dir"] = d;
        return o;
    }

    private static List<MethodResult> RunStages(QuickstartConfig config, RunDirectory run, StageContext ctx)
    {
        // 1. Data: a synthetic world, leave-one-out split, seeded candidate lists, prompts.
        var sw = Stopwatch.StartNew();
        var world = SyntheticWorld.Generate(SyntheticConfig.Preset(config.DataSize) with { Seed = config.Seed });
        var dataset = world.Dataset;
        var split = Splitter.Split(dataset, new SplitConfig { Method = SplitMethod.LeaveOneOut, TrainAllPrefixes = false });
        var candidates = new CandidateConfig { Count = config.Candidates, Seed = config.Seed };
        var sampler = CandidateSampler.For(candidates, dataset.Catalog.Count);
        var trainCandidates = sampler.Sample(split.Train.Take(config.SftExamples));
        var validation = Questions(dataset.Catalog, sampler.Sample(split.Validation.Take(config.ValidationQuestions)), config.Seed + 1);
        var test = Questions(dataset.Catalog, sampler.Sample(split.Test.Take(config.TestQuestions)), config.Seed + 2);
        var prompts = new PromptBuilder(dataset.Catalog, PromptTemplates.Item, new PromptConfig { Seed = config.Seed });
        var sftData = prompts.Build(trainCandidates);
        var dpoData = prompts.BuildPreferences(trainCandidates.Take(config.PreferenceExamples), 1);
        var sdpoData = prompts.BuildPreferences(trainCandidates.Take(config.PreferenceExamples), config.SdpoNegatives);
        ctx.Say($"data: {dataset.UserCount} users, {dataset.Catalog.Count} items, {dataset.Interactions.Length} interactions; " +
            $"{sftData.Count} SFT / {dpoData.Count} preference examples, {validation.Count} validation and {test.Count} test questions ({sw.Elapsed.TotalSeconds:F1}s)");

        // 2. Pretraining corpus: catalog titles and training histories only (no validation or test targets).
        var trainHistories = dataset.Sequences().Select(s => s.Items.Length > 2 ? s.Items[..^2] : s.Items)
            .Select(items => PromptBuilder.Join(items.Select(dataset.Catalog.Title), ItemListStyle.Comma)).ToList();
        var catalogLines = dataset.Catalog.Items.Select(i => i.Genres.Count > 0 ? $"{i.Title} ({string.Join(", ", i.Genres)})" : i.Title);
        var corpus = trainHistories.Concat(catalogLines).ToList();
        var tokenizer = CompactVocabularyTokenizer.Build(corpus.Concat(sftData.Take(200).Select(e => e.Prompt)));
        ctx.Say($"tokenizer: compact cl100k vocabulary of {tokenizer.VocabSize} ids");

        var models = Path.Combine(run.Path, "models");
        var pretrain = StageRunner.Pretrain(corpus, tokenizer, config.Pretrain with { Training = config.Pretrain.Training with { Seed = (long)config.Seed } },
            Path.Combine(models, "pretrain"), ctx);
        var sft = StageRunner.Sft(pretrain.ModelDirectory, sftData, validation, config.Sft with { Training = config.Sft.Training with { Seed = (long)config.Seed } },
            Path.Combine(models, "sft"), ctx);
        var dpo = StageRunner.Align(sft.ModelDirectory, dpoData, validation, config.Dpo with { Training = config.Dpo.Training with { Seed = (long)config.Seed } },
            Path.Combine(models, "dpo"), ctx, "dpo");
        var sdpo = StageRunner.Align(sft.ModelDirectory, sdpoData, validation, config.Sdpo with { Training = config.Sdpo.Training with { Seed = (long)config.Seed } },
            Path.Combine(models, "sdpo"), ctx, "sdpo");

        // 3. Evaluation on the same test questions.
        var popularity = CandidateSampler.PopularityWeights(split.Train.Select(e => e.Target), dataset.Catalog.Count);
        var results = new List<MethodResult>
        {
            new("random", Baselines.Random(test, config.Seed), null, null),
            new("popularity", Baselines.Popularity(test, dataset.Catalog, popularity), null, null),
        };
        foreach (var stage in new[] { sft, dpo, sdpo })
        {
            var evalWatch = Stopwatch.StartNew();
            var (lm, tok) = ModelDirectory.Load(stage.ModelDirectory);
            using (lm)
            {
                var metrics = CandidateEvaluator.Rank(lm, tok, test).Metrics;
                results.Add(new(stage.Stage, metrics, stage.Seconds, Path.GetRelativePath(run.Path, stage.ModelDirectory)));
                run.LogMetrics(stage.Training.Steps, metrics.ToDictionary(kv => "test_" + kv.Key, kv => kv.Value), stage.Stage);
                ctx.Say($"test {stage.Stage}: hr1 {metrics["hr1"]:F4}, ndcg@5 {metrics.GetValueOrDefault("ndcg@5"):F4} ({evalWatch.Elapsed.TotalSeconds:F1}s)");
            }
        }
        return results;
    }

    private static List<CandidateQuestion> Questions(ItemCatalog catalog, IReadOnlyList<CandidateExample> examples, ulong seed)
    {
        var builder = new PromptBuilder(catalog, PromptTemplates.Item, new PromptConfig { Seed = seed });
        return examples.Select(e => new CandidateQuestion(builder.Prompt(e), e.Candidates.Select(catalog.Title).ToList(), IndexOf(e))).ToList();

        static int IndexOf(CandidateExample e)
        {
            for (int i = 0; i < e.Candidates.Count; i++) if (e.Candidates[i] == e.Target) return i;
            throw new ArgumentException($"candidate list of user {e.User} lacks its target");
        }
    }
}
