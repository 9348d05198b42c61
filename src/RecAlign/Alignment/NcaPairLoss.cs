using static TorchSharp.torch;

namespace RecAlign.Alignment;

/// <summary>
/// NCA, pairwise (Chen et al. 2024, "Noise Contrastive Alignment of Language Models with Explicit Rewards"; TRL
/// <c>loss_type="nca_pair"</c>): with absolute rewards r± = β(log πθ(y±) − log πref(y±)),
/// L = −log σ(r+) − ½ log σ(−r+) − ½ log σ(−r−),
/// which raises the chosen response's own likelihood rather than only the margin. With K negatives the per-example loss
/// is the mean of the K pairwise losses, −log σ(r+) − ½ log σ(−r+) − ½ mean_k log σ(−r_k−) (not the paper's
/// (K+1)-response NCA, which weights the chosen term 1/(K+1)).
/// </summary>
public sealed class NcaPairLoss(double beta = 0.1) : IPreferenceLoss
{
    public double Beta { get; } = PreferenceLossChecks.Positive(beta, "beta");

    public string Name => "nca_pair";
    public bool RequiresReference => true;
    public bool RequiresLengths => false;

    /// <summary>Per-example loss [B] from chosen [B] and rejected [B,K] log-ratios.</summary>
    public static Tensor PerExample(Tensor chosenLogRatios, Tensor rejectedLogRatios, double beta)
    {
        var chosen = beta * chosenLogRatios;
        var rejected = beta * rejectedLogRatios;
        return -nn.functional.logsigmoid(chosen) - 0.5 * nn.functional.logsigmoid(-chosen)
            - 0.5 * nn.functional.logsigmoid(-rejected).mean([1]);
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
