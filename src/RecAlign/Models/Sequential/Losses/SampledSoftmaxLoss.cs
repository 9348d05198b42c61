using RecAlign.Numerics;
using static TorchSharp.torch;

namespace RecAlign.Models.Sequential.Losses;

/// <summary>Sampled softmax (Jean et al. 2015, "On Using Very Large Target Vocabulary for Neural Machine Translation"):
/// L = −mean [s⁺ − log(exp s⁺ + Σₖ exp sₖ⁻)] over the target and K negatives drawn uniformly (a uniform proposal's
/// log Q correction is the same for every item, so it cancels). Negatives equal to the target are masked out.</summary>
public static class SampledSoftmaxLoss
{
    /// <param name="positive">[B] target scores.</param>
    /// <param name="negative">[B, K] scores of the sampled items.</param>
    /// <param name="accidentalHits">[B, K] bool, true where a sample is the target itself (excluded), or null.</param>
    public static Tensor Compute(Tensor positive, Tensor negative, Tensor? accidentalHits = null)
    {
        using var scope = NewDisposeScope();
        if (accidentalHits is not null) negative = negative.MaskedFill(accidentalHits, float.NegativeInfinity);
        var logits = cat([positive.unsqueeze(1), negative], 1);
        return logits.logsumexp(1).Minus(positive).mean().MoveToOuterDisposeScope();
    }
}
