using RecAlign.Numerics;
using RecAlign.Models.Language;
using TorchSharp;
using static TorchSharp.torch;

namespace RecAlign.Training;

/// <summary>
/// Per-sample weighted causal-LM loss (IFairLRS, Jiang et al. 2024, as the paper states it, not as its code computes
/// it): L = (1/B) Σ_b w_b · CE_b, CE_b = −(1/n_b) Σ_t log p(x_{b,t+1} | x_{b,≤t}) over sample b's n_b trained positions.
/// Each weight scales its own sample's token mean (the released code multiplies the batch mean by mean(w), which
/// weighs nothing). A sample with no trained position is left out of B. With unit weights and equal response lengths
/// this is <see cref="NextTokenLoss"/>'s token mean.
/// </summary>
public static class SampleWeightedNextTokenLoss
{
    /// <summary>The loss of per-position losses <paramref name="tokenLosses"/> [P] belonging to rows
    /// <paramref name="rows"/> [P] (int64, in [0, B)) with per-row <paramref name="weights"/> [B].</summary>
    public static Tensor Reduce(Tensor tokenLosses, Tensor rows, Tensor weights)
    {
        using var scope = NewDisposeScope();
        var w = weights.to(tokenLosses.dtype).to(tokenLosses.device);
        long b = w.shape[0];
        var sums = zeros(b, dtype: tokenLosses.dtype, device: tokenLosses.device).index_add(0, rows, tokenLosses, 1);
        var counts = zeros(b, dtype: tokenLosses.dtype, device: tokenLosses.device).index_add(0, rows, ones_like(tokenLosses), 1);
        var present = counts.gt(0);
        long n = present.sum().item<long>();
        if (n == 0) return (tokenLosses.sum() * 0).MoveToOuterDisposeScope(); // nothing trained: a zero that keeps the graph
        var perSample = sums / counts.clamp_min(1);
        return ((w * perSample).MaskedFill(present.logical_not(), 0).sum() / n).MoveToOuterDisposeScope();
    }

    /// <summary>As <see cref="NextTokenLoss.Compute"/> (shifted targets, <see cref="NextTokenLoss.IgnoreIndex"/> where not
    /// trained), with one weight per batch row.</summary>
    public static Tensor Compute(LanguageModel lm, Tensor inputIds, Tensor targets, Tensor weights, long chunkLogitElements = NextTokenLoss.ChunkLogitElements)
    {
        if (weights.dim() != 1 || weights.shape[0] != targets.shape[0])
            throw new ArgumentException($"weights must be [B] = [{targets.shape[0]}], got [{string.Join(", ", weights.shape)}]", nameof(weights));
        using var scope = NewDisposeScope();
        var hidden = lm.Hidden(inputIds);
        var flatHidden = hidden.view(-1, hidden.shape[^1]);
        var flatTargets = targets.reshape(-1);
        var positions = (flatTargets != NextTokenLoss.IgnoreIndex).nonzero().squeeze(1);
        var selected = flatHidden.index_select(0, positions);
        var targetsAt = flatTargets.index_select(0, positions);
        long n = selected.shape[0], rows = Math.Max(1, chunkLogitElements / lm.Config.VocabSize);
        var parts = new List<Tensor>();
        for (long start = 0; start < n; start += rows)
        {
            long count = Math.Min(rows, n - start);
            parts.Add(nn.functional.cross_entropy(lm.Logits(selected.narrow(0, start, count)).to(ScalarType.Float32),
                targetsAt.narrow(0, start, count), reduction: nn.Reduction.None));
        }
        var tokenLosses = parts.Count == 0 ? zeros(0, dtype: ScalarType.Float32, device: inputIds.device) : parts.Count == 1 ? parts[0] : cat(parts, 0);
        var rowOf = positions.div(targets.shape[1], rounding_mode: RoundingMode.floor);
        return Reduce(tokenLosses, rowOf, weights).MoveToOuterDisposeScope();
    }
}
