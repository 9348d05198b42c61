using static TorchSharp.torch;

namespace RecAlign.Alignment;

/// <summary>
/// α-DPO (Wu et al. 2024, "α-DPO: Adaptive Reward Margin is What Direct Preference Optimization Needs"), following
/// the authors' code with length-averaged log-probs (their <c>ln=True</c>), p̄ = log π(y)/|y|:
/// u = (p̄θ(y+) − p̄θ(y−)) − (p̄ref(y+) − p̄ref(y−)); running mean μ and std σ of u (momentum m, from 0, updated before
/// use); margin M = sg(α(u − μ)/σ + γ/β); L = −(1−ε) log σ(β(p̄θ(y+) − p̄θ(y−) − M)) − ε log σ(−β(...)).
/// α = 0 gives SimPO. With K negatives each pair has its own u (statistics over all pairs); mean over K.
/// Rewards are β(p̄θ − α(p̄θ − p̄ref)), as the authors log them. Defaults β=2.5, γ/β=0.6, α=0.2 (the authors'
/// Llama-3-8B-Instruct config). Stateful: one instance per training run.
/// </summary>
public sealed class AlphaDpoLoss(double beta = 2.5, double gammaBetaRatio = 0.6, double alpha = 0.2, double labelSmoothing = 0.0, double momentum = 0.9)
    : IPreferenceLoss, IDisposable, Training.ICheckpointState
{
    public const string MarginStat = "alpha_dpo/margin";

    public double Beta { get; } = PreferenceLossChecks.Positive(beta, "beta");
    public double GammaBetaRatio { get; } = PreferenceLossChecks.Finite(gammaBetaRatio, "alpha_dpo_gamma_beta_ratio");
    public double Alpha { get; } = PreferenceLossChecks.Finite(alpha, "alpha_dpo_alpha");
    public double LabelSmoothing { get; } = PreferenceLossChecks.InRange(labelSmoothing, 0.0, 0.5, "label_smoothing");
    public double Momentum { get; } = PreferenceLossChecks.InRange(momentum, 0.0, 1.0, "alpha_dpo_momentum", openHigh: true);
    // Declared after Momentum so that a bad value is reported under its config key.
    private readonly RunningMoments gaps = new(momentum);

    public string Name => "alphadpo";
    public bool RequiresReference => true;
    public bool RequiresLengths => true;

    /// <summary>Running (mean, std) of u, for checkpoints (synchronises with the device).</summary>
    public (double Mean, double Std) State => gaps.Values;
    public void RestoreState(double mean, double std) => gaps.Restore(mean, std);

    public System.Text.Json.Nodes.JsonObject SaveState()
    {
        var (mean, std) = State;
        return new() { ["loss"] = Name, ["margin_mean"] = mean, ["margin_std"] = std };
    }

    public void LoadState(System.Text.Json.Nodes.JsonObject state) =>
        RestoreState(CheckpointStates.Number(state, Name, "margin_mean"), CheckpointStates.Number(state, Name, "margin_std"));

    /// <summary>Per-example loss [B] from length-averaged policy log-probs (chosen [B], rejected [B,K]) and the
    /// detached margins M [B,K].</summary>
    public static Tensor PerExample(Tensor chosenAvgLogps, Tensor rejectedAvgLogps, Tensor margin, double beta, double labelSmoothing = 0.0) =>
        DpoLoss.SmoothedLogistic(beta * (chosenAvgLogps.unsqueeze(1) - rejectedAvgLogps - margin), labelSmoothing).mean([1]);

    public PreferenceLossOutput Compute(PreferenceBatchLogps batch)
    {
        using var scope = NewDisposeScope();
        var b = CheckedBatch.From(batch, Name, RequiresReference, RequiresLengths);
        var policyChosen = b.PolicyChosen / b.ChosenLengths!;
        var policyRejected = b.PolicyRejected / b.RejectedLengths!;
        var refChosen = b.RefChosen! / b.ChosenLengths!;
        var refRejected = b.RefRejected! / b.RejectedLengths!;

        Tensor margin;
        using (no_grad())
        {
            var u = (policyChosen - refChosen).unsqueeze(1) - (policyRejected - refRejected);
            var (mean, std) = gaps.Update(u);
            // σ starts at 0; a floor keeps the first steps finite where the authors' code would divide by ~0.
            margin = (Alpha * (u - mean) / std.clamp_min(1e-6) + GammaBetaRatio).detach();
        }
        var per = PerExample(policyChosen, policyRejected, margin, Beta, LabelSmoothing);
        var chosenRewards = Beta * (policyChosen - Alpha * (policyChosen - refChosen));
        var rejectedRewards = Beta * (policyRejected - Alpha * (policyRejected - refRejected));
        var output = PreferenceStatistics.Output(per, b, chosenRewards, rejectedRewards);
        var stats = new Dictionary<string, Tensor>(output.Stats) { [MarginStat] = margin.mean().MoveToOuterDisposeScope() };
        return output with { Stats = stats };
    }

    public void Dispose() => gaps.Dispose();
}
