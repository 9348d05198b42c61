using static TorchSharp.torch;

namespace RecAlign.Alignment;

/// <summary>
/// APO (D'Oosterlinck et al. 2024, "Anchored Preference Optimization and Contrastive Revisions: Addressing
/// Underspecification in Alignment"), with r± = β(log πθ(y±) − log πref(y±)) and h as in <see cref="DpoLoss"/>:
/// <list type="bullet">
/// <item>APO-zero (Eq. 7, TRL <c>loss_type="apo_zero"</c>): L = (1 − σ(r+)) + σ(r−): raise the chosen likelihood, lower
/// the rejected one (for chosen responses better than the model's own);</item>
/// <item>APO-down (Eq. 8, TRL <c>loss_type="apo_down"</c>): L = σ(r+) + (1 − σ(βh)): lower both, the rejected more (for
/// chosen responses worse than the model's own).</item>
/// </list>
/// With K negatives the per-example loss is the mean of the K pairwise losses (the chosen-only term counted once).
/// </summary>
public sealed class ApoLoss(ApoLoss.Anchor anchor, double beta = 0.1) : IPreferenceLoss
{
    public enum Anchor
    {
        /// <summary>APO-zero.</summary>
        Zero,
        /// <summary>APO-down.</summary>
        Down,
    }

    public Anchor Mode { get; } = Enum.IsDefined(anchor) ? anchor : throw new ArgumentOutOfRangeException(nameof(anchor), anchor, "APO anchor must be Zero or Down");
    public double Beta { get; } = PreferenceLossChecks.Positive(beta, "beta");

    public string Name => Mode == Anchor.Zero ? "apo_zero" : "apo_down";
    public bool RequiresReference => true;
    public bool RequiresLengths => false;

    /// <summary>Per-example loss [B] from chosen [B] and rejected [B,K] log-ratios.</summary>
    public static Tensor PerExample(Tensor chosenLogRatios, Tensor rejectedLogRatios, double beta, Anchor anchor)
    {
        var chosen = beta * chosenLogRatios;
        // 1 − σ(x) is computed as σ(−x), which keeps its precision where σ(x) rounds to 1.
        return anchor == Anchor.Zero
            ? nn.functional.sigmoid(-chosen) + nn.functional.sigmoid(beta * rejectedLogRatios).mean([1])
            : nn.functional.sigmoid(chosen) + nn.functional.sigmoid(-(chosen.unsqueeze(1) - beta * rejectedLogRatios)).mean([1]);
    }

    public PreferenceLossOutput Compute(PreferenceBatchLogps batch)
    {
        using var scope = NewDisposeScope();
        var b = CheckedBatch.From(batch, Name, RequiresReference, RequiresLengths);
        var chosen = b.ChosenLogRatios;
        var rejected = b.RejectedLogRatios;
        return PreferenceStatistics.Output(PerExample(chosen, rejected, Beta, Mode), b, Beta * chosen, Beta * rejected);
    }
}
