namespace RecAlign.Training.Optimization;

/// <summary>
/// LR multipliers as pure functions of the optimizer step (0-based, the value HF's <c>LambdaLR</c> sees before the
/// first step, so with warmup the first update uses multiplier 0, exactly like HuggingFace).
/// </summary>
public static class LrSchedules
{
    /// <summary>HF <c>get_constant_schedule_with_warmup</c>.</summary>
    public static double Constant(long step, long warmupSteps) =>
        step < warmupSteps ? (double)step / Math.Max(1, warmupSteps) : 1.0;

    /// <summary>HF <c>get_linear_schedule_with_warmup</c>, optionally floored at <paramref name="minLrRatio"/>.</summary>
    public static double Linear(long step, long warmupSteps, long totalSteps, double minLrRatio = 0)
    {
        if (step < warmupSteps) return (double)step / Math.Max(1, warmupSteps);
        double f = Math.Max(0.0, (double)(totalSteps - step) / Math.Max(1, totalSteps - warmupSteps));
        return minLrRatio + (1 - minLrRatio) * f;
    }

    /// <summary>
    /// HF <c>get_cosine_schedule_with_warmup</c> (num_cycles 0.5) and, with <paramref name="minLrRatio"/> &gt; 0,
    /// <c>get_cosine_with_min_lr_schedule_with_warmup</c>.
    /// </summary>
    public static double Cosine(long step, long warmupSteps, long totalSteps, double minLrRatio = 0, double numCycles = 0.5)
    {
        if (step < warmupSteps) return (double)step / Math.Max(1, warmupSteps);
        double progress = (double)(step - warmupSteps) / Math.Max(1, totalSteps - warmupSteps);
        double f = 0.5 * (1.0 + Math.Cos(Math.PI * numCycles * 2.0 * progress));
        return Math.Max(0.0, f * (1 - minLrRatio) + minLrRatio);
    }

    public static double Multiplier(LrScheduleKind kind, long step, long warmupSteps, long totalSteps, double minLrRatio = 0) => kind switch
    {
        LrScheduleKind.Constant => Constant(step, warmupSteps),
        LrScheduleKind.Linear => Linear(step, warmupSteps, totalSteps, minLrRatio),
        LrScheduleKind.Cosine => Cosine(step, warmupSteps, totalSteps, minLrRatio),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown schedule"),
    };
}

/// <summary>Serialisable scheduler state: only the step.</summary>
public sealed record LrSchedulerState(long Step);

/// <summary>
/// Sets each group's lr to <c>peak · multiplier(step) · group.LrScale</c>. Usage per optimizer step:
/// <c>scheduler.Apply(opt); opt.Step(); scheduler.Advance();</c>. Its state is just <see cref="Step"/>.
/// </summary>
public sealed class LrScheduler
{
    public LrScheduleKind Kind { get; }
    public double PeakLearningRate { get; }
    public long WarmupSteps { get; }
    public long TotalSteps { get; }
    public double MinLrRatio { get; }
    public long Step { get; private set; }

    public LrScheduler(LrScheduleKind kind, double peakLearningRate, long warmupSteps, long totalSteps, double minLrRatio = 0, long step = 0)
    {
        if (totalSteps < 0) throw new ArgumentOutOfRangeException(nameof(totalSteps), totalSteps, "total steps must be >= 0");
        if (warmupSteps < 0) throw new ArgumentOutOfRangeException(nameof(warmupSteps), warmupSteps, "warmup steps must be >= 0");
        if (step < 0) throw new ArgumentOutOfRangeException(nameof(step), step, "step must be >= 0");
        (Kind, PeakLearningRate, WarmupSteps, TotalSteps, MinLrRatio, Step) = (kind, peakLearningRate, warmupSteps, totalSteps, minLrRatio, step);
    }

    /// <summary>Scheduler for <paramref name="config"/> over <paramref name="totalSteps"/> optimizer steps.</summary>
    public static LrScheduler FromConfig(OptimizerConfig config, long totalSteps) =>
        new(config.Schedule, config.LearningRate, config.ResolveWarmupSteps(totalSteps), totalSteps, config.MinLrRatio);

    public double Multiplier => LrSchedules.Multiplier(Kind, Step, WarmupSteps, TotalSteps, MinLrRatio);
    public double LearningRate => PeakLearningRate * Multiplier;

    /// <summary>Writes the current lr into every group of <paramref name="optimizer"/>; returns it.</summary>
    public double Apply(AdamW optimizer)
    {
        double lr = LearningRate;
        foreach (var g in optimizer.Groups) g.LearningRate = lr * g.LrScale;
        return lr;
    }

    public void Advance() => Step++;

    public LrSchedulerState State => new(Step);

    public void Restore(LrSchedulerState state)
    {
        if (state.Step < 0) throw new ArgumentOutOfRangeException(nameof(state), state.Step, "scheduler step must be >= 0");
        Step = state.Step;
    }
}
