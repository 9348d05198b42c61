using static TorchSharp.torch;

namespace RecAlign.Models.Language;

/// <summary>
/// Per-example input vectors that replace token embeddings at chosen positions (HuggingFace's <c>inputs_embeds</c>
/// idea): the model embeds the ids as always, then every position where <see cref="Mask"/> [B, T] is true takes the
/// row of <see cref="Vectors"/> [B, T, D] instead. The ids at those positions are placeholders (any valid id); what
/// enters the decoder there is the given vector, differentiable in whatever produced it. Used for soft tokens that are
/// a function of the example rather than of a token id (RecInterpreter's adapter output); an id-based replacement is
/// <see cref="HybridItemEmbedder"/>.
/// </summary>
public sealed record InjectedEmbeddings(Tensor Mask, Tensor Vectors)
{
    /// <summary><paramref name="embeddings"/> [B, T, D] with the masked positions replaced (vectors cast to its dtype).</summary>
    public Tensor Apply(Tensor embeddings)
    {
        if (!Mask.shape.SequenceEqual(embeddings.shape[..2]) || !Vectors.shape.SequenceEqual(embeddings.shape))
            throw new ArgumentException($"injected embeddings: mask [{string.Join(", ", Mask.shape)}] and vectors [{string.Join(", ", Vectors.shape)}] " +
                $"do not fit the input embeddings [{string.Join(", ", embeddings.shape)}]");
        return where(Mask.to(ScalarType.Bool).unsqueeze(-1), Vectors.to(embeddings.dtype), embeddings);
    }

    /// <summary>
    /// The injection for a [<paramref name="batch"/>, <paramref name="length"/>] id batch from soft tokens given per row:
    /// row r's tokens sit at <see cref="SoftTokens.Positions"/> shifted by <paramref name="offsets"/>[r] (the row's
    /// left padding; 0 for right-padded batches). Rows with null soft tokens get none. Null when no row has any.
    /// </summary>
    public static InjectedEmbeddings? ForRows(IReadOnlyList<SoftTokens?> soft, IReadOnlyList<int> offsets, long batch, long length, Device device)
    {
        if (soft.Count != batch || offsets.Count != batch)
            throw new ArgumentException($"{soft.Count} soft-token entries and {offsets.Count} offsets for a batch of {batch} rows");
        var flat = new List<long>();
        var parts = new List<Tensor>();
        long dim = -1;
        for (int r = 0; r < soft.Count; r++)
        {
            if (soft[r] is not { } s || s.Positions.Length == 0) continue;
            if (s.Vectors.dim() != 2 || s.Vectors.shape[0] != s.Positions.Length)
                throw new ArgumentException($"row {r}: {s.Positions.Length} soft-token positions but vectors of shape [{string.Join(", ", s.Vectors.shape)}] (expected [{s.Positions.Length}, D])");
            if (dim >= 0 && s.Vectors.shape[1] != dim) throw new ArgumentException($"row {r}: soft tokens of width {s.Vectors.shape[1]}, others {dim}");
            dim = s.Vectors.shape[1];
            foreach (var p in s.Positions)
            {
                long at = offsets[r] + p;
                if (p < 0 || at >= length) throw new ArgumentException($"row {r}: soft-token position {p} lies outside the row (length {length - offsets[r]})");
                flat.Add(r * length + at);
            }
            parts.Add(s.Vectors);
        }
        if (flat.Count == 0) return null;
        if (flat.Distinct().Count() != flat.Count) throw new ArgumentException("two soft tokens share a position");
        using var scope = NewDisposeScope();
        var index = tensor(flat.ToArray(), device: device);
        var packed = cat(parts.Select(p => p.to(device)).ToList(), 0);
        var vectors = zeros([batch * length, dim], packed.dtype, device: device).index_copy(0, index, packed).view(batch, length, dim);
        var mask = zeros([batch * length], ScalarType.Bool, device: device).index_fill(0, index, true).view(batch, length);
        return new InjectedEmbeddings(mask.MoveToOuterDisposeScope(), vectors.MoveToOuterDisposeScope());
    }
}

/// <summary>Soft tokens of one prompt: the vectors [k, D] that enter at its token positions <see cref="Positions"/>
/// (counted in the unpadded prompt).</summary>
public sealed record SoftTokens(int[] Positions, Tensor Vectors);
