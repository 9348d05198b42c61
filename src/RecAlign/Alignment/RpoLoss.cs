using static TorchSharp.torch;

namespace RecAlign.Alignment;

/// <summary>
/// RPO (Pang et al. 2024, "Iterative Reasoning Preference Optimization"; TRL's <c>rpo_alpha</c>): any preference loss
/// plus α times the policy's negative log-likelihood of the chosen responses, which keeps the chosen likelihood from
/// falling while the margin grows. As in TRL the NLL is a token mean over the batch:
/// L = L_inner + α · NLL, NLL = −Σ_i log πθ(y_i+) / Σ_i |y_i+| (with per-example weights, −Σ_i w_i log πθ(y_i+) / Σ_i |y_i+|).
/// <see cref="PreferenceLossOutput.PerExample"/> is ℓ_i + α·(−B·log πθ(y_i+) / Σ_j |y_j+|), whose mean (weighted mean
/// mean_i w_i·PerExample_i with weights) is the loss;
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
    public bool RequiresEnvironments => Inner.RequiresEnvironments;

    /// <summary>Token-mean NLL of the chosen responses from summed log-probs [B] and token counts [B].</summary>
    public static Tensor ChosenNll(Tensor policyChosen, Tensor chosenLengths) =>
        -policyChosen.sum() / chosenLengths.to(policyChosen.dtype).clamp_min(1.0).sum();

    public PreferenceLossOutput Compute(PreferenceBatchLogps batch)
    {
        using var scope = NewDisposeScope();
        var inner = Inner.Compute(batch);
        // The shared checks: shapes, an fp32-or-wider dtype and lengths clamped to at least 1.
        var b = CheckedBatch.From(batch, Name + " with rpo_alpha", needsReference: false, needsLengths: true);
        var weighted = b.Weights is null ? b.PolicyChosen : b.PolicyChosen * b.Weights;
        var nll = ChosenNll(weighted, b.ChosenLengths!);
        var perExampleNll = SftLoss.PerExample(b.PolicyChosen, b.ChosenLengths!);
        var perExample = inner.PerExample + Alpha * perExampleNll;
        var loss = inner.Loss + Alpha * nll;
        var stats = new Dictionary<string, Tensor>(inner.Stats) { [NllLoss] = nll.detach().MoveToOuterDisposeScope() };
        foreach (var t in inner.Stats.Values) t.MoveToOuterDisposeScope();
        return new PreferenceLossOutput(loss.MoveToOuterDisposeScope(), perExample.MoveToOuterDisposeScope(), stats);
    }
}
