using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using RecAlign.Data;
using RecAlign.Interpretation;
using RecAlign.Models.Language;
using RecAlign.Models.Sequential;
using RecAlign.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace RecAlign.Pipelines.Stages;

public static partial class StageRunner
{
    /// <summary>The interpreter's evaluation, beside its adapter in the output directory (and in the run directory).</summary>
    public const string InterpretResultFile = "interpret_result.json";
    /// <summary>Every validation example's generation, one JSON object a line, in the run directory.</summary>
    public const string InterpretGenerationsFile = "interpret_generations.jsonl";

    /// <summary>
    /// RecInterpreter: loads the LM (<paramref name="lmDir"/>) and the sequential recommender (<paramref name="recommenderDir"/>),
    /// both frozen; trains the <see cref="StateAdapter"/> on <paramref name="train"/>'s histories (ids of
    /// <paramref name="catalog"/>, matched to the recommender's items by id or title) with the shared <see cref="Trainer"/>
    /// (validation loss logged as <c>eval_loss</c>); then generates greedily for a seeded subset of
    /// <paramref name="validation"/> and writes the adapter, its config and <see cref="InterpretResultFile"/> to
    /// <paramref name="outputDir"/>.
    /// </summary>
    public static StageResult Interpret(string lmDir, string recommenderDir, ItemCatalog catalog, IReadOnlyList<SequenceExample> train,
        IReadOnlyList<SequenceExample> validation, InterpretConfig config, string outputDir, StageContext ctx, string stageName = "interpret")
    {
        var sw = Stopwatch.StartNew();
        config.Validate();
        var device = ctx.TorchDevice;
        var (lm, tokenizer) = ModelDirectory.Load(lmDir, device: device);
        using (lm)
        {
            using var rec = SequentialModelDirectory.Load(recommenderDir, device);
            Prepare(lm, config.Training.Precision, ctx);
            foreach (var p in lm.parameters()) p.requires_grad = false;
            lm.eval(); // frozen: no dropout either
            if (config.Lora is { } lora) lm.AddLora(lora, config.Training.Seed + 19); // the base stays frozen; the adapters train
            var real = new RecommenderStates(rec.Model);
            var map = InterpretationData.MapToRecommender(catalog, rec.Catalog);
            if (!map.Any(r => r >= 0))
                throw new ArgumentException($"none of the data's {catalog.Count} items is in the recommender's catalog ({recommenderDir}): match by id or title failed for all");
            var seed = config.Training.Seed;
            var trainSource = config.MaxTrainExamples > 0 ? RecommendationPipeline.Subsample(train, config.MaxTrainExamples, (ulong)seed + 3) : train;
            var evalSource = validation.Count == 0 ? validation : RecommendationPipeline.Subsample(validation, config.EvalExamples, (ulong)seed + 5);
            int context = lm.Config.MaxPositionEmbeddings;
            int window = config.MaxHistory > 0 ? Math.Min(config.MaxHistory, real.Width) : real.Width;
            var (trainExamples, trainSkipped) = InterpretationData.Build(trainSource, catalog, map, window, config.Task, config.Prompts, tokenizer, 0, context, "training data");
            var (evalExamples, evalSkipped) = InterpretationData.Build(evalSource, catalog, map, window, config.Task, config.Prompts, tokenizer, 1L << 40, context, "validation data");
            if (trainExamples.Count == 0) throw new ArgumentException($"no training example left for the interpreter ({trainSkipped} skipped: empty histories or items the recommender does not know)");
            if (evalExamples.Count == 0) throw new ArgumentException($"no validation example left to evaluate the interpreter on ({evalSkipped} of {evalSource.Count} skipped, or no validation data)");

            IHistoryStates states = real;
            if (config.RandomStates)
            {
                var sample = trainExamples.Take(256).SelectMany(e => e.States).Take(256).ToList();
                var scale = RandomStates.ScaleOf(real, sample);
                states = new RandomStates(real.Width, real.Dim, scale, seed + 17);
                ctx.Say($"{stageName}: the floor: random N(0, {scale:F3}²) states in place of {rec.Model.Config.ModelType}'s");
            }
            using var adapter = new StateAdapter(real.Width, real.Dim, lm.Config.HiddenSize, seed + 11);
            adapter.to(device);
            ctx.Say($"{stageName}: {rec.Model.Config.ModelType} states ({real.Width} positions × {real.Dim}) → one {lm.Config.HiddenSize}-d soft token of {lmDir}; " +
                (config.Lora is null ? $"{adapter.parameters().Sum(p => p.numel())} trainable parameters, LM and recommender frozen; "
                    : $"{adapter.parameters().Sum(p => p.numel())} adapter + {lm.parameters().Where(p => p.requires_grad).Sum(p => p.numel())} LoRA (r={config.Lora.Rank}) trainable parameters, recommender frozen; ") +
                $"{config.Task.ToString().ToLowerInvariant()}: " +
                $"{trainExamples.Count} training examples ({trainSkipped} histories skipped), {evalExamples.Count} validation examples ({evalSkipped} skipped); " +
                $"longest target {trainExamples.Max(e => e.Response.Length)} tokens");

            var objective = new InterpretationObjective(lm, adapter, states, trainExamples, tokenizer.PadOrEosId());
            var evalObjective = new InterpretationObjective(lm, adapter, states, evalExamples, tokenizer.PadOrEosId());
            int batch = config.Training.BatchSize;
            IReadOnlyDictionary<string, double> ValidationLoss(long _)
            {
                double sum = 0;
                long tokens = 0;
                for (int start = 0; start < evalExamples.Count; start += batch)
                {
                    using var scope = NewDisposeScope();
                    var rows = evalExamples.Skip(start).Take(batch).ToList();
                    long n = rows.Sum(r => (long)r.Response.Length);
                    sum += evalObjective.Loss(rows).to(ScalarType.Float64).item<double>() * n;
                    tokens += n;
                }
                return new Dictionary<string, double> { ["loss"] = sum / Math.Max(1, tokens) };
            }
            // With LoRA the trainer sees both as one module (its checkpoints hold both; the LM's dropout is on while training).
            var trainable = config.Lora is null ? (nn.Module)adapter : new InterpreterWithLm(adapter, lm);
            var result = Train(stageName, trainable, objective, config.Training, ValidationLoss, ctx);
            lm.eval();

            var genWatch = Stopwatch.StartNew();
            var outputs = new List<InterpretationOutput>();
            foreach (var task in new[] { InterpretTask.Recovery, InterpretTask.Residual })
            {
                var subset = evalExamples.Where(e => e.Task == task).ToList();
                if (subset.Count == 0) continue;
                outputs.AddRange(InterpretationEvaluator.Run(lm, tokenizer, adapter, states, subset,
                    task == InterpretTask.Recovery ? config.RecoveryMaxNewTokens : config.ResidualMaxNewTokens, config.EvalBatchSize));
            }
            var scores = InterpretationEvaluator.Summarize(outputs);
            ctx.Say($"{stageName}: {outputs.Count} validation generations in {genWatch.Elapsed.TotalSeconds:F1}s: " +
                string.Join(", ", scores.Metrics.Select(m => $"{m.Key}={m.Value:F4}")));

            var resultJson = new JsonObject
            {
                ["method"] = "recinterpreter", ["language_model"] = Path.GetFullPath(lmDir), ["recommender"] = Path.GetFullPath(recommenderDir),
                ["recommender_type"] = rec.Model.Config.ModelType, ["states"] = config.RandomStates ? "random" : "recommender",
                ["lm"] = config.Lora is null ? "frozen" : $"lora r={config.Lora.Rank}",
                ["task"] = config.Task.ToString().ToLowerInvariant(), ["seed"] = seed, ["steps"] = result.Steps, ["final_loss"] = result.FinalLoss,
                ["train_examples"] = trainExamples.Count, ["validation_examples"] = evalExamples.Count,
                ["metrics"] = new JsonObject(scores.Metrics.Select(m => KeyValuePair.Create(m.Key, (JsonNode?)m.Value))),
                ["recovered_histogram"] = new JsonObject(scores.RecoveredHistogram.Select(h => KeyValuePair.Create(h.Key.ToString(), (JsonNode?)h.Value))),
            };
            var resultText = resultJson.ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
            var info = new InterpreterInfo
            {
                LanguageModel = Path.GetFullPath(lmDir), Recommender = Path.GetFullPath(recommenderDir), RandomStates = config.RandomStates,
                Task = config.Task.ToString().ToLowerInvariant(), RecoveryPrompt = config.RecoveryPrompt, ResidualPrompt = config.ResidualPrompt,
            };
            InterpreterDirectory.Save(adapter, info, outputDir, new Dictionary<string, string> { [InterpretResultFile] = resultText }, config.Lora is null ? null : lm);
            GC.KeepAlive(trainable);
            if (ctx.Run is { } run)
            {
                run.WriteFile(InterpretResultFile, resultText);
                var lineJson = new JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
                run.WriteFile(InterpretGenerationsFile, string.Concat(outputs.Select(o => JsonSerializer.Serialize(new
                {
                    task = o.Task.ToString().ToLowerInvariant(), user = o.User, generated = o.Generated, target = o.Target,
                    recovered = o.Task == InterpretTask.Recovery ? o.Recovered : (int?)null, hit = o.Task == InterpretTask.Residual ? o.Hit : (bool?)null,
                }, lineJson) + "\n")));
            }
            return new StageResult(stageName, outputDir, sw.Elapsed.TotalSeconds, result) { Metrics = scores.Metrics };
        }
    }
}

/// <summary>The interpreter's state adapter and the LM carrying its LoRA adapters, as one module for the trainer (its
/// trainable parameters are the adapter's and the LoRA matrices; the LM's base weights stay frozen).</summary>
internal sealed class InterpreterWithLm : nn.Module
{
    private readonly StateAdapter adapter;
    private readonly LanguageModel lm;

    public InterpreterWithLm(StateAdapter adapter, LanguageModel lm) : base(nameof(InterpreterWithLm))
    {
        (this.adapter, this.lm) = (adapter, lm);
        RegisterComponents();
    }
}
