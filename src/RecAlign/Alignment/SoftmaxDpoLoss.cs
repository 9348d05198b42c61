using static TorchSharp.torch;

namespace RecAlign.Alignment;

/// <summary>
/// Softmax-DPO (S-DPO; Chen et al. 2024, "On Softmax Direct Preference Optimization for Recommendation"): one
/// positive against K negatives under a Plackett-Luce partial ranking,
/// L = −log σ(−log Σ_k exp(β[(log πθ(y_k−) − log πref(y_k−)) − (log πθ(y+) − log πref(y+))])),
/// computed as softplus(logsumexp_k(...)). With K=1 it is DPO. β defaults to 1 as in the authors' scripts.
/// </summary>
public sealed class SoftmaxDpoLoss(double beta = 1.0) : IPreferenceLoss
{
    public double Beta { get; } = PreferenceLossChecks.Positive(beta, "beta");

    public string Name => "sdpo";
    public bool RequiresReference => true;
    public bool RequiresLengths => false;

    /// <summary>Per-example loss [B] from chosen [B] and rejected [B,K] log-ratios.</summary>
    public static Tensor PerExample(Tensor chosenLogRatios, Tensor rejectedLogRatios, double beta)
    {
        var lse = (beta * (rejectedLogRatios - chosenLogRatios.unsqueeze(1))).logsumexp(1);
        // softplus(x) = −log σ(−x); log_sigmoid is exact for large |x| where softplus's threshold is not.
        return -nn.functional.logsigmoid(-lse);
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
