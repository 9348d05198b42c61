using TorchSharp;
using static TorchSharp.torch;

namespace RecAlign.Models.Language;

/// <summary>Summed log-probabilities of continuations (flattened: prompt 0's continuations first), their token
/// counts, and which prompt each belongs to; with <c>poolStates</c>, each continuation's mean final hidden state over
/// its own tokens [N, D] (fp32, with graph): a representation of the response.</summary>
public sealed record ContinuationLogProbs(Tensor Sums, Tensor Lengths, Tensor Owner, Tensor? States = null) : IDisposable
{
    public void Dispose()
    {
        Sums.Dispose();
        Lengths.Dispose();
        Owner.Dispose();
        States?.Dispose();
    }
}

/// <summary>
/// log p(continuation | prompt) for many continuations per prompt, computing each prompt's KV cache once and
/// expanding it over its continuations in one batch: prompts are left-padded, continuations right-padded, the first
/// continuation token is scored from the prompt's last position. Differentiable when grad is enabled, so preference
/// training scores chosen and all rejected responses in one pass that shares the prompt; under no_grad it ranks
/// candidate lists. Only continuation positions reach the output projection, and log-softmax is never materialised:
/// log p(y) = logit_y − logsumexp(logits), in fp32.
/// </summary>
public static class ContinuationScorer
{
    /// <summary>Prompts left-padded to the longest, row-major [B, T], with the mask (1 = token) and T.</summary>
    internal static (long[] Ids, long[] Mask, int Length) LeftPad(IReadOnlyList<int[]> prompts, int padId)
    {
        int b = prompts.Count, len = prompts.Max(p => p.Length);
        var ids = new long[b * len];
        var mask = new long[b * len];
        Array.Fill(ids, padId);
        for (int r = 0; r < b; r++)
        {
            int offset = r * len + len - prompts[r].Length;
            for (int j = 0; j < prompts[r].Length; j++)
            {
                ids[offset + j] = prompts[r][j];
                mask[offset + j] = 1;
            }
        }
        return (ids, mask, len);
    }

    /// <summary>Default bound on live fp32 logits (elements) per output-projection chunk: 16M floats = 64 MB.</summary>
    public const long DefaultMaxLogitElements = 16L << 20;

    /// <param name="promptSoft">Soft tokens per prompt (null entries: none), injected at their positions in the prompt
    /// as <see cref="LanguageModel.Hidden"/> takes them, before the shared KV cache is built: each continuation then
    /// reads a prompt that carries the vectors (RecInterpreter's soft tokens, any <c>inputs_embeds</c>-style input).</param>
    public static ContinuationLogProbs Score(LanguageModel lm, IReadOnlyList<int[]> prompts,
        IReadOnlyList<IReadOnlyList<int[]>> continuations, int padId, long maxLogitElements = DefaultMaxLogitElements, bool poolStates = false,
        IReadOnlyList<SoftTokens?>? promptSoft = null)
    {
        if (prompts.Count != continuations.Count) throw new ArgumentException("one continuation list per prompt");
        if (promptSoft is not null && promptSoft.Count != prompts.Count) throw new ArgumentException($"{promptSoft.Count} soft-token entries for {prompts.Count} prompts");
        if (prompts.Any(p => p.Length == 0)) throw new ArgumentException("prompts must not be empty (start them with BOS)");
        Check(lm.Config, prompts, continuations, poolStates);
        var device = lm.Device;
        using var scope = NewDisposeScope();
        int b = prompts.Count;
        var (promptIds, promptMask, promptLen) = LeftPad(prompts, padId);
        var owners = new List<long>();
        var flat = new List<int[]>();
        for (int r = 0; r < b; r++)
            foreach (var c in continuations[r])
            {
                if (c.Length == 0) throw new ArgumentException($"prompt {r} has an empty continuation");
                owners.Add(r);
                flat.Add(c);
            }
        int n = flat.Count, contLen = flat.Max(c => c.Length);
        var contIds = new long[n * contLen];
        var contMask = new long[n * contLen];
        Array.Fill(contIds, padId);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < flat[i].Length; j++)
            {
                contIds[i * contLen + j] = flat[i][j];
                contMask[i * contLen + j] = 1;
            }

        using var cache = lm.NewCache();
        // Left padding shifts each prompt's soft-token positions by its padding.
        var injected = promptSoft is null ? null
            : InjectedEmbeddings.ForRows(promptSoft, prompts.Select(p => promptLen - p.Length).ToList(), b, promptLen, device);
        var promptHidden = lm.Hidden(tensor(promptIds, [b, promptLen], device: device), tensor(promptMask, [b, promptLen], device: device), cache, injected);
        var owner = tensor(owners.ToArray(), device: device);
        using var expanded = cache.Select(owner);
        var ids = tensor(contIds, [n, contLen], device: device);
        var mask = tensor(contMask, [n, contLen], device: device);
        // Position j of a continuation is predicted from the hidden state before it, so its last token is never fed:
        // prompt + continuation − 1 positions, as Check allows (feeding it overran max_position_embeddings by one).
        var lastPrompt = promptHidden.select(1, promptLen - 1).index_select(0, owner).unsqueeze(1);   // [N, 1, D]
        // Pooled response states need every token's state, the last one's too: then the whole continuation is fed.
        var contHidden = poolStates ? lm.Hidden(ids, mask, expanded) : null;
        var predictors = contLen == 1 ? lastPrompt
            : cat([lastPrompt, contHidden?.narrow(1, 0, contLen - 1) ?? lm.Hidden(ids.narrow(1, 0, contLen - 1), mask.narrow(1, 0, contLen - 1), expanded)], 1);
        var valid = mask.reshape(-1).nonzero().squeeze(1);
        var tokenLogp = TargetLogProbs(lm, predictors.reshape(n * contLen, -1).index_select(0, valid), ids.reshape(-1).index_select(0, valid), maxLogitElements);
        var row = valid.div(contLen, rounding_mode: RoundingMode.floor);
        var sums = zeros(n, ScalarType.Float32, device: device).index_add(0, row, tokenLogp, 1.0);
        var lengths = mask.sum(1);
        var states = contHidden is null ? null : MaskedMean(contHidden, mask).MoveToOuterDisposeScope();
        return new ContinuationLogProbs(sums.MoveToOuterDisposeScope(), lengths.MoveToOuterDisposeScope(), owner.MoveToOuterDisposeScope(), states);
    }

    /// <summary>Each prompt's mean final hidden state over its tokens [B, D] (fp32, no graph): e.g. CausalDPO's
    /// environment features under the reference model.</summary>
    public static Tensor PromptStates(LanguageModel lm, IReadOnlyList<int[]> prompts, int padId)
    {
        if (prompts.Count == 0 || prompts.Any(p => p.Length == 0)) throw new ArgumentException("prompts must not be empty (start them with BOS)");
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var (ids, mask, len) = LeftPad(prompts, padId);
        var m = tensor(mask, [prompts.Count, len], device: lm.Device);
        var hidden = lm.Hidden(tensor(ids, [prompts.Count, len], device: lm.Device), m);
        return MaskedMean(hidden, m).MoveToOuterDisposeScope();
    }

    /// <summary>Mean of <paramref name="hidden"/> [N, T, D] over the positions where <paramref name="mask"/> [N, T] is 1, in fp32.</summary>
    private static Tensor MaskedMean(Tensor hidden, Tensor mask)
    {
        var w = mask.to(ScalarType.Float32).unsqueeze(2);
        return (hidden.to(ScalarType.Float32) * w).sum(dim: 1) / w.sum(dim: 1).clamp_min(1.0);
    }

    /// <summary>Every token inside the vocabulary and every prompt + continuation within max_position_embeddings: a
    /// clear error naming the prompt and candidate instead of an index error deep in libtorch.</summary>
    /// <param name="poolStates">Every continuation token is fed (for its pooled state), so prompt + continuation must
    /// fit whole; otherwise the last token is only predicted, and one position fewer is needed.</param>
    public static void Check(LanguageModelConfig config, IReadOnlyList<int[]> prompts, IReadOnlyList<IReadOnlyList<int[]>> continuations, bool poolStates = false)
    {
        int unfed = poolStates ? 0 : 1;
        int vocab = config.VocabSize, maxPos = config.MaxPositionEmbeddings;
        for (int p = 0; p < prompts.Count; p++)
        {
            foreach (var t in prompts[p])
                if ((uint)t >= (uint)vocab) throw new ArgumentException($"prompt {p} holds token {t} outside the vocabulary [0, {vocab})");
            if (continuations[p] is null || continuations[p].Count == 0) throw new ArgumentException($"prompt {p} has no candidates");
            for (int c = 0; c < continuations[p].Count; c++)
            {
                var cand = continuations[p][c];
                if (cand is null || cand.Length == 0) throw new ArgumentException($"candidate {c} of prompt {p} is empty");
                foreach (var t in cand)
                    if ((uint)t >= (uint)vocab) throw new ArgumentException($"candidate {c} of prompt {p} holds token {t} outside the vocabulary [0, {vocab})");
                if (prompts[p].Length + cand.Length - unfed > maxPos)
                    throw new ArgumentException($"prompt {p} ({prompts[p].Length} tokens) + candidate {c} ({cand.Length} tokens) exceeds max_position_embeddings ({maxPos})" +
                        (poolStates ? " with every candidate token fed (pooled response states)" : "") + "; shorten the prompt (max_prompt_tokens)");
            }
        }
    }

    /// <summary>log p(targets[m] | hidden[m]) [M] in fp32 as logit − logsumexp, through the output projection in chunks
    /// of at most <paramref name="maxLogitElements"/> logits, so a 150k vocabulary never needs an [M, V] block at once.</summary>
    public static Tensor TargetLogProbs(LanguageModel lm, Tensor hidden, Tensor targets, long maxLogitElements = DefaultMaxLogitElements)
    {
        long m = hidden.shape[0], chunk = Math.Max(1, maxLogitElements / lm.Config.VocabSize);
        if (m <= chunk) return Chunk(0, m);
        var parts = new List<Tensor>();
        for (long s = 0; s < m; s += chunk) parts.Add(Chunk(s, Math.Min(chunk, m - s)));
        return cat(parts, 0);

        Tensor Chunk(long start, long count)
        {
            using var scope = NewDisposeScope();
            var logits = lm.Logits(hidden.narrow(0, start, count)).to(ScalarType.Float32);
            var t = targets.narrow(0, start, count).unsqueeze(1);
            return (logits.gather(1, t).squeeze(1) - logits.logsumexp(1)).MoveToOuterDisposeScope();
        }
    }
}
