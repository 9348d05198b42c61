using static TorchSharp.torch;

namespace RecAlign.Alignment;

/// <summary>
/// Dr.DPO (Wu et al. 2025, "Towards Robust Alignment of Language Models: Distributionally Robustifying Direct
/// Preference Optimization"): a KL-constrained worst case over pairs in the batch, which down-weights likely-noisy
/// pairs: L = −β′ log (1/B) Σ_i exp(−ℓ_i/β′), with ℓ_i the per-example loss of the inner loss (DPO in the paper).
/// Computed as −β′(logsumexp(−ℓ/β′) − log B). β′ → ∞ recovers the inner mean. With per-example weights w_i the
/// batch is the weighted empirical distribution: −β′ log Σ_i (w_i/Σ_j w_j) exp(−ℓ_i/β′) (unit weights: the unweighted
/// loss; β′ → ∞: the weighted mean Σ w_i ℓ_i / Σ w_i).
/// <see cref="PreferenceLossOutput.PerExample"/> holds the inner ℓ_i; the statistics are the inner loss's.
/// </summary>
public sealed class DrDpoLoss(IPreferenceLoss inner, double betaPrime = 1.0) : IPreferenceLoss
{
    public IPreferenceLoss Inner { get; } = inner;
    public double BetaPrime { get; } = PreferenceLossChecks.Positive(betaPrime, "drdpo_beta_prime");

    public string Name => "drdpo";
    public bool RequiresReference => Inner.RequiresReference;
    public bool RequiresLengths => Inner.RequiresLengths;
    public bool RequiresEnvironments => Inner.RequiresEnvironments;

    /// <summary>The robust aggregate (scalar) of per-example losses [B].</summary>
    public static Tensor Aggregate(Tensor perExample, double betaPrime, Tensor? weights = null)
    {
        if (weights is null) return -betaPrime * ((-perExample / betaPrime).logsumexp(0) - Math.Log(perExample.shape[0]));
        var w = weights.to(perExample.dtype);
        if (!(w.sum().item<double>() > 0)) throw new ArgumentException("drdpo: the batch's weights sum to 0");
        return -betaPrime * (((-perExample / betaPrime) + w.log()).logsumexp(0) - w.sum().log());
    }

    public PreferenceLossOutput Compute(PreferenceBatchLogps batch)
    {
        using var scope = NewDisposeScope();
        var inner = Inner.Compute(batch);
        var loss = Aggregate(inner.PerExample, BetaPrime, batch.Weights);
        foreach (var t in inner.Stats.Values) t.MoveToOuterDisposeScope();
        return new PreferenceLossOutput(loss.MoveToOuterDisposeScope(), inner.PerExample.MoveToOuterDisposeScope(), inner.Stats);
    }
}
