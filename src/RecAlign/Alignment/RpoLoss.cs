using static TorchSharp.torch;

namespace RecAlign.Alignment;

/// <summary>
/// RPO (Pang et al. 2024, "Iterative Reasoning Preference Optimization"; TRL's <c>rpo_alpha</c>): any preference loss
/// plus α times the policy's negative log-likelihood of the chosen responses, which keeps the chosen likelihood from
/// falling while the margin grows. As in TRL the NLL is a token mean over the batch:
/// L = L_inner + α · NLL, NLL = −Σ_i log πθ(y_i+) / Σ_i |y_i+|.
/// <see cref="PreferenceLossOutput.PerExample"/> is ℓ_i + α·(−B·log πθ(y_i+) / Σ_j |y_j+|), whose mean is the loss;
/// the statistics are the inner loss's plus <c>nll_loss</c>.
/// </summary>
public sealed class RpoLoss(IPreferenceLoss inner, double alpha) : IPreferenceLoss
{
    public const string NllLoss = "nll_loss";

    public IPreferenceLoss Inner { get; } = inner;
    public double Alpha { get; } = PreferenceLossChecks.Positive(alpha, "rpo_alpha");

    public string Name => Inner.Name;
    public bool RequiresReference => Inner.RequiresReference;
    public bool RequiresLengths => true;

    /// <summary>Token-mean NLL of the chosen responses from summed log-probs [B] and token counts [B].</summary>
    public static Tensor ChosenNll(Tensor policyChosen, Tensor chosenLengths) =>
        -policyChosen.sum() / chosenLengths.to(policyChosen.dtype).clamp_min(1.0).sum();

    public PreferenceLossOutput Compute(PreferenceBatchLogps batch)
    {
        if (batch.ChosenLengths is null)
            throw new ArgumentException($"{Name} with rpo_alpha: PreferenceBatchLogps.ChosenLengths is required (the NLL term is a token mean)");
        using var scope = NewDisposeScope();
        var inner = Inner.Compute(batch);
        var chosen = batch.PolicyChosen.dtype == ScalarType.Float64 ? batch.PolicyChosen : batch.PolicyChosen.to(ScalarType.Float32);
        var lengths = batch.ChosenLengths.to(chosen.dtype).clamp_min(1.0);
        var nll = ChosenNll(chosen, lengths);
        var perExampleNll = -chosen * (chosen.shape[0] / lengths.sum());
        var perExample = inner.PerExample + Alpha * perExampleNll;
        var loss = inner.Loss + Alpha * nll;
        var stats = new Dictionary<string, Tensor>(inner.Stats) { [NllLoss] = nll.detach().MoveToOuterDisposeScope() };
        foreach (var t in inner.Stats.Values) t.MoveToOuterDisposeScope();
        return new PreferenceLossOutput(loss.MoveToOuterDisposeScope(), perExample.MoveToOuterDisposeScope(), stats);
    }
}
