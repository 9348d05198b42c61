using static TorchSharp.torch;

namespace RecAlign.Alignment;

/// <summary>
/// Per-token and per-sequence response log-probs, the inputs of every preference loss. Logits at position t predict
/// token t+1: <see cref="ResponseLogProbs"/> does that shift; <see cref="TokenLogProbs"/> takes targets already
/// aligned with the logits.
/// </summary>
public static class SequenceLogProbs
{
    /// <summary>Upcast chunks hold at most this many logits (64 MiB in fp32).</summary>
    public const long DefaultChunkElements = 1L << 24;

    /// <summary>
    /// log softmax(logits)[n, t, targets[n, t]] → [N,T], in fp32 (fp64 for fp64 logits). Negative targets (e.g.
    /// −100, the ignore index) give 0. Computed as gathered logit − logsumexp over rows in chunks, so bf16 logits
    /// never get a full fp32 [N,T,V] copy in the forward pass (under autograd, logsumexp keeps its upcast input for
    /// backward, as log_softmax would).
    /// </summary>
    public static Tensor TokenLogProbs(Tensor logits, Tensor targets, long chunkElements = DefaultChunkElements)
    {
        if (logits.dim() != 3)
            throw new ArgumentException($"SequenceLogProbs.TokenLogProbs: logits must be [N,T,V], got [{string.Join(", ", logits.shape)}]");
        if (targets.dim() != 2 || targets.shape[0] != logits.shape[0] || targets.shape[1] != logits.shape[1])
            throw new ArgumentException($"SequenceLogProbs.TokenLogProbs: targets must be [{logits.shape[0]}, {logits.shape[1]}], got [{string.Join(", ", targets.shape)}]");
        if (targets.dtype != ScalarType.Int64)
            throw new ArgumentException($"SequenceLogProbs.TokenLogProbs: targets must be int64, got {targets.dtype}");
        if (chunkElements <= 0) throw new ArgumentOutOfRangeException(nameof(chunkElements));

        using var scope = NewDisposeScope();
        long v = logits.shape[2];
        var dtype = logits.dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;
        var flat = logits.reshape(-1, v);
        var tgt = targets.reshape(-1);
        var valid = tgt >= 0;
        var picked = flat.gather(1, tgt.clamp_min(0).unsqueeze(1)).squeeze(1).to(dtype);

        long rows = flat.shape[0], chunk = Math.Max(1, chunkElements / v);
        Tensor lse;
        if (rows <= chunk)
            lse = flat.to(dtype).logsumexp(1);
        else
        {
            var parts = new List<Tensor>();
            for (long s = 0; s < rows; s += chunk)
                parts.Add(flat.narrow(0, s, Math.Min(chunk, rows - s)).to(dtype).logsumexp(1));
            lse = cat(parts, 0);
        }
        return (picked - lse).masked_fill(valid.logical_not(), 0.0).reshape(targets.shape).MoveToOuterDisposeScope();
    }

    /// <summary>Σ_t tokenLogProbs[n,t]·mask[n,t] → sum [N] and the number of masked tokens → count [N] (int64).
    /// Unmasked entries are ignored even when not finite.</summary>
    public static (Tensor Sum, Tensor Count) SumResponseLogProbs(Tensor tokenLogProbs, Tensor mask)
    {
        if (tokenLogProbs.dim() != 2 || !mask.shape.SequenceEqual(tokenLogProbs.shape))
            throw new ArgumentException($"SequenceLogProbs.SumResponseLogProbs: tokenLogProbs [N,T] and mask must match, got [{string.Join(", ", tokenLogProbs.shape)}] and [{string.Join(", ", mask.shape)}]");
        using var scope = NewDisposeScope();
        var keep = mask.dtype == ScalarType.Bool ? mask : mask != 0;
        var sum = where(keep, tokenLogProbs, zeros_like(tokenLogProbs)).sum(1);
        var count = keep.sum(1, type: ScalarType.Int64);
        return (sum.MoveToOuterDisposeScope(), count.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// Summed log-probs of the response tokens of each sequence: <paramref name="responseMask"/>[n,t] marks token
    /// inputIds[n,t] as part of the response (prompt and padding 0). Token t is scored by the logits at t−1, so the
    /// first token is never scored.
    /// </summary>
    public static (Tensor Sum, Tensor Count) ResponseLogProbs(Tensor logits, Tensor inputIds, Tensor responseMask, long chunkElements = DefaultChunkElements)
    {
        if (inputIds.dim() != 2 || logits.dim() != 3 || logits.shape[0] != inputIds.shape[0] || logits.shape[1] != inputIds.shape[1])
            throw new ArgumentException($"SequenceLogProbs.ResponseLogProbs: logits [N,T,V] and inputIds [N,T] must agree, got [{string.Join(", ", logits.shape)}] and [{string.Join(", ", inputIds.shape)}]");
        if (!responseMask.shape.SequenceEqual(inputIds.shape))
            throw new ArgumentException($"SequenceLogProbs.ResponseLogProbs: responseMask must be [{string.Join(", ", inputIds.shape)}], got [{string.Join(", ", responseMask.shape)}]");
        using var scope = NewDisposeScope();
        long t = inputIds.shape[1] - 1;
        var tokenLogProbs = TokenLogProbs(logits.narrow(1, 0, t), inputIds.narrow(1, 1, t), chunkElements);
        var (sum, count) = SumResponseLogProbs(tokenLogProbs, responseMask.narrow(1, 1, t));
        return (sum.MoveToOuterDisposeScope(), count.MoveToOuterDisposeScope());
    }
}
