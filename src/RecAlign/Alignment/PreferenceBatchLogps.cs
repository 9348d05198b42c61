using static TorchSharp.torch;

namespace RecAlign.Alignment;

/// <summary>
/// Summed response log-probs of a preference batch: one chosen and K rejected responses per prompt.
/// <c>PolicyChosen</c> [B], <c>PolicyRejected</c> [B,K] ([B] is read as K=1), the reference model's values in the
/// same shapes (null for reference-free losses such as SimPO), and response token counts for length-normalised
/// losses (IPO, SimPO). Lengths are clamped to at least 1, as TRL does. <c>Weights</c> [B] (optional, TRL's
/// <c>use_weighting</c> shape) make every loss's batch mean a weighted one, mean_i w_i·ℓ_i (e.g. IFairLRS's group weights).
/// <c>Environments</c> [B, D] are the features a loss infers latent environments from (CausalDPO: the frozen
/// reference's prompt representation), <c>Representations</c> [B, R] what its invariance penalty compares across
/// environments (the policy's pooled chosen-response states, with graph); losses that need neither ignore them.
/// </summary>
public sealed record PreferenceBatchLogps(
    Tensor PolicyChosen,
    Tensor PolicyRejected,
    Tensor? RefChosen = null,
    Tensor? RefRejected = null,
    Tensor? ChosenLengths = null,
    Tensor? RejectedLengths = null,
    Tensor? Weights = null,
    Tensor? Environments = null,
    Tensor? Representations = null)
{
    public long BatchSize => PolicyChosen.shape[0];
    public long NegativeCount => PolicyRejected.dim() == 1 ? 1 : PolicyRejected.shape[1];
}

/// <summary>The batch checked and brought to one floating dtype (fp32 at least), rejected tensors as [B,K].</summary>
internal sealed record CheckedBatch(
    Tensor PolicyChosen, Tensor PolicyRejected, Tensor? RefChosen, Tensor? RefRejected,
    Tensor? ChosenLengths, Tensor? RejectedLengths, Tensor? Weights = null, Tensor? Environments = null, Tensor? Representations = null)
{
    /// <summary>mean_i w_i·ℓ_i of per-example losses [B] (the plain mean without weights).</summary>
    public Tensor WeightedMean(Tensor perExample) => Weights is null ? perExample.mean() : (perExample * Weights).mean();

    public long B => PolicyChosen.shape[0];
    public long K => PolicyRejected.shape[1];

    /// <summary>log πθ(y+) − log πref(y+) [B] (the policy value alone when no reference is given).</summary>
    public Tensor ChosenLogRatios => RefChosen is null ? PolicyChosen : PolicyChosen - RefChosen;
    public Tensor RejectedLogRatios => RefRejected is null ? PolicyRejected : PolicyRejected - RefRejected;

    public static CheckedBatch From(PreferenceBatchLogps b, string loss, bool needsReference, bool needsLengths)
    {
        var chosen = b.PolicyChosen;
        if (chosen.dim() != 1 || chosen.shape[0] == 0)
            throw Bad(loss, nameof(b.PolicyChosen), "a non-empty [B] tensor", chosen);
        long n = chosen.shape[0];
        var dtype = FloatType(chosen, loss, nameof(b.PolicyChosen));
        var rejected = AsMatrix(b.PolicyRejected, n, null, loss, nameof(b.PolicyRejected));
        long k = rejected.shape[1];
        FloatType(rejected, loss, nameof(b.PolicyRejected));

        Tensor? refChosen = null, refRejected = null;
        if (b.RefChosen is not null || b.RefRejected is not null || needsReference)
        {
            if (b.RefChosen is null || b.RefRejected is null)
                throw new ArgumentException($"{loss}: PreferenceBatchLogps.RefChosen and RefRejected are both required (this loss compares the policy with a reference model)");
            if (b.RefChosen.dim() != 1 || b.RefChosen.shape[0] != n)
                throw Bad(loss, nameof(b.RefChosen), $"shape [{n}]", b.RefChosen);
            refChosen = b.RefChosen.to(dtype);
            refRejected = AsMatrix(b.RefRejected, n, k, loss, nameof(b.RefRejected)).to(dtype);
        }

        Tensor? chosenLengths = null, rejectedLengths = null;
        if (needsLengths)
        {
            if (b.ChosenLengths is null || b.RejectedLengths is null)
                throw new ArgumentException($"{loss}: PreferenceBatchLogps.ChosenLengths and RejectedLengths are required (this loss normalises by response length)");
            if (b.ChosenLengths.dim() != 1 || b.ChosenLengths.shape[0] != n)
                throw Bad(loss, nameof(b.ChosenLengths), $"shape [{n}]", b.ChosenLengths);
            chosenLengths = b.ChosenLengths.to(dtype).clamp_min(1.0);
            rejectedLengths = AsMatrix(b.RejectedLengths, n, k, loss, nameof(b.RejectedLengths)).to(dtype).clamp_min(1.0);
        }
        Tensor? weights = null;
        if (b.Weights is not null)
        {
            if (b.Weights.dim() != 1 || b.Weights.shape[0] != n) throw Bad(loss, nameof(b.Weights), $"shape [{n}]", b.Weights);
            weights = b.Weights.to(dtype).to(chosen.device);
        }
        var environments = Rows(b.Environments, n, dtype, chosen.device, loss, nameof(b.Environments));
        var representations = Rows(b.Representations, n, dtype, chosen.device, loss, nameof(b.Representations));
        return new CheckedBatch(chosen.to(dtype), rejected.to(dtype), refChosen, refRejected, chosenLengths, rejectedLengths, weights, environments, representations);
    }

    /// <summary>An optional [B, D] per-example feature matrix (D ≥ 1) in the batch's dtype.</summary>
    private static Tensor? Rows(Tensor? t, long n, ScalarType dtype, Device device, string loss, string field)
    {
        if (t is null) return null;
        if (t.dim() != 2 || t.shape[0] != n || t.shape[1] == 0) throw Bad(loss, field, $"shape [{n}, D] with D ≥ 1", t);
        if (!t.is_floating_point()) throw new ArgumentException($"{loss}: PreferenceBatchLogps.{field} must be a floating-point tensor (got {t.dtype})");
        return t.to(dtype).to(device);
    }

    private static Tensor AsMatrix(Tensor t, long n, long? k, string loss, string field)
    {
        var m = t.dim() == 1 ? t.unsqueeze(1) : t;
        string want = k is null ? $"[{n}, K] or [{n}]" : $"[{n}, {k}]";
        if (m.dim() != 2 || m.shape[0] != n || m.shape[1] == 0 || (k is not null && m.shape[1] != k))
            throw Bad(loss, field, "shape " + want, t);
        return m;
    }

    private static ScalarType FloatType(Tensor t, string loss, string field) => t.dtype switch
    {
        ScalarType.Float64 => ScalarType.Float64,
        ScalarType.Float32 or ScalarType.BFloat16 or ScalarType.Float16 => ScalarType.Float32,
        _ => throw new ArgumentException($"{loss}: PreferenceBatchLogps.{field} must be a floating-point tensor (got {t.dtype})"),
    };

    private static ArgumentException Bad(string loss, string field, string want, Tensor got) =>
        new($"{loss}: PreferenceBatchLogps.{field} must have {want}, got [{string.Join(", ", got.shape)}]");
}
