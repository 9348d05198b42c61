using RecAlign.Training.Optimization;

namespace RecAlign.Training;

public enum Precision
{
    /// <summary>bf16 weights and matmuls, fp32 master weights / optimizer state, fp32 norms and losses.</summary>
    Bf16,
    Fp32,
}

/// <summary>Settings every training stage shares (HF TrainingArguments names where one exists).</summary>
public sealed record TrainingConfig
{
    public long Seed { get; init; } = 42;
    public int Epochs { get; init; } = 1;
    /// <summary>Optimizer steps to run; 0 lets <see cref="Epochs"/> decide.</summary>
    public long MaxSteps { get; init; }
    public int BatchSize { get; init; } = 16;
    public int MaxLength { get; init; } = 512;
    public Precision Precision { get; init; } = Precision.Bf16;
    public OptimizerConfig Optimizer { get; init; } = new();
    public int LogEvery { get; init; } = 10;
    /// <summary>Evaluate every N optimizer steps (0: only at the end, when an evaluator is given).</summary>
    public int EvalEvery { get; init; }
    /// <summary>Checkpoint every N optimizer steps (0: only at the end).</summary>
    public int SaveEvery { get; init; }
    /// <summary>Step checkpoints kept besides the best one.</summary>
    public int SaveTotalLimit { get; init; } = 2;
    /// <summary>Validation metric that picks the best checkpoint and drives early stopping (e.g. <c>hr1</c>); empty: none.</summary>
    public string MetricForBestModel { get; init; } = "";
    public bool GreaterIsBetter { get; init; } = true;
    /// <summary>Stop after this many evaluations without improvement (0: never).</summary>
    public int EarlyStoppingPatience { get; init; }
    public bool LoadBestModelAtEnd { get; init; } = true;
    /// <summary>Length-bucketing megabatch size in batches (1: plain shuffling).</summary>
    public int BucketFactor { get; init; } = 50;
    /// <summary>Stop with an error when training diverges: a non-finite loss or gradient, or the running loss above
    /// <c>divergence_factor</c> × its best + 1 (a learning rate far too high collapses a model without a NaN).
    /// 0 turns the running-loss check off (non-finite values always stop).</summary>
    public double DivergenceFactor { get; init; } = 2.0;

    public TrainingConfig Validate()
    {
        if (BatchSize <= 0) throw new ArgumentException($"batch_size must be positive (got {BatchSize})");
        if (Epochs <= 0 && MaxSteps <= 0) throw new ArgumentException("set epochs or max_steps to a positive value");
        if (MaxLength <= 1) throw new ArgumentException($"max_length must exceed 1 (got {MaxLength})");
        if (EarlyStoppingPatience > 0 && MetricForBestModel.Length == 0)
            throw new ArgumentException("early_stopping_patience needs metric_for_best_model");
        if (!(DivergenceFactor == 0 || DivergenceFactor > 1)) throw new ArgumentException($"divergence_factor must be 0 (off) or above 1 (got {DivergenceFactor})");
        Optimizer.Validate();
        return this;
    }
}
