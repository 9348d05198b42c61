using RecAlign.Randomness;

namespace RecAlign.Training;

/// <summary>When LLaRA's hybrid item embeddings are used during training.</summary>
public enum HybridSchedule
{
    /// <summary>The paper's curriculum: batch τ is hybrid with probability τ/T, rising linearly from 0 to 1 over
    /// the whole run (the released code's counter resets every epoch and never passes about 0.2).</summary>
    Curriculum,
    /// <summary>Hybrid from the first batch ("direct" in the paper's ablation).</summary>
    Direct,
    /// <summary>Text-only for the first half of the batches, hybrid for the second ("two-stage").</summary>
    TwoStage,
}

/// <summary>Decides, batch by batch, whether a batch uses hybrid prompts. The decision for batch τ depends only on
/// (seed, τ), so a resumed run (which restores τ) decides as an uninterrupted one.</summary>
public sealed class HybridCurriculum(HybridSchedule schedule, long totalBatches, long seed)
{
    public HybridSchedule Schedule { get; } = schedule;
    public long TotalBatches { get; } = totalBatches >= 1 ? totalBatches : throw new ArgumentOutOfRangeException(nameof(totalBatches), totalBatches, "must be at least 1");
    /// <summary>Batches decided so far (τ).</summary>
    public long Batches { get; set; }

    /// <summary>The probability that batch <paramref name="tau"/> is hybrid.</summary>
    public double Probability(long tau) => Schedule switch
    {
        HybridSchedule.Direct => 1,
        HybridSchedule.TwoStage => tau >= TotalBatches / 2 ? 1 : 0,
        _ => Math.Min(1.0, (double)tau / TotalBatches),
    };

    /// <summary>The next batch's decision.</summary>
    public bool Next()
    {
        long tau = Batches++;
        double p = Probability(tau);
        return p >= 1 || (p > 0 && SplitMix64.Uniform((ulong)seed, (ulong)tau) < p);
    }
}
