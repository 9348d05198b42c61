using static TorchSharp.torch;

namespace RecAlign.Alignment;

/// <summary>
/// Robust DPO (Chowdhury et al. 2024, "Provably Robust DPO: Aligning Language Models with Noisy Feedback"; TRL
/// <c>loss_type="robust"</c>): an unbiased loss when each label is flipped with probability ε ∈ [0, 0.5),
/// L = [(1−ε)(−log σ(βh)) − ε(−log σ(−βh))] / (1 − 2ε), h as in <see cref="DpoLoss"/>. Mean over K negatives.
/// It can be negative for ε &gt; 0.
/// </summary>
public sealed class RobustDpoLoss(double beta = 0.1, double labelSmoothing = 0.0) : IPreferenceLoss
{
    public double Beta { get; } = PreferenceLossChecks.Positive(beta, "beta");
    public double LabelSmoothing { get; } = PreferenceLossChecks.InRange(labelSmoothing, 0.0, 0.5, "label_smoothing", openHigh: true);

    public string Name => "robust";
    public bool RequiresReference => true;
    public bool RequiresLengths => false;

    public static Tensor PerExample(Tensor chosenLogRatios, Tensor rejectedLogRatios, double beta, double labelSmoothing)
    {
        var z = beta * (chosenLogRatios.unsqueeze(1) - rejectedLogRatios);
        var clean = -(1 - labelSmoothing) * nn.functional.logsigmoid(z);
        var flipped = -labelSmoothing * nn.functional.logsigmoid(-z);
        return ((clean - flipped) / (1 - 2 * labelSmoothing)).mean([1]);
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
