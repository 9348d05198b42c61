using static TorchSharp.torch;

namespace RecAlign.Alignment;

/// <summary>
/// AOT, alignment via optimal transport (Melnyk et al. 2024, "Distributional Preference Alignment of LLMs via Optimal
/// Transport"; TRL <c>loss_type="aot"</c> and <c>"aot_unpaired"</c>): first-order stochastic dominance of the chosen
/// over the rejected distribution, enforced by matching sorted samples across the batch (the 1-D optimal coupling) and
/// putting the cDPO logistic loss on each matched difference d: ℓ(d) = −(1−ε) log σ(βd) − ε log σ(−βd), ε the
/// <c>label_smoothing</c>.
/// <list type="bullet">
/// <item><c>aot</c> (paired): the policy margins u = log πθ(y+) − log πθ(y−) and the reference margins
/// v = log πref(y+) − log πref(y−) are sorted separately, d_(r) = u_(r) − v_(r);</item>
/// <item><c>aot_unpaired</c>: the chosen log-ratios and the rejected log-ratios are sorted separately,
/// d_(r) = (log πθ − log πref)(y+)_(r) − (log πθ − log πref)(y−)_(r).</item>
/// </list>
/// L = mean_r ℓ(d_(r)). K negatives: the B·K (example, negative) pairs are the samples; for <c>aot</c> its B·K margins,
/// for <c>aot_unpaired</c> each chosen log-ratio counts K times against the B·K rejected ones (the monotone coupling of
/// the two empirical distributions); K=1 is TRL's loss. <see cref="PreferenceLossOutput.PerExample"/> gives each pair
/// the loss of the rank its policy margin (aot) or chosen log-ratio (aot_unpaired) holds, averaged over k: its mean is
/// the loss, but it is not separable by example. Per-example weights are refused, as TRL refuses <c>use_weighting</c>
/// here: sorting pairs one example's samples with another's.
/// </summary>
public sealed class AotLoss(bool paired = true, double beta = 0.1, double labelSmoothing = 0.0) : IPreferenceLoss
{
    public bool Paired { get; } = paired;
    public double Beta { get; } = PreferenceLossChecks.Positive(beta, "beta");
    public double LabelSmoothing { get; } = PreferenceLossChecks.InRange(labelSmoothing, 0.0, 0.5, "label_smoothing");

    public string Name => Paired ? "aot" : "aot_unpaired";
    public bool RequiresReference => true;
    public bool RequiresLengths => false;

    /// <summary>
    /// Loss per example [B] of the sorted coupling of <paramref name="winning"/> [B,K] against <paramref name="losing"/>
    /// [B,K] (aot: policy vs reference margins; aot_unpaired: chosen log-ratios expanded to [B,K] vs rejected
    /// log-ratios): ℓ(sort(winning)_(r) − sort(losing)_(r)), each value returned to the winning sample of rank r and
    /// averaged over k.
    /// </summary>
    public static Tensor PerExample(Tensor winning, Tensor losing, double beta, double labelSmoothing)
    {
        var (wSorted, order) = winning.reshape(-1).sort();
        var lSorted = losing.reshape(-1).sort().Values;
        var byRank = DpoLoss.SmoothedLogistic(beta * (wSorted - lSorted), labelSmoothing);
        return byRank.index_select(0, order.argsort()).view(winning.shape).mean([1]);
    }

    public PreferenceLossOutput Compute(PreferenceBatchLogps batch)
    {
        using var scope = NewDisposeScope();
        var b = CheckedBatch.From(batch, Name, RequiresReference, RequiresLengths);
        if (b.Weights is not null)
            throw new ArgumentException($"{Name}: per-example weights are not supported: the loss matches samples by rank across the batch, so no loss term belongs to one example (TRL refuses use_weighting for aot too)");
        var chosen = b.ChosenLogRatios;
        var rejected = b.RejectedLogRatios;
        var per = Paired
            ? PerExample(b.PolicyChosen.unsqueeze(1) - b.PolicyRejected, b.RefChosen!.unsqueeze(1) - b.RefRejected!, Beta, LabelSmoothing)
            : PerExample(chosen.unsqueeze(1).expand(b.B, b.K), rejected, Beta, LabelSmoothing);
        return PreferenceStatistics.Output(per, b, Beta * chosen, Beta * rejected);
    }
}
