using static TorchSharp.torch;

namespace RecAlign.Alignment;

/// <summary>
/// SimPO (Meng et al. 2024, "SimPO: Simple Preference Optimization with a Reference-Free Reward"): reference-free,
/// length-normalised, with target margin γ and optional label smoothing ε (as TRL's CPOTrainer):
/// z = β/|y+| log πθ(y+) − β/|y−| log πθ(y−) − γ,  L = −(1−ε) log σ(z) − ε log σ(−z).
/// Mean over K negatives. Rewards are β log πθ(y)/|y|. Defaults β=2, γ=0.5 (the authors' SimPOConfig; γ also TRL's).
/// Reference log-probs, if given, are ignored.
/// </summary>
public sealed class SimPoLoss(double beta = 2.0, double gamma = 0.5, double labelSmoothing = 0.0) : IPreferenceLoss
{
    public double Beta { get; } = PreferenceLossChecks.Positive(beta, "beta");
    public double Gamma { get; } = PreferenceLossChecks.Finite(gamma, "simpo_gamma");
    public double LabelSmoothing { get; } = PreferenceLossChecks.InRange(labelSmoothing, 0.0, 0.5, "label_smoothing");

    public string Name => "simpo";
    public bool RequiresReference => false;
    public bool RequiresLengths => true;

    /// <summary>Per-example loss [B] from length-averaged policy log-probs: chosen [B], rejected [B,K].</summary>
    public static Tensor PerExample(Tensor chosenAvgLogps, Tensor rejectedAvgLogps, double beta, double gamma, double labelSmoothing = 0.0)
    {
        var z = beta * (chosenAvgLogps.unsqueeze(1) - rejectedAvgLogps) - gamma;
        return DpoLoss.SmoothedLogistic(z, labelSmoothing).mean([1]);
    }

    public PreferenceLossOutput Compute(PreferenceBatchLogps batch)
    {
        using var scope = NewDisposeScope();
        // Reference tensors are dropped before checking so that a batch carrying them still works.
        var b = CheckedBatch.From(batch with { RefChosen = null, RefRejected = null }, Name, RequiresReference, RequiresLengths);
        var chosen = b.PolicyChosen / b.ChosenLengths!;
        var rejected = b.PolicyRejected / b.RejectedLengths!;
        return PreferenceStatistics.Output(PerExample(chosen, rejected, Beta, Gamma, LabelSmoothing), b, Beta * chosen, Beta * rejected);
    }
}
