using RecAlign.Training;
using System.Diagnostics;
using RecAlign.Alignment;
using RecAlign.Evaluation;
using RecAlign.Inference;
using RecAlign.Data;
using RecAlign.Models.Language;
using RecAlign.Models.Sequential;
using RecAlign.Prompts;
using RecAlign.Runs;
using RecAlign.Text;
using RecAlign.Training.Batching;
using RecAlign.Training.Progress;
using TorchSharp;
using static TorchSharp.torch;

namespace RecAlign.Pipelines.Stages;

/// <summary>What a stage produced: its model directory, wall time and training record.</summary>
public sealed record StageResult(string Stage, string ModelDirectory, double Seconds, TrainingResult Training)
{
    /// <summary>Metrics the stage measured after training (e.g. the interpreter's generation metrics), for the run summary.</summary>
    public IReadOnlyDictionary<string, double>? Metrics { get; init; }
}

/// <summary>Where a stage reports: a run directory (metrics.jsonl, log.txt, checkpoints) and the console.</summary>
public sealed record StageContext(RunDirectory? Run = null, TextWriter? Console = null, Device? Device = null, bool Resume = false)
{
    public Device TorchDevice => Device ?? CPU;
    public void Say(string line)
    {
        Console?.WriteLine(line);
        Run?.Log(line);
    }
}

/// <summary>
/// The training stages of the LM recommender: pretrain → SFT → align. Each loads its starting model directory, runs
/// the shared <see cref="Trainer"/> with its objective, evaluates on validation candidate lists, and writes an
/// HF-compatible model directory. The CLI and the quickstart call these; they hold no loop of their own.
/// </summary>
public static partial class StageRunner
{
    /// <param name="validation">Next-item examples an item-token model is ranked on each epoch (best epoch kept, early
    /// stopping); ignored for a title model.</param>
    /// <param name="questions">Validation questions in the pretraining format itself (<see cref="PromptTemplate.IsSequence"/>),
    /// which a title model answers without SFT: it is evaluated on them each epoch instead (best epoch kept, early
    /// stopping). Null: a title model trains every epoch.</param>
    public static StageResult Pretrain(IReadOnlyList<string> corpus, ITokenizer tokenizer, PretrainConfig config, string outputDir, StageContext ctx,
        IReadOnlyList<SequenceExample>? validation = null, IReadOnlyList<CandidateQuestion>? questions = null)
    {
        var sw = Stopwatch.StartNew();
        var modelConfig = PretrainConfig.ModelConfig(config.ModelSize, tokenizer.VocabSize) with
        {
            BosTokenId = tokenizer.BosId, EosTokenId = tokenizer.EosId, PadTokenId = tokenizer.PadId,
            MaxPositionEmbeddings = Math.Max(512, config.Training.MaxLength), HiddenDropout = config.HiddenDropout, AttentionDropout = config.AttentionDropout,
            ModelType = config.EmbeddingMultiplier != 1.0 ? "granite" : "llama", EmbeddingMultiplier = config.EmbeddingMultiplier,
        };
        using var lm = LanguageModel.Create(modelConfig, config.Training.Seed);
        Prepare(lm, config.Training.Precision, ctx);
        var (examples, trainOnPrompt) = PretrainCorpus.Tokenize(corpus, tokenizer, config.LossOn);
        ctx.Say($"pretrain: {lm.parameters().Sum(p => p.numel()) / 1e6:F2}M parameters, {examples.Count} texts, {examples.Sum(e => (long)e.Length)} tokens" +
            (trainOnPrompt ? "" : " (loss on each window's last item)"));
        (int, int)? itemSoftmax = config.ItemSoftmax && tokenizer is ItemTokenizer items ? (items.FirstItemId, items.Catalog.Count) : null;
        var objective = new NextTokenObjective(lm, examples, tokenizer.PadOrEosId(), config.Training.MaxLength, trainOnPrompt, itemSoftmax: itemSoftmax);
        var training = config.Training;
        Func<long, IReadOnlyDictionary<string, double>>? evaluate = null;
        if (tokenizer is ItemTokenizer && validation is { Count: > 0 })
        {
            // An item-token LM is a sequential recommender: pick its epoch as one (pretraining long enough to learn the
            // transitions also memorises the training histories; docs/benchmarks.md, session 8).
            var evalSet = RecommendationPipeline.Subsample(validation, config.EvalExamples, (ulong)training.Seed + 5);
            var recommender = new LanguageModelRecommender(lm, tokenizer, ownsModel: false) { BatchSize = 32 };
            evaluate = _ => RecommenderEvaluator.Catalog(recommender, evalSet).Metrics;
            training = training with
            {
                EvalEvery = StepsPerEpoch(objective, training),
                MetricForBestModel = training.MetricForBestModel.Length > 0 ? training.MetricForBestModel : RecommendationPipeline.CatalogNdcg10Key,
                EarlyStoppingPatience = training.MetricForBestModel.Length > 0 ? training.EarlyStoppingPatience : 0,
            };
            ctx.Say($"pretrain: {evalSet.Count} validation users ranked against the whole catalog every epoch ({training.EvalEvery} steps)");
        }
        else if (tokenizer is not ItemTokenizer && questions is { Count: > 0 })
        {
            var evalSet = questions.Take(config.EvalExamples).ToList();
            evaluate = Evaluator(lm, tokenizer, evalSet);
            training = training with
            {
                EvalEvery = StepsPerEpoch(objective, training),
                // The default catalog metric is an item-token model's; questions give HR@1.
                MetricForBestModel = training.MetricForBestModel.Length == 0 || training.MetricForBestModel.StartsWith(Metrics.CatalogPrefix, StringComparison.Ordinal)
                    ? Metrics.HitRatioAt1Key : training.MetricForBestModel,
            };
            ctx.Say($"pretrain: {evalSet.Count} validation questions (asked in the pretraining format) answered every epoch ({training.EvalEvery} steps)");
        }
        else training = training with { MetricForBestModel = "", EarlyStoppingPatience = 0 };
        var result = Train("pretrain", lm, objective, training, evaluate, ctx);
        ModelDirectory.Save(lm, tokenizer, outputDir);
        return new StageResult("pretrain", outputDir, sw.Elapsed.TotalSeconds, result);
    }

    /// <param name="addItemTokens">A catalog to give a model without item tokens (a HuggingFace checkpoint, a title LM)
    /// one token per item before training (<see cref="ItemTokenEmbeddings"/>); null trains the model as it is.</param>
    /// <param name="sampleWeighted">Scale each example's own token-mean loss by its <see cref="PromptExample.Weight"/>
    /// (<see cref="SampleWeightedNextTokenLoss"/>); false trains on the batch token mean.</param>
    /// <param name="stageName">Names the stage's checkpoints, metrics and log lines.</param>
    /// <param name="hybrid">LLaRA's hybrid item embeddings to attach before training (built for the model's item tokens,
    /// e.g. <see cref="HybridItemEmbedder.FromRecommender"/>); its projector trains with the model (LoRA too), and
    /// <paramref name="hybridSchedule"/> decides which batches use it.</param>
    public static StageResult Sft(string baseModelDir, IReadOnlyList<PromptExample> train, IReadOnlyList<CandidateQuestion> validation,
        SftConfig config, string outputDir, StageContext ctx, ItemCatalog? addItemTokens = null, bool sampleWeighted = false, string stageName = "sft",
        Func<LanguageModel, ITokenizer, HybridItemEmbedder>? hybrid = null, HybridSchedule hybridSchedule = HybridSchedule.Curriculum)
    {
        var sw = Stopwatch.StartNew();
        var (lm, tokenizer) = ModelDirectory.Load(baseModelDir, device: ctx.TorchDevice);
        if (addItemTokens is not null && tokenizer is not ItemTokenizer)
        {
            using var old = lm;
            (lm, tokenizer) = ItemTokenEmbeddings.Add(old, tokenizer, addItemTokens);
            ctx.Say($"{stageName}: {addItemTokens.Count} item tokens added to {baseModelDir} (vocabulary {tokenizer.VocabSize}; each new row starts at its title's mean embedding)");
        }
        using (lm)
        {
            if (hybrid is not null)
            {
                if (lm.Hybrid is not null) throw new ArgumentException($"{baseModelDir} already has hybrid item embeddings ({lm.Hybrid.Recommender})");
                var embedder = hybrid(lm, tokenizer);
                lm.AttachHybrid(embedder);
                ctx.Say($"{stageName}: hybrid item embeddings from {embedder.Recommender} ({embedder.KnownItems} of {embedder.ItemCount} items, {embedder.RecHiddenSize}-d, projected to {lm.Config.HiddenSize}), {hybridSchedule.ToString().ToLowerInvariant()} schedule");
            }
            Prepare(lm, config.Training.Precision, ctx);
            if (config.Lora is { } lora)
            {
                lm.AddLora(lora, config.Training.Seed);
                // LoRA freezes the base model; the projector is new and trains (as in LLaRA).
                foreach (var p in lm.Hybrid?.ProjectorParameters() ?? []) p.requires_grad = true;
            }
            var examples = train.Select(e => PromptTokenization.Example(tokenizer, e, config.MaxPromptTokens)).ToList();
            ctx.Say($"{stageName}: {examples.Count} examples from {baseModelDir}{(config.Lora is null ? "" : $" (LoRA r={config.Lora.Rank})")}" +
                (sampleWeighted ? $", each example's loss weighted (weights {examples.Min(e => e.Weight):F3}..{examples.Max(e => e.Weight):F3}, mean {examples.Average(e => e.Weight):F3})" : ""));
            HybridCurriculum? curriculum = null;
            if (lm.Hybrid is not null && hybrid is not null)
            {
                int accum = Math.Max(1, config.Training.Optimizer.GradAccumulationSteps);
                long batches = config.Training.MaxSteps > 0 ? config.Training.MaxSteps * accum
                    : (long)config.Training.Epochs * ((examples.Count + config.Training.BatchSize - 1) / config.Training.BatchSize);
                curriculum = new HybridCurriculum(hybridSchedule, batches, config.Training.Seed);
            }
            var objective = new NextTokenObjective(lm, examples, tokenizer.PadOrEosId(), config.Training.MaxLength, sampleWeighted: sampleWeighted, curriculum: curriculum);
            var evalSet = validation.Take(config.EvalQuestions).ToList();
            Dictionary<string, double>? lrScales = null;
            if (lm.Hybrid is not null && config.ProjectorLearningRate > 0)
            {
                lrScales = new() { [LanguageModel.HybridModuleName] = config.ProjectorLearningRate / config.Training.Optimizer.LearningRate };
                ctx.Say($"{stageName}: the projector's peak lr is {config.ProjectorLearningRate:G3}, the model's {config.Training.Optimizer.LearningRate:G3}");
            }
            var result = Train(stageName, lm, objective, config.Training, Evaluator(lm, tokenizer, evalSet), ctx, lrScales);
            SaveModel(lm, tokenizer, outputDir, baseModelDir, ctx);
            return new StageResult(stageName, outputDir, sw.Elapsed.TotalSeconds, result);
        }
    }

    public static StageResult Align(string sftModelDir, IReadOnlyList<PreferenceExample> preferences, IReadOnlyList<CandidateQuestion> validation,
        AlignConfig config, string outputDir, StageContext ctx, string stageName = "align")
    {
        var sw = Stopwatch.StartNew();
        var (lm, tokenizer) = ModelDirectory.Load(sftModelDir, device: ctx.TorchDevice);
        using (lm)
        {
            Prepare(lm, config.Training.Precision, ctx);
            if (config.DisableDropout && (lm.DropoutRate > 0 || lm.AttentionDropoutRate > 0))
            {
                ctx.Say($"{stageName}: the model's dropout (hidden {lm.DropoutRate}, attention {lm.AttentionDropoutRate}) is off while aligning (disable_dropout)");
                lm.SetDropout(0, 0);
            }
            var loss = PreferenceLosses.Create(config.Loss, config.Training.Seed);
            var examples = preferences.Select(p => TokenizedPreference.From(tokenizer, p, config.MaxPromptTokens)).ToList();
            int pad = tokenizer.PadOrEosId();
            ReferenceLogProbs? reference = null;
            if (loss.RequiresReference && config.Reference == ReferenceMode.Cached)
            {
                var cachePath = Path.Combine(ctx.Run?.Path ?? Path.GetDirectoryName(Path.GetFullPath(outputDir))!, "cache", $"reference-{stageName}.safetensors");
                var refWatch = Stopwatch.StartNew();
                lm.eval();
                reference = ReferenceLogProbs.LoadOrCompute(cachePath, lm, examples, pad, ReferenceLogProbs.ModelHash(sftModelDir));
                ctx.Say($"{stageName}: reference log-probs for {examples.Count} examples in {refWatch.Elapsed.TotalSeconds:F1}s ({cachePath})");
            }
            if (config.Lora is { } lora) lm.AddLora(lora, config.Training.Seed);
            else if (config.Reference == ReferenceMode.Live && loss.RequiresReference)
                throw new ArgumentException("reference=live needs LoRA adapters (set lora), so the base model can serve as the reference");
            ctx.Say($"{stageName}: {config.Loss.LossType} (β={config.Loss.EffectiveBeta}) on {examples.Count} preference examples with K={examples[0].Rejected.Length}" +
                (config.Lora is null ? "" : $" (LoRA r={config.Lora.Rank}, reference {config.Reference.ToString().ToLowerInvariant()})") +
                (examples.Any(e => e.Weight != 1) ? $", each example's loss weighted (weights {examples.Min(e => e.Weight):F3}..{examples.Max(e => e.Weight):F3})" : ""));
            using var embedder = PreferenceLosses.Parts(loss).OfType<CausalDpoLoss>().Any(c => c.Features == EnvironmentFeatures.HistoryText)
                ? Inference.MiniLmEmbedder.TryCreate(Math.Max(1, Environment.ProcessorCount), out var why)
                    ?? throw new ArgumentException($"causal_dpo_features=history_text needs the MiniLM sentence encoder, which could not load: {why}")
                : null;
            var objective = new PreferenceObjective(lm, examples, loss, pad, reference, embedder);
            var evalSet = validation.Take(config.EvalQuestions).ToList();
            var result = Train(stageName, lm, objective, config.Training, Evaluator(lm, tokenizer, evalSet), ctx);
            SaveModel(lm, tokenizer, outputDir, sftModelDir, ctx);
            return new StageResult(stageName, outputDir, sw.Elapsed.TotalSeconds, result);
        }
    }

    /// <summary>
    /// Trains a sequential recommender on next-item examples (ids of <paramref name="catalog"/>) with the shared
    /// <see cref="Trainer"/>, picks the best epoch on full-catalog validation metrics and writes its model directory.
    /// </summary>
    public static StageResult TrainSequential(ItemCatalog catalog, IReadOnlyList<SequenceExample> train, IReadOnlyList<SequenceExample> validation,
        SequentialTrainConfig config, string outputDir, StageContext ctx, string stageName = "")
    {
        var sw = Stopwatch.StartNew();
        if (train.Count == 0) throw new ArgumentException("no training examples");
        var modelConfig = config.Model with { NItems = catalog.Count };
        using var model = SequentialModel.Create(modelConfig, config.Training.Seed);
        model.to(ctx.TorchDevice);
        var stage = stageName.Length > 0 ? stageName : modelConfig.Kind;
        var sequences = config.TrainOn == SequentialTrainingData.Prefixes || !model.HasSequenceStates ? null : NextItemSequenceObjective.SequencesOf(train);
        if (config.TrainOn == SequentialTrainingData.Sequences && sequences is null)
            throw new ArgumentException(model.HasSequenceStates
                ? "train_on=sequences needs the training examples to be every prefix of one sequence per user (these are not: e.g. fixed-width table windows); use prefixes"
                : $"train_on=sequences needs per-position states, which {modelConfig.ModelType} has not; use prefixes");
        ITrainingObjective objective = sequences is null ? new NextItemObjective(model, train) : new NextItemSequenceObjective(model, sequences);
        var training = config.Training;
        if (objective is NextItemSequenceObjective whole)
            // batch_size counts next-item examples in both modes: a window holds many, so a batch takes as many windows as
            // make batch_size targets. Counted in windows it would be a ~L times larger batch with ~L times fewer
            // updates per epoch, and the patience (in epochs) would stop it while it still ranks by popularity.
            training = training with { BatchSize = Math.Max(1, (int)Math.Round(training.BatchSize * (double)whole.Count / whole.Examples)) };
        if (config.EvalEachEpoch && validation.Count > 0)
            training = training with { EvalEvery = StepsPerEpoch(objective, training) * config.EvalEveryEpochs };
        var evalSet = RecommendationPipeline.Subsample(validation, config.EvalExamples, (ulong)config.Training.Seed + 5);
        ctx.Say($"{stage}: {model.parameters().Sum(p => p.numel()) / 1e6:F2}M parameters, {catalog.Count} items, {train.Count} next-item examples " +
            (sequences is null ? "(each prefix its own example), " : $"(trained as {objective.Count} windows of {sequences.Count} user sequences, every position a target, {training.BatchSize} windows ≈ {config.Training.BatchSize} targets a batch), ") +
            $"{evalSet.Count} validation sequences ranked against the whole catalog" + (validation.Count > 0 && config.EvalEachEpoch ? $" every {(config.EvalEveryEpochs == 1 ? "epoch" : $"{config.EvalEveryEpochs} epochs")} ({training.EvalEvery} steps)" : ""));
        var recommender = new SequentialRecommender(model, catalog, ownsModel: false);
        Func<long, IReadOnlyDictionary<string, double>>? evaluate = evalSet.Count == 0 ? null
            : _ => RecommenderEvaluator.Catalog(recommender, evalSet).Metrics;
        if (evaluate is null) training = training with { MetricForBestModel = "", EarlyStoppingPatience = 0 };
        var result = Train(stage, model, objective, training, evaluate, ctx);
        SequentialModelDirectory.Save(model, catalog, outputDir);
        return new StageResult(stage, outputDir, sw.Elapsed.TotalSeconds, result);
    }

    /// <summary>Writes the model directory (adapters merged in, so it loads as a plain causal LM) and, for a LoRA
    /// stage, the adapters alone in PEFT's layout under <see cref="ModelDirectory.AdapterFolder"/>.</summary>
    private static void SaveModel(LanguageModel lm, ITokenizer tokenizer, string outputDir, string baseModelDir, StageContext ctx)
    {
        ModelDirectory.Save(lm, tokenizer, outputDir);
        if (lm.LoraConfig is null) return;
        var adapterDir = Path.Combine(outputDir, ModelDirectory.AdapterFolder);
        ModelDirectory.SaveAdapter(lm, adapterDir, Path.GetFullPath(baseModelDir));
        // A hybrid LoRA stage trained the projector too: the adapters alone would load as a text-only model.
        lm.Hybrid?.Save(adapterDir);
        ctx.Say($"LoRA adapters (PEFT layout) in {adapterDir}" + (lm.Hybrid is null ? "" : ", with the hybrid projector"));
    }

    /// <summary>Optimizer steps in one pass over the objective's examples (at least 1).</summary>
    private static int StepsPerEpoch(ITrainingObjective objective, TrainingConfig training) =>
        Math.Max(1, (objective.Count + training.BatchSize - 1) / training.BatchSize / Math.Max(1, training.Optimizer.GradAccumulationSteps));

    private static void Prepare(LanguageModel lm, Precision precision, StageContext ctx)
    {
        lm.to(ctx.TorchDevice);
        lm.to(precision == Precision.Bf16 ? ScalarType.BFloat16 : ScalarType.Float32);
    }

    private static Func<long, IReadOnlyDictionary<string, double>>? Evaluator(LanguageModel lm, ITokenizer tokenizer, IReadOnlyList<CandidateQuestion> questions) =>
        questions.Count == 0 ? null : _ => CandidateEvaluator.Rank(lm, tokenizer, questions, batchSize: 8).Metrics;

    private static TrainingResult Train(string stage, nn.Module lm, ITrainingObjective objective, TrainingConfig config,
        Func<long, IReadOnlyDictionary<string, double>>? evaluate, StageContext ctx, IReadOnlyDictionary<string, double>? lrScales = null)
    {
        using var progress = TrainingProgress.Create(new ProgressOptions { Label = stage, Unit = objective.Unit }, ctx.Console is null ? TextWriter.Null : null);
        long lastTokens = 0;
        var trainer = new Trainer(lm, objective, config, ctx.Run is null ? null : Path.Combine(ctx.Run.CheckpointsPath, stage))
        {
            Evaluate = evaluate,
            LrScales = lrScales,
            OnLog = entry =>
            {
                ctx.Run?.LogMetrics(entry.Step, entry.Values, stage);
                if (entry.Values.Keys.Any(k => k.StartsWith("eval_")))
                    ctx.Say($"{stage} step {entry.Step}: " + string.Join(", ", entry.Values.Where(v => v.Key is "eval_loss" or "eval_hr1" or "eval_ndcg@5" or "eval_mrr" or "eval_catalog_hr@10" or "eval_catalog_ndcg@10" or "eval_catalog_mrr").Select(v => $"{v.Key}={v.Value:F4}")));
            },
            OnNotice = line => ctx.Say($"{stage}: {line}"),
            OnResume = (step, tokens) =>
            {
                ctx.Say($"{stage}: resumed from the checkpoint at step {step}");
                lastTokens = tokens; // throughput counts this session's tokens only
            },
            OnStep = (step, total, loss, tokens) =>
            {
                progress.Report(step, total, new Dictionary<string, double> { ["loss"] = loss }, tokens - lastTokens);
                lastTokens = tokens;
            },
        };
        var result = trainer.Train(ctx.Resume);
        progress.Complete();
        ctx.Say($"{stage}: {result.Steps} steps in {result.Seconds:F1}s, last step's loss {result.FinalLoss:F4}" +
            (result.BestMetrics is { } best && config.MetricForBestModel.Length > 0
                ? $", best {config.MetricForBestModel} {best.GetValueOrDefault(config.MetricForBestModel):F4} at step {result.BestStep}" + (result.StoppedEarly ? " (stopped early)" : "") : ""));
        return result;
    }
}
