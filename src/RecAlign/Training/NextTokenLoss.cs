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

    /// <summary><paramref name="targets"/>[b, t] is the token expected after inputIds[b, t] (already shifted), or
    /// <see cref="IgnoreIndex"/>. Batches are right-padded; padding positions must carry IgnoreIndex.</summary>
    public static Tensor Compute(LanguageModel lm, Tensor inputIds, Tensor targets)
    {
        using var scope = NewDisposeScope();
        var hidden = lm.Hidden(inputIds);
        var flatHidden = hidden.view(-1, hidden.shape[^1]);
        var flatTargets = targets.reshape(-1);
        var positions = (flatTargets != IgnoreIndex).nonzero().squeeze(1);
        var logits = lm.Logits(flatHidden.index_select(0, positions)).to(ScalarType.Float32);
        var loss = nn.functional.cross_entropy(logits, flatTargets.index_select(0, positions));
        return loss.MoveToOuterDisposeScope();
    }

    /// <summary>Shifts a right-padded batch for LM training: targets[t] = ids[t+1]; the last position and every
    /// position whose next token is padding (mask 0) get <see cref="IgnoreIndex"/>.</summary>
    public static Tensor ShiftTargets(Tensor ids, Tensor mask)
    {
        using var scope = NewDisposeScope();
        long b = ids.shape[0];
        var next = cat([ids.narrow(1, 1, ids.shape[1] - 1), full(new long[] { b, 1 }, IgnoreIndex, ScalarType.Int64, device: ids.device)], 1);
        var nextMask = cat([mask.narrow(1, 1, mask.shape[1] - 1), zeros(new long[] { b, 1 }, mask.dtype, device: ids.device)], 1);
        return next.masked_fill(nextMask == 0, IgnoreIndex).MoveToOuterDisposeScope();
    }
}
