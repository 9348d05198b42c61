using static TorchSharp.torch;

namespace RecAlign.Alignment;

/// <summary>
/// DPO (Rafailov et al. 2023), TRL <c>loss_type="sigmoid"</c>, with conservative DPO label smoothing ε (cDPO,
/// Mitchell 2023; TRL's <c>label_smoothing</c>):
/// h = (log πθ(y+) − log πref(y+)) − (log πθ(y−) − log πref(y−)),
/// L = −(1−ε) log σ(βh) − ε log σ(−βh).
/// With K rejected responses the per-example loss is the mean of the K pairwise losses.
/// </summary>
public sealed class DpoLoss(double beta = 0.1, double labelSmoothing = 0.0) : IPreferenceLoss
{
    public double Beta { get; } = PreferenceLossChecks.Positive(beta, "beta");
    public double LabelSmoothing { get; } = PreferenceLossChecks.InRange(labelSmoothing, 0.0, 0.5, "label_smoothing");

    public string Name => "dpo";
    public bool RequiresReference => true;
    public bool RequiresLengths => false;

    /// <summary>Per-example loss [B] from chosen [B] and rejected [B,K] log-ratios.</summary>
    public static Tensor PerExample(Tensor chosenLogRatios, Tensor rejectedLogRatios, double beta, double labelSmoothing = 0.0)
    {
        var z = beta * (chosenLogRatios.unsqueeze(1) - rejectedLogRatios);
        return SmoothedLogistic(z, labelSmoothing).mean([1]);
    }

    /// <summary>−(1−ε) log σ(z) − ε log σ(−z), elementwise (stable for any z).</summary>
    internal static Tensor SmoothedLogistic(Tensor z, double labelSmoothing)
    {
        var loss = -nn.functional.logsigmoid(z);
        return labelSmoothing == 0.0 ? loss : (1 - labelSmoothing) * loss - labelSmoothing * nn.functional.logsigmoid(-z);
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
