using static TorchSharp.torch;

namespace RecAlign.Alignment;

/// <summary>
/// BCO, pairwise (Jung et al. 2024, "Binary Classifier Optimization for Large Language Model Alignment"; TRL
/// <c>loss_type="bco_pair"</c>): a binary classifier with the implicit rewards r± = β(log πθ(y±) − log πref(y±)) as
/// logits, chosen as positives and rejected as negatives, shifted by the reward shift δ:
/// L = −log σ(r+ − δ) − log σ(−(r− − δ)).
/// δ is the running mean of the batches' mean reward, updated before use and detached, as TRL's <c>RunningMoments</c>
/// up to TRL 0.28: δ_n = (1/n) Σ_{s≤n} m_s, m_s = mean over the batch of (r+ + mean_k r_k−)/2 (for K=1 the mean of the
/// 2B rewards); unweighted, as TRL. <paramref name="runningMean"/> false sets δ = 0, TRL ≥ 0.29's <c>bco_pair</c>.
/// With K negatives the per-example loss is the mean of the K pairwise losses. Stateful: one instance per training
/// run; δ and the step count travel in checkpoints.
/// </summary>
public sealed class BcoPairLoss(double beta = 0.1, bool runningMean = true) : IPreferenceLoss, IDisposable, Training.ICheckpointState
{
    public const string RewardShiftStat = "bco_pair/reward_shift";

    // δ as a float64 scalar on the batches' device, so that a step does not synchronise; null before the first step.
    private Tensor? shift;

    public double Beta { get; } = PreferenceLossChecks.Positive(beta, "beta");
    public bool RunningMean { get; } = runningMean;
    /// <summary>Batches folded into δ.</summary>
    public long Steps { get; private set; }

    public string Name => "bco_pair";
    public bool RequiresReference => true;
    public bool RequiresLengths => false;

    /// <summary>δ and the step count, for checkpoints (reading δ synchronises with the device).</summary>
    public (double RewardShift, long Steps) State => (shift?.item<double>() ?? 0.0, Steps);

    public void RestoreState(double rewardShift, long steps)
    {
        shift?.Dispose();
        shift = tensor(rewardShift, ScalarType.Float64).DetachFromDisposeScope();
        Steps = steps;
    }

    public System.Text.Json.Nodes.JsonObject SaveState()
    {
        var (mean, steps) = State;
        return new() { ["loss"] = Name, ["reward_shift"] = mean, ["steps"] = steps };
    }

    public void LoadState(System.Text.Json.Nodes.JsonObject state) =>
        RestoreState(CheckpointStates.Number(state, Name, "reward_shift"), (long)CheckpointStates.Number(state, Name, "steps"));

    /// <summary>Per-example loss [B] from chosen [B] and rejected [B,K] log-ratios and the reward shift δ (a scalar).</summary>
    public static Tensor PerExample(Tensor chosenLogRatios, Tensor rejectedLogRatios, double beta, Tensor rewardShift)
    {
        var chosen = -nn.functional.logsigmoid(beta * chosenLogRatios - rewardShift);
        var rejected = -nn.functional.logsigmoid(-(beta * rejectedLogRatios - rewardShift));
        return chosen + rejected.mean([1]);
    }

    public PreferenceLossOutput Compute(PreferenceBatchLogps batch)
    {
        using var scope = NewDisposeScope();
        var b = CheckedBatch.From(batch, Name, RequiresReference, RequiresLengths);
        var chosen = b.ChosenLogRatios;
        var rejected = b.RejectedLogRatios;
        Tensor delta;
        using (no_grad())
        {
            if (RunningMean)
            {
                var batchMean = (Beta * (chosen.detach() + rejected.detach().mean([1])) / 2).mean().to(ScalarType.Float64);
                if (shift is null || shift.device_type != batchMean.device_type || shift.device_index != batchMean.device_index)
                {
                    var value = shift?.item<double>() ?? 0.0;
                    shift?.Dispose();
                    shift = tensor(value, ScalarType.Float64, batchMean.device).DetachFromDisposeScope();
                }
                Steps++;
                shift.add_((batchMean - shift) / Steps);
                delta = shift.clone().to(chosen.dtype);
            }
            else delta = tensor(0.0, chosen.dtype, chosen.device);
        }
        var output = PreferenceStatistics.Output(PerExample(chosen, rejected, Beta, delta), b, Beta * chosen, Beta * rejected);
        var stats = new Dictionary<string, Tensor>(output.Stats) { [RewardShiftStat] = delta.MoveToOuterDisposeScope() };
        return output with { Stats = stats };
    }

    public void Dispose()
    {
        shift?.Dispose();
        shift = null;
    }
}
