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
    /// −100, the ignore index) give 0. Upcast, log_softmax and gather run block by block (at most
    /// <paramref name="chunkElements"/> logits each), so bf16 logits never get full fp32 [N,T,V] temporaries in the
    /// forward pass (under autograd each block's log_softmax output is kept for backward, as one call would keep it).
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
        var dtype = logits.dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;
        var safeTargets = targets.clamp_min(0);
        // Blocks of [N,T,V] as given: flattening a narrowed (shifted) view would copy all the logits.
        var logProbs = Blockwise(logits, chunkElements, (block, n0, t0) =>
        {
            var blockTargets = safeTargets.narrow(0, n0, block.shape[0]).narrow(1, t0, block.shape[1]);
            return block.to(dtype).log_softmax(2).gather(2, blockTargets.unsqueeze(2)).squeeze(2);
        });
        return logProbs.masked_fill(targets < 0, 0.0).MoveToOuterDisposeScope();
    }

    /// <summary>Applies <paramref name="f"/> ([n,t,V] block, first row, first position → [n,t]) to blocks of at most
    /// <paramref name="chunkElements"/> logits (whole sequences when they fit, else slices of one sequence) and
    /// stitches the results into [N,T].</summary>
    private static Tensor Blockwise(Tensor logits, long chunkElements, Func<Tensor, long, long, Tensor> f)
    {
        long n = logits.shape[0], t = logits.shape[1], v = logits.shape[2];
        long ct = Math.Min(t, Math.Max(1, chunkElements / v));
        long cn = ct < t ? 1 : Math.Max(1, chunkElements / Math.Max(1, t * v));
        if (cn >= n) return f(logits, 0, 0);
        var rows = new List<Tensor>();
        for (long i = 0; i < n; i += cn)
        {
            var block = logits.narrow(0, i, Math.Min(cn, n - i));
            if (ct >= t)
            {
                rows.Add(f(block, i, 0));
                continue;
            }
            var parts = new List<Tensor>();
            for (long j = 0; j < t; j += ct)
                parts.Add(f(block.narrow(1, j, Math.Min(ct, t - j)), i, j));
            rows.Add(cat(parts, 1));
        }
        return cat(rows, 0);
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
