using static TorchSharp.torch;

namespace RecAlign.Alignment;

/// <summary>
/// The supervised (NLL) loss on the chosen responses inside a preference run (TRL <c>loss_type="sft"</c>, the generation
/// term of MPO's <c>[sigmoid, bco_pair, sft]</c>): the token mean over the batch, L = −Σ_i log πθ(y_i+) / Σ_i |y_i+|
/// (with per-example weights −Σ_i w_i log πθ(y_i+) / Σ_i |y_i+|), the term <see cref="RpoLoss"/> adds. Rejected
/// responses and β take no part in the loss; the logged rewards are β times the chosen and rejected log-ratios (the
/// policy log-probs when no reference is given).
/// </summary>
public sealed class SftLoss(double beta = 0.1) : IPreferenceLoss
{
    public double Beta { get; } = PreferenceLossChecks.Positive(beta, "beta");

    public string Name => "sft";
    public bool RequiresReference => false;
    public bool RequiresLengths => true;

    /// <summary>Per-example terms [B], −B·log πθ(y_i+) / Σ_j |y_j+|, whose (weighted) mean is the token-mean NLL.</summary>
    public static Tensor PerExample(Tensor policyChosen, Tensor chosenLengths) => -policyChosen * (policyChosen.shape[0] / chosenLengths.sum());

    public PreferenceLossOutput Compute(PreferenceBatchLogps batch)
    {
        using var scope = NewDisposeScope();
        var b = CheckedBatch.From(batch, Name, RequiresReference, RequiresLengths);
        return PreferenceStatistics.Output(PerExample(b.PolicyChosen, b.ChosenLengths!), b, Beta * b.ChosenLogRatios, Beta * b.RejectedLogRatios);
    }
}
