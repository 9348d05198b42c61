using RecAlign.Training;
using RecAlign.Alignment;
using RecAlign.Models.Language;
using RecAlign.Models.Sequential;
using RecAlign.Training.Optimization;

namespace RecAlign.Pipelines.Stages;

/// <summary>A stage's config: checked as a whole before anything runs (the trainer checks its part again).</summary>
public interface IStageConfig
{
    /// <summary>Throws <see cref="ArgumentException"/> naming the section and field of the first invalid value.</summary>
    void Validate();
}

internal static class StageConfigChecks
{
    /// <summary>Runs one section's check, naming the section in its error ("training: batch_size ...").</summary>
    public static void Section(string name, Action check)
    {
        try { check(); }
        catch (ArgumentException e) { throw new ArgumentException($"{name}: {IO.ArgumentErrors.Plain(e)}", e); }
    }
}

/// <summary>Causal-LM pretraining of a from-scratch model on catalog text and training histories.</summary>
public sealed record PretrainConfig : IStageConfig
{
    /// <summary><c>nano</c> (SASRec's size), <c>tiny</c> (the embedded default), <c>small10m</c> or <c>medium30m</c>.</summary>
    public string ModelSize { get; init; } = "tiny";
    /// <summary>The model's <c>hidden_dropout</c> (embeddings, attention and MLP outputs; later stages keep it).</summary>
    public double HiddenDropout { get; init; } = 0.3;
    /// <summary>The model's <c>attention_dropout</c> (attention probabilities, as SASRec's attention has).</summary>
    public double AttentionDropout { get; init; }
    /// <summary>The model's <c>embedding_multiplier</c> (input embeddings scaled before the first block; other than 1
    /// the model is a Granite-layout Llama): e.g. 8 = √64 for the nano size, as Gemma scales by √hidden_size.</summary>
    public double EmbeddingMultiplier { get; init; } = 1.0;
    public TrainingConfig Training { get; init; } = new()
    {
        // Up to 10 epochs of next-item windows at batch 64, the best epoch kept on validation catalog NDCG@10 (item-token
        // models; a title model trains them all): windows teach which item follows which far faster than whole histories,
        // and the model then memorises them unless dropout holds it back (docs/benchmarks.md, sessions 5 and 8).
        Epochs = 10, BatchSize = 64, MaxLength = 160, LogEvery = 20,
        MetricForBestModel = "catalog_ndcg@10", EarlyStoppingPatience = 3, // item-token models only (EvalExamples)
        Optimizer = new OptimizerConfig { LearningRate = 2e-3, WeightDecay = 0.1, WarmupRatio = 0.05, MinLrRatio = 0.1 },
    };

    /// <summary>With item tokens and validation examples: each epoch the model ranks this many validation users' next
    /// items against the whole catalog, the best epoch on <c>training.metric_for_best_model</c> (default
    /// <c>catalog_ndcg@10</c>) is kept and <c>training.early_stopping_patience</c> evaluations without progress stop it.
    /// A title LM has no catalog to rank: asked in the pretraining format (the <c>history</c> templates) it is picked the
    /// same way on this many validation questions' HR@1, and otherwise trains its epochs.</summary>
    public int EvalExamples { get; init; } = 1000;

    /// <summary>Which tokens of a next-item window carry the loss (item-token models): <c>all</c> (plain language
    /// modelling: each item predicted from the items before it in the window, so most of the loss is on short
    /// contexts) or <c>target</c> (only the window's last item, predicted from its whole history: what a sequential
    /// model trains on and what evaluation asks). Catalog text lines always train on every token.</summary>
    public PretrainLoss LossOn { get; init; } = PretrainLoss.All;

    /// <summary>Add one "&lt;item_k&gt; Title (genres)" line per catalog item to the corpus (ties item tokens to their
    /// titles' words, which prompts written with titles need); false trains on the histories alone.</summary>
    public bool CatalogText { get; init; } = true;

    /// <summary>Item-token models: score each item target by a softmax over the catalog's item tokens alone (the next
    /// item among items, as a sequential recommender trains), text targets over the whole vocabulary; false: every
    /// target over the whole vocabulary.</summary>
    public bool ItemSoftmax { get; init; }

    public static LanguageModelConfig ModelConfig(string size, int vocabSize) => size.ToLowerInvariant() switch
    {
        "nano" => LanguageModelConfig.Nano(vocabSize),
        "tiny" => LanguageModelConfig.Tiny(vocabSize),
        "small10m" => LanguageModelConfig.Small10M(vocabSize),
        "medium30m" => LanguageModelConfig.Medium30M(vocabSize),
        _ => throw new ArgumentException($"unknown model size '{size}' (known: nano, tiny, small10m, medium30m)"),
    };

    public void Validate()
    {
        StageConfigChecks.Section("training", () => Training.Validate());
        if (EvalExamples < 1) throw new ArgumentException($"eval_examples must be >= 1 (got {EvalExamples})");
        if (!(HiddenDropout >= 0 && HiddenDropout < 1)) throw new ArgumentException($"hidden_dropout must be in [0, 1) (got {HiddenDropout})");
        if (!(AttentionDropout >= 0 && AttentionDropout < 1)) throw new ArgumentException($"attention_dropout must be in [0, 1) (got {AttentionDropout})");
        if (!(EmbeddingMultiplier > 0 && double.IsFinite(EmbeddingMultiplier))) throw new ArgumentException($"embedding_multiplier must be positive (got {EmbeddingMultiplier})");
    }
}

public enum PretrainLoss
{
    All,
    Target,
}

/// <summary>Supervised fine-tuning on (prompt, target title) pairs, loss on the response only.</summary>
public sealed record SftConfig : IStageConfig
{
    public TrainingConfig Training { get; init; } = new()
    {
        Epochs = 2, BatchSize = 16, MaxLength = 512, LogEvery = 20, EvalEvery = 100, MetricForBestModel = "hr1",
        Optimizer = new OptimizerConfig { LearningRate = 1e-3, WeightDecay = 0.0, WarmupRatio = 0.05, MinLrRatio = 0.1 },
    };
    /// <summary>LoRA adapters instead of full fine-tuning; null trains every weight.</summary>
    public LoraConfig? Lora { get; init; }
    public int MaxPromptTokens { get; init; } = 480;
    /// <summary>Validation questions ranked at each evaluation (a fixed subset keeps evaluation cheap).</summary>
    public int EvalQuestions { get; init; } = 200;
    /// <summary>Peak lr of a hybrid model's projector (LLaVA's <c>mm_projector_lr</c>), on the same schedule as the rest;
    /// 0: the training lr. A fresh projector wants a larger step than a pretrained LM can take without losing what it
    /// learned. No effect on a text-only model.</summary>
    public double ProjectorLearningRate { get; init; }

    public void Validate()
    {
        StageConfigChecks.Section("training", () => Training.Validate());
        if (Lora is { } lora) StageConfigChecks.Section("lora", lora.Validate);
        if (!(ProjectorLearningRate >= 0) || !double.IsFinite(ProjectorLearningRate))
            throw new ArgumentException($"projector_learning_rate = {ProjectorLearningRate} is invalid (must be finite and >= 0; 0 uses training.optimizer.learning_rate)");
        if (ProjectorLearningRate > 0 && Training.Optimizer.LearningRate == 0)
            throw new ArgumentException("projector_learning_rate needs training.optimizer.learning_rate > 0 (the projector follows its schedule at a multiple of it)");
    }
}

public enum ReferenceMode
{
    /// <summary>Reference log-probs precomputed once with the starting model and cached on disk.</summary>
    Cached,
    /// <summary>The policy with LoRA adapters disabled (needs <see cref="AlignConfig.Lora"/>).</summary>
    Live,
}

/// <summary>Preference alignment (DPO, S-DPO, ...) from an SFT model.</summary>
public sealed record AlignConfig : IStageConfig
{
    public PreferenceLossConfig Loss { get; init; } = new();
    public TrainingConfig Training { get; init; } = new()
    {
        // For the small LMs RecAlign trains from scratch: at 2e-5 for one epoch the losses barely moved (S-DPO's margin
        // 0.03) and no loss changed HR@1; lr 1e-4 for 3 epochs (margin 0.5) adds +0.020 HR@1 on the shifted synthetic
        // test and is neutral in distribution and on LastFM (docs/benchmarks.md, session 17). A large pretrained HF LM
        // wants TRL's ~1e-6 (--set training.optimizer.learning_rate=...).
        Epochs = 3, BatchSize = 8, MaxLength = 512, LogEvery = 10, EvalEvery = 50, MetricForBestModel = "hr1",
        Optimizer = new OptimizerConfig { LearningRate = 1e-4, WeightDecay = 0.0, WarmupRatio = 0.1, MinLrRatio = 0.1 },
    };
    public LoraConfig? Lora { get; init; }
    public ReferenceMode Reference { get; init; } = ReferenceMode.Cached;
    public int MaxPromptTokens { get; init; } = 480;
    public int EvalQuestions { get; init; } = 200;
    /// <summary>TRL's <c>disable_dropout</c> (default true there too): train the policy without the model's dropout, so
    /// its log-probs and the reference's (always scored without dropout) differ by what training changed, not by noise.</summary>
    public bool DisableDropout { get; init; } = true;

    /// <summary>Also builds the loss once: an unknown loss type or an invalid β fails here.</summary>
    public void Validate()
    {
        StageConfigChecks.Section("training", () => Training.Validate());
        if (Lora is { } lora) StageConfigChecks.Section("lora", lora.Validate);
        StageConfigChecks.Section("loss", () => PreferenceLosses.Create(Loss));
    }
}

/// <summary>How a sequential model's training examples are fed (see <see cref="SequentialTrainConfig.TrainOn"/>).</summary>
public enum SequentialTrainingData
{
    Auto,
    Prefixes,
    Sequences,
}

/// <summary>Training a classic sequential recommender (SASRec, GRU4Rec, Caser, BPR-MF, BERT4Rec) with RecBole's
/// defaults: Adam (no weight decay) at 1e-3, batch 256, constant rate, no clipping, full-catalog validation each epoch
/// picking the best epoch by NDCG@10 and stopping after 10 epochs without improvement (RecBole's stopping_step), at
/// most 200 epochs (the SASRec paper's budget; whole-sequence epochs are cheap).</summary>
public sealed record SequentialTrainConfig : IStageConfig
{
    public SequentialModelConfig Model { get; init; } = SequentialModelConfig.For("sasrec");
    public TrainingConfig Training { get; init; } = new()
    {
        Epochs = 200, BatchSize = 256, LogEvery = 50, BucketFactor = 1, Precision = Precision.Fp32,
        MetricForBestModel = "catalog_ndcg@10", EarlyStoppingPatience = 10,
        Optimizer = new OptimizerConfig { LearningRate = 1e-3, WeightDecay = 0, Schedule = LrScheduleKind.Constant, WarmupRatio = 0, MaxGradNorm = 0 },
    };
    /// <summary><c>auto</c>: whole user sequences with a loss at every position (the SASRec paper's training, about L times
    /// fewer forwards) when the model has per-position states and the examples are every prefix of one sequence per
    /// user, else every prefix as its own example (RecBole's); or force <c>prefixes</c> / <c>sequences</c>.</summary>
    public SequentialTrainingData TrainOn { get; init; } = SequentialTrainingData.Auto;
    /// <summary>Evaluate every <see cref="EvalEveryEpochs"/> epochs (sets training.eval_every to the steps of that many
    /// epochs); false keeps training.eval_every.</summary>
    public bool EvalEachEpoch { get; init; } = true;
    /// <summary>Epochs between evaluations when <see cref="EvalEachEpoch"/> is on (early-stopping patience counts evaluations).</summary>
    public int EvalEveryEpochs { get; init; } = 1;
    /// <summary>Validation examples ranked against the whole catalog at each evaluation (a seeded subset when there are more).</summary>
    public int EvalExamples { get; init; } = 5000;

    /// <summary>The training defaults of <paramref name="model"/>: RecBole's for the classic models; for DreamRec its
    /// released settings (AdamW without weight decay, batch 256, up to 1000 epochs, the best epoch picked on validation
    /// HR@20 every 10 epochs, as its script evaluates; stopping after 10 evaluations without improvement) at the refined
    /// fork's rate 1e-3: the released zhihu rate 1e-2 stayed at chance on zhihu's validation here (docs/benchmarks.md).</summary>
    public static SequentialTrainConfig For(string model)
    {
        var config = new SequentialTrainConfig { Model = SequentialModelConfig.For(model) };
        return config.Model.ModelType != "DreamRec" ? config : config with
        {
            EvalEveryEpochs = 10,
            Training = config.Training with
            {
                Epochs = 1000, MetricForBestModel = "catalog_hr@20",
                Optimizer = config.Training.Optimizer with { LearningRate = 1e-3 },
            },
        };
    }

    public void Validate()
    {
        StageConfigChecks.Section("model", () => Model.Validate());
        StageConfigChecks.Section("training", () => Training.Validate());
        if (EvalEveryEpochs < 1) throw new ArgumentException($"eval_every_epochs must be >= 1 (got {EvalEveryEpochs})");
        if (EvalExamples < 1) throw new ArgumentException($"eval_examples must be >= 1 (got {EvalExamples})");
    }
}

/// <summary>RecInterpreter: an adapter trained (LM and recommender frozen; with <see cref="Lora"/>, LoRA adapters on the
/// LM train too) to turn a sequential recommender's hidden states into a soft token the LM reads, then evaluated by
/// greedy generation on validation users. Optimizer settings follow the released code (AdamW 1e-3, weight decay 1e-6,
/// batch 16).</summary>
public sealed record InterpretConfig : IStageConfig
{
    /// <summary><c>recovery</c>, <c>residual</c> or <c>both</c> (<see cref="Interpretation.InterpretTask"/>).</summary>
    public Interpretation.InterpretTask Task { get; init; } = Interpretation.InterpretTask.Both;
    /// <summary>The floor: the same adapter trained and evaluated on random vectors instead of the recommender's states.</summary>
    public bool RandomStates { get; init; }
    /// <summary>The recovery prompt; <c>&lt;SeqHere&gt;</c> (once) is where the soft token enters.</summary>
    public string RecoveryPrompt { get; init; } = Interpretation.InterpretationPrompts.DefaultRecovery;
    /// <summary>The residual prompt; <c>&lt;SeqHere&gt;</c> twice: the history before, then after the added item.</summary>
    public string ResidualPrompt { get; init; } = Interpretation.InterpretationPrompts.DefaultResidual;
    /// <summary>Training histories used (a seeded subset when there are more; 0: all).</summary>
    public int MaxTrainExamples { get; init; }
    /// <summary>The most recent history items the recommender reads and recovery asks for (0: the recommender's own
    /// window). A 50-item window of movie titles is longer than a small LM's context, and targets are never cut.</summary>
    public int MaxHistory { get; init; }
    /// <summary>Validation users evaluated by generation (a seeded subset when there are more).</summary>
    public int EvalExamples { get; init; } = 200;
    /// <summary>Greedy generation budget of the recovery answer (cut to the LM's context).</summary>
    public int RecoveryMaxNewTokens { get; init; } = 200;
    /// <summary>Greedy generation budget of the residual answer (one title).</summary>
    public int ResidualMaxNewTokens { get; init; } = 40;
    public int EvalBatchSize { get; init; } = 16;
    /// <summary>Null: the LM stays frozen (RecInterpreter's setting, with a 7B LM that already reads text). Set: LoRA
    /// adapters on the LM train with the state adapter, for an LM too small to decode a new input vector unaided;
    /// saved beside the interpreter in PEFT's layout (<see cref="Interpretation.InterpreterDirectory.LmAdapterFolder"/>).</summary>
    public LoraConfig? Lora { get; init; }
    public TrainingConfig Training { get; init; } = new()
    {
        Epochs = 1, BatchSize = 16, LogEvery = 20, Precision = Precision.Fp32, MetricForBestModel = "", EarlyStoppingPatience = 0,
        Optimizer = new OptimizerConfig { LearningRate = 1e-3, WeightDecay = 1e-6, Schedule = LrScheduleKind.Constant, WarmupRatio = 0.05 },
    };

    public Interpretation.InterpretationPrompts Prompts => new() { Recovery = RecoveryPrompt, Residual = ResidualPrompt };

    public void Validate()
    {
        StageConfigChecks.Section("training", () => Training.Validate());
        if (!Enum.IsDefined(Task)) throw new ArgumentException($"task must be recovery, residual or both (got {Task})");
        Prompts.Validate();
        if (MaxTrainExamples < 0) throw new ArgumentException($"max_train_examples must be >= 0 (got {MaxTrainExamples})");
        if (MaxHistory < 0) throw new ArgumentException($"max_history must be >= 0 (0: the recommender's window; got {MaxHistory})");
        if (EvalExamples < 1) throw new ArgumentException($"eval_examples must be >= 1 (got {EvalExamples})");
        if (RecoveryMaxNewTokens < 1 || ResidualMaxNewTokens < 1) throw new ArgumentException("recovery_max_new_tokens and residual_max_new_tokens must be >= 1");
        if (EvalBatchSize < 1) throw new ArgumentException($"eval_batch_size must be >= 1 (got {EvalBatchSize})");
        if (Lora is { } lora) StageConfigChecks.Section("lora", lora.Validate);
    }
}
