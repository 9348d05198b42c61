using RecAlign.Numerics;
using static TorchSharp.torch;

namespace RecAlign.Models.Sequential.Losses;

/// <summary>BPR (Rendle et al. 2009, "BPR: Bayesian Personalized Ranking from Implicit Feedback"):
/// L = −mean log σ(s⁺ − s⁻), the pairwise log-likelihood that the observed item outranks a sampled one.</summary>
public static class BprLoss
{
    /// <param name="positive">[B] scores of the observed items.</param>
    /// <param name="negative">[B] or [B, K] scores of sampled items (K negatives are averaged).</param>
    public static Tensor Compute(Tensor positive, Tensor negative)
    {
        using var scope = NewDisposeScope();
        var diff = negative.dim() == 2 ? positive.unsqueeze(1).Minus(negative) : positive.Minus(negative);
        // log σ(x) = −softplus(−x): stable for large |x|.
        return nn.functional.softplus(-diff).mean().MoveToOuterDisposeScope();
    }
}
