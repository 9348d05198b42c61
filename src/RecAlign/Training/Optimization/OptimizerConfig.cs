namespace RecAlign.Training.Optimization;

/// <summary>Learning-rate schedule shapes (HuggingFace <c>get_*_schedule_with_warmup</c> semantics).</summary>
public enum LrScheduleKind
{
    Constant,
    Linear,
    Cosine,
}

/// <summary>
/// AdamW + schedule + clipping + accumulation settings, snake_case for <see cref="Configuration.ConfigLoader"/>
/// (<c>learning_rate</c>, <c>weight_decay</c>, <c>beta1</c>, <c>beta2</c>, <c>eps</c>, <c>schedule</c>,
/// <c>warmup_steps</c>, <c>warmup_ratio</c>, <c>min_lr_ratio</c>, <c>max_grad_norm</c>, <c>grad_accumulation_steps</c>).
/// </summary>
public sealed record OptimizerConfig
{
    public double LearningRate { get; init; } = 1e-4;
    /// <summary>Decoupled weight decay applied to the decay group (matrices); norms, biases and 1-D params get none.</summary>
    public double WeightDecay { get; init; } = 0.01;
    public double Beta1 { get; init; } = 0.9;
    public double Beta2 { get; init; } = 0.999;
    public double Eps { get; init; } = 1e-8;
    public LrScheduleKind Schedule { get; init; } = LrScheduleKind.Cosine;
    /// <summary>Warmup length in optimizer steps; when 0, <see cref="WarmupRatio"/> of the total is used (HF rule).</summary>
    public long WarmupSteps { get; init; }
    public double WarmupRatio { get; init; } = 0.03;
    /// <summary>Floor of the decayed multiplier as a fraction of the peak lr (0 = decay to zero).</summary>
    public double MinLrRatio { get; init; }
    /// <summary>Global-norm clip threshold; 0 or less disables clipping.</summary>
    public double MaxGradNorm { get; init; } = 1.0;
    public int GradAccumulationSteps { get; init; } = 1;
    /// <summary>Step each parameter group as one flat buffer (<see cref="AdamW"/>'s flattened mode): the same update with
    /// far fewer native calls when a model has many small tensors (sequential recommenders).</summary>
    public bool Flatten { get; init; }

    /// <summary>Warmup steps for a run of <paramref name="totalSteps"/> optimizer steps: explicit steps win, else ceil(ratio·total).</summary>
    public long ResolveWarmupSteps(long totalSteps) =>
        WarmupSteps > 0 ? WarmupSteps : (long)Math.Ceiling(WarmupRatio * totalSteps);

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid field.</summary>
    public OptimizerConfig Validate()
    {
        static void Check(bool ok, string field, object value, string rule)
        {
            if (!ok) throw new ArgumentException($"optimizer config: {field} = {value} is invalid ({rule})");
        }
        Check(double.IsFinite(LearningRate) && LearningRate >= 0, "learning_rate", LearningRate, "must be finite and >= 0");
        Check(double.IsFinite(WeightDecay) && WeightDecay >= 0, "weight_decay", WeightDecay, "must be finite and >= 0");
        Check(Beta1 >= 0 && Beta1 < 1, "beta1", Beta1, "must be in [0, 1)");
        Check(Beta2 >= 0 && Beta2 < 1, "beta2", Beta2, "must be in [0, 1)");
        Check(double.IsFinite(Eps) && Eps >= 0, "eps", Eps, "must be finite and >= 0");
        Check(Enum.IsDefined(Schedule), "schedule", Schedule, "must be constant, linear or cosine");
        Check(WarmupSteps >= 0, "warmup_steps", WarmupSteps, "must be >= 0");
        Check(WarmupRatio >= 0 && WarmupRatio <= 1, "warmup_ratio", WarmupRatio, "must be in [0, 1]");
        Check(MinLrRatio >= 0 && MinLrRatio <= 1, "min_lr_ratio", MinLrRatio, "must be in [0, 1]");
        Check(!double.IsNaN(MaxGradNorm), "max_grad_norm", MaxGradNorm, "must not be NaN");
        Check(GradAccumulationSteps >= 1, "grad_accumulation_steps", GradAccumulationSteps, "must be >= 1");
        return this;
    }
}
