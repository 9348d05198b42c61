using static TorchSharp.torch;

namespace RecAlign.Alignment;

/// <summary>
/// Hinge loss on the DPO log-ratio margin (SLiC, Zhao et al. 2023; TRL <c>loss_type="hinge"</c>):
/// L = max(0, 1 − βh), h as in <see cref="DpoLoss"/>; β acts as the reciprocal of the margin. Mean over K negatives.
/// </summary>
public sealed class HingeLoss(double beta = 0.1) : IPreferenceLoss
{
    public double Beta { get; } = PreferenceLossChecks.Positive(beta, "beta");

    public string Name => "hinge";
    public bool RequiresReference => true;
    public bool RequiresLengths => false;

    public static Tensor PerExample(Tensor chosenLogRatios, Tensor rejectedLogRatios, double beta) =>
        nn.functional.relu(1.0 - beta * (chosenLogRatios.unsqueeze(1) - rejectedLogRatios)).mean([1]);

    public PreferenceLossOutput Compute(PreferenceBatchLogps batch)
    {
        using var scope = NewDisposeScope();
        var b = CheckedBatch.From(batch, Name, RequiresReference, RequiresLengths);
        var chosen = b.ChosenLogRatios;
        var rejected = b.RejectedLogRatios;
        return PreferenceStatistics.Output(PerExample(chosen, rejected, Beta), b, Beta * chosen, Beta * rejected);
    }
}
