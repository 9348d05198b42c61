using static TorchSharp.torch;

namespace RecAlign.Alignment;

/// <summary>
/// EXO, pairwise (Ji et al. 2024, "Towards Efficient Exact Optimization of Language Model Alignment", Eq. 16; TRL
/// <c>loss_type="exo_pair"</c>): the reverse KL from the policy's preference distribution over the pair,
/// q = (σ(βh), σ(−βh)), to the label-smoothed target p = (1−ε, ε), h as in <see cref="DpoLoss"/>:
/// L = σ(βh)(log σ(βh) − log(1−ε)) + σ(−βh)(log σ(−βh) − log ε)  (≥ 0, 0 at βh = log((1−ε)/ε)).
/// ε is <c>label_smoothing</c>, in (0, 0.5]: as TRL, 0 is refused (the paper recommends 10⁻³). Mean over K negatives.
/// </summary>
public sealed class ExoPairLoss(double beta = 0.1, double labelSmoothing = 1e-3) : IPreferenceLoss
{
    public double Beta { get; } = PreferenceLossChecks.Positive(beta, "beta");
    public double LabelSmoothing { get; } = labelSmoothing > 0 && labelSmoothing <= 0.5
        ? labelSmoothing
        : throw new ArgumentOutOfRangeException("label_smoothing", labelSmoothing,
            "label_smoothing must lie in (0, 0.5] for exo_pair: it is the target's ε, and log ε must be finite (the EXO paper recommends 1e-3)");

    public string Name => "exo_pair";
    public bool RequiresReference => true;
    public bool RequiresLengths => false;

    /// <summary>Per-example loss [B] from chosen [B] and rejected [B,K] log-ratios.</summary>
    public static Tensor PerExample(Tensor chosenLogRatios, Tensor rejectedLogRatios, double beta, double labelSmoothing)
    {
        var z = beta * (chosenLogRatios.unsqueeze(1) - rejectedLogRatios);
        var win = nn.functional.sigmoid(z) * (nn.functional.logsigmoid(z) - Math.Log(1 - labelSmoothing));
        var lose = nn.functional.sigmoid(-z) * (nn.functional.logsigmoid(-z) - Math.Log(labelSmoothing));
        return (win + lose).mean([1]);
    }

    public PreferenceLossOutput Compute(PreferenceBatchLogps batch)
    {
        using var scope = NewDisposeScope();
        var b = CheckedBatch.From(batch, Name, RequiresReference, RequiresLengths);
        var chosen = b.ChosenLogRatios;
        var rejected = b.RejectedLogRatios;
        return PreferenceStatistics.Output(PerExample(chosen, rejected, Beta, LabelSmoothing), b, Beta * chosen, Beta * rejected);
    }
}
