using TorchSharp;
using static TorchSharp.torch;

namespace RecAlign.Alignment;

/// <summary>
/// β-DPO (Wu et al. 2024, "β-DPO: Direct Preference Optimization with Dynamic β"), following the authors' code.
/// Per step, with the detached gap M_i = h_i (h as in <see cref="DpoLoss"/>; with K negatives, the mean over k):
/// running statistics M₀ ← mM₀ + (1−m)·mean(M), σ ← mσ + (1−m)·std(M) (both start at 0 and are updated before use);
/// ⌊(1−ρ)B⌋ examples are kept by sampling without replacement with weights exp(−½((M_i − M₀)/σ)²);
/// β_batch = max(β(1 + α(mean_kept(M) − M₀)), 10⁻³) (detached); the loss is the DPO loss at β_batch averaged over the
/// kept examples. <see cref="PreferenceLossOutput.PerExample"/> holds kept losses scaled by B/kept and zeros for
/// dropped ones, so its mean is the loss. Defaults β=0.1, α=0.6, ρ=0.2, m=0.9 (the authors' README).
/// Stateful: one instance per training run; sampling is seeded per step from <paramref name="seed"/>.
/// </summary>
public sealed class BetaDpoLoss(double beta = 0.1, double alpha = 0.6, double filterRatio = 0.2, double momentum = 0.9, long seed = 0)
    : IPreferenceLoss, IDisposable, Training.ICheckpointState
{
    public const string BetaStat = "beta_dpo/beta";
    public const string GapMeanStat = "beta_dpo/gap_mean";
    public const string GapStdStat = "beta_dpo/gap_std";
    public const string KeptStat = "beta_dpo/kept_fraction";

    public double Beta { get; } = PreferenceLossChecks.Positive(beta, "beta");
    public double Alpha { get; } = PreferenceLossChecks.Finite(alpha, "beta_dpo_alpha");
    public double FilterRatio { get; } = PreferenceLossChecks.InRange(filterRatio, 0.0, 1.0, "beta_dpo_filter_ratio", openHigh: true);
    public double Momentum { get; } = PreferenceLossChecks.InRange(momentum, 0.0, 1.0, "beta_dpo_momentum", openHigh: true);
    // Declared after Momentum so that a bad value is reported under its config key.
    private readonly RunningMoments gaps = new(momentum);
    public long Seed { get; } = seed;
    /// <summary>Batches seen; with <see cref="Seed"/> it fixes the next selection.</summary>
    public long Steps { get; private set; }

    public string Name => "betadpo";
    public bool RequiresReference => true;
    public bool RequiresLengths => false;

    /// <summary>Running statistics for checkpoints (reading them synchronises with the device).</summary>
    public (double GapMean, double GapStd, long Steps) State
    {
        get { var (mean, std) = gaps.Values; return (mean, std, Steps); }
    }

    public void RestoreState(double mean, double std, long steps)
    {
        gaps.Restore(mean, std);
        Steps = steps;
    }

    public System.Text.Json.Nodes.JsonObject SaveState()
    {
        var (mean, std, steps) = State;
        return new() { ["loss"] = Name, ["gap_mean"] = mean, ["gap_std"] = std, ["steps"] = steps };
    }

    public void LoadState(System.Text.Json.Nodes.JsonObject state) =>
        RestoreState(CheckpointStates.Number(state, Name, "gap_mean"), CheckpointStates.Number(state, Name, "gap_std"), (long)CheckpointStates.Number(state, Name, "steps"));

    /// <summary>Keeps <paramref name="keep"/> of the B examples, sampled without replacement with weights
    /// exp(−½((gap − mean)/std)²) (Gumbel top-k, the same law as torch.multinomial without replacement).</summary>
    public static Tensor SelectionMask(Tensor gap, Tensor mean, Tensor std, long keep, Generator generator)
    {
        var logWeights = -0.5 * ((gap - mean) / std).square();
        var u = rand(gap.shape, ScalarType.Float64, gap.device, generator: generator).clamp(1e-300, 1.0).to(gap.dtype);
        var keys = logWeights - (-u.log()).log();
        var index = keys.topk((int)keep).indexes;
        return zeros_like(gap, ScalarType.Bool).index_fill_(0, index, true);
    }

    public PreferenceLossOutput Compute(PreferenceBatchLogps batch)
    {
        using var scope = NewDisposeScope();
        var b = CheckedBatch.From(batch, Name, RequiresReference, RequiresLengths);
        var chosen = b.ChosenLogRatios;
        var rejected = b.RejectedLogRatios;
        var h = chosen.unsqueeze(1) - rejected;
        long keep = Math.Max(1, (long)Math.Floor(b.B * (1 - FilterRatio)));

        Tensor mask, betaUsed, mean, stdLogged;
        using (no_grad())
        {
            var gap = h.detach().mean([1]);
            (mean, stdLogged) = gaps.Update(gap);
            var std = stdLogged.clamp_min(1e-6);
            using var generator = new Generator((ulong)unchecked(Seed + Steps), gap.device);
            mask = keep == b.B ? ones_like(gap, ScalarType.Bool) : SelectionMask(gap, mean, std, keep, generator);
            var keptMean = where(mask, gap, zeros_like(gap)).sum() / keep;
            betaUsed = (Beta * (1 + Alpha * (keptMean - mean))).clamp_min(1e-3);
        }
        Steps++;

        var per = DpoLoss.SmoothedLogistic(betaUsed * h, 0.0).mean([1]);
        var perExample = where(mask, per * ((double)b.B / keep), zeros_like(per));
        var output = PreferenceStatistics.Output(perExample, b, Beta * chosen, Beta * rejected);
        var stats = new Dictionary<string, Tensor>(output.Stats)
        {
            [BetaStat] = betaUsed.MoveToOuterDisposeScope(),
            [GapMeanStat] = mean.MoveToOuterDisposeScope(),
            [GapStdStat] = stdLogged.MoveToOuterDisposeScope(),
            [KeptStat] = tensor((double)keep / b.B, b.PolicyChosen.dtype, b.PolicyChosen.device).MoveToOuterDisposeScope(),
        };
        return output with { Stats = stats };
    }

    public void Dispose() => gaps.Dispose();
}
