using static TorchSharp.torch;

namespace RecAlign.Alignment;

/// <summary>
/// SPPO with hard labels (Wu et al. 2024, "Self-Play Preference Optimization for Language Model Alignment", Eq. 4.7
/// with the winner's probability set to 1 and the loser's to 0; TRL <c>loss_type="sppo_hard"</c>): squared errors that
/// pull the chosen log-ratio to +1/(2β) and the rejected one to −1/(2β),
/// L = (log πθ(y+) − log πref(y+) − 1/(2β))² + (log πθ(y−) − log πref(y−) + 1/(2β))²  (summed log-ratios, as TRL).
/// With K negatives the rejected term is the mean over k (the mean of the K pairwise losses).
/// </summary>
public sealed class SppoHardLoss(double beta = 0.1) : IPreferenceLoss
{
    public double Beta { get; } = PreferenceLossChecks.Positive(beta, "beta");

    public string Name => "sppo_hard";
    public bool RequiresReference => true;
    public bool RequiresLengths => false;

    /// <summary>Per-example loss [B] from chosen [B] and rejected [B,K] log-ratios.</summary>
    public static Tensor PerExample(Tensor chosenLogRatios, Tensor rejectedLogRatios, double beta)
    {
        double target = 0.5 / beta;
        return (chosenLogRatios - target).square() + (rejectedLogRatios + target).square().mean([1]);
    }

    public PreferenceLossOutput Compute(PreferenceBatchLogps batch)
    {
        using var scope = NewDisposeScope();
        var b = CheckedBatch.From(batch, Name, RequiresReference, RequiresLengths);
        var chosen = b.ChosenLogRatios;
        var rejected = b.RejectedLogRatios;
        return PreferenceStatistics.Output(PerExample(chosen, rejected, Beta), b, Beta * chosen, Beta * rejected);
    }
}
