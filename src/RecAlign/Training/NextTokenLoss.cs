using RecAlign.Numerics;
using RecAlign.Models.Language;
using TorchSharp;
using static TorchSharp.torch;

namespace RecAlign.Training;

/// <summary>
/// Causal-LM cross entropy, L = −(1/N) Σ log p(x_{t+1} | x_≤t) over the positions whose target is not
/// <see cref="IgnoreIndex"/>. Only those positions go through the output projection, so SFT (response tokens only)
/// never materialises full-vocabulary logits for prompt positions. Logits are upcast to fp32 for the softmax.
/// </summary>
public static class NextTokenLoss
{
    public const long IgnoreIndex = -100;

    /// <summary>fp32 logits per cross-entropy block (1M floats = 4 MB).</summary>
    public const long ChunkLogitElements = 1L << 20;

    /// <summary><paramref name="targets"/>[b, t] is the token expected after inputIds[b, t] (already shifted), or
    /// <see cref="IgnoreIndex"/>. Batches are right-padded; padding positions must carry IgnoreIndex.
    /// <paramref name="injected"/>: soft tokens replacing input embeddings (<see cref="LanguageModel.Hidden"/>).</summary>
    /// <paramref name="itemTokens"/> (first id, count): a target inside that id range is scored by a softmax over the
    /// range alone (the next item among the catalog's items, as a sequential recommender is trained), every other target
    /// over the whole vocabulary.</summary>
    public static Tensor Compute(LanguageModel lm, Tensor inputIds, Tensor targets, long chunkLogitElements = ChunkLogitElements, InjectedEmbeddings? injected = null,
        (int First, int Count)? itemTokens = null)
    {
        using var scope = NewDisposeScope();
        var hidden = lm.Hidden(inputIds, injected: injected);
        var flatHidden = hidden.view(-1, hidden.shape[^1]);
        var flatTargets = targets.reshape(-1);
        var positions = (flatTargets != IgnoreIndex).nonzero().squeeze(1);
        var selected = flatHidden.index_select(0, positions);
        var targetsAt = flatTargets.index_select(0, positions);
        long n = selected.shape[0], rows = Math.Max(1, chunkLogitElements / lm.Config.VocabSize);
        // [V]: the ids outside the item range, masked out of an item target's softmax (built once per batch).
        Tensor? outside = null;
        if (itemTokens is { } items)
        {
            var ids = arange(lm.Config.VocabSize, device: selected.device);
            outside = (ids < items.First).logical_or(ids >= items.First + items.Count);
        }
        Tensor Logits(Tensor h, Tensor t)
        {
            var logits = lm.Logits(h).to(ScalarType.Float32);
            if (itemTokens is not { } range) return logits;
            var itemTarget = (t >= range.First).logical_and(t < range.First + range.Count);             // [n]
            return logits.MaskedFill(itemTarget.unsqueeze(1).logical_and(outside!.unsqueeze(0)), float.NegativeInfinity);
        }
        if (n <= rows)
            return nn.functional.cross_entropy(Logits(selected, targetsAt), targetsAt).MoveToOuterDisposeScope();
        // Blocks of rows keep each fp32 logit block cache-sized; the memory-bound softmax passes then run from cache.
        Tensor? total = null;
        for (long start = 0; start < n; start += rows)
        {
            long count = Math.Min(rows, n - start);
            var t = targetsAt.narrow(0, start, count);
            var part = nn.functional.cross_entropy(Logits(selected.narrow(0, start, count), t), t, reduction: nn.Reduction.Sum);
            total = total is null ? part : total + part;
        }
        return (total! / n).MoveToOuterDisposeScope();
    }

    /// <summary>Shifts a right-padded batch for LM training: targets[t] = ids[t+1]; the last position and every
    /// position whose next token is padding (mask 0) get <see cref="IgnoreIndex"/>.</summary>
    public static Tensor ShiftTargets(Tensor ids, Tensor mask)
    {
        using var scope = NewDisposeScope();
        long b = ids.shape[0];
        var next = cat([ids.narrow(1, 1, ids.shape[1] - 1), full(new long[] { b, 1 }, IgnoreIndex, ScalarType.Int64, device: ids.device)], 1);
        var nextMask = cat([mask.narrow(1, 1, mask.shape[1] - 1), zeros(new long[] { b, 1 }, mask.dtype, device: ids.device)], 1);
        return next.MaskedFill(nextMask == 0, IgnoreIndex).MoveToOuterDisposeScope();
    }
}
