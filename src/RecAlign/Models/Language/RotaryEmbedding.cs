using RecAlign.Numerics;
using TorchSharp;
using static TorchSharp.torch;

namespace RecAlign.Models.Language;

/// <summary>
/// Rotary position embeddings in HuggingFace layout (rotate_half pairs dimension i with i + d/2):
/// x' = x·cos + rotate_half(x)·sin, where rotate_half(x) = [−x₂, x₁]. We precompute sin with the sign of rotate_half
/// folded in, so rotate_half becomes one roll: rotate_half(x)·sin = roll(x, d/2)·signedSin.
/// </summary>
public sealed class RotaryEmbedding : IDisposable
{
    private readonly Tensor _cos;       // [maxPos, headDim] fp32
    private readonly Tensor _signedSin; // [maxPos, headDim] fp32
    private readonly Dictionary<(ScalarType, DeviceType, int), (Tensor Cos, Tensor Sin)> _cast = new();
    public int HeadDim { get; }
    public int MaxPositions { get; }

    public RotaryEmbedding(int headDim, int maxPositions, double theta, RopeScaling? scaling = null)
    {
        HeadDim = headDim;
        MaxPositions = maxPositions;
        var invFreq = InverseFrequencies(headDim, theta, scaling);
        using var scope = NewDisposeScope();
        var t = arange(maxPositions, dtype: ScalarType.Float64);
        var freqs = outer(t, invFreq);                       // [P, d/2]
        var emb = cat([freqs, freqs], -1);                   // [P, d]
        var sign = cat([full(headDim / 2, -1.0, dtype: ScalarType.Float64), ones(headDim / 2, dtype: ScalarType.Float64)]);
        _cos = emb.cos().to(ScalarType.Float32).DetachFromDisposeScope();
        _signedSin = (emb.sin() * sign).to(ScalarType.Float32).DetachFromDisposeScope();
    }

    /// <summary>Inverse frequencies θ^(−2i/d), with Llama-3's band-wise scaling when configured.</summary>
    public static Tensor InverseFrequencies(int headDim, double theta, RopeScaling? scaling)
    {
        var inv = new double[headDim / 2];
        for (int i = 0; i < inv.Length; i++)
        {
            double f = 1.0 / Math.Pow(theta, 2.0 * i / headDim);
            if (scaling is { } s)
            {
                double lowWavelen = s.OriginalMaxPositionEmbeddings / s.LowFreqFactor;
                double highWavelen = s.OriginalMaxPositionEmbeddings / s.HighFreqFactor;
                double wavelen = 2 * Math.PI / f;
                if (wavelen > lowWavelen) f /= s.Factor;
                else if (wavelen >= highWavelen)
                {
                    double smooth = (s.OriginalMaxPositionEmbeddings / wavelen - s.LowFreqFactor) / (s.HighFreqFactor - s.LowFreqFactor);
                    f = (1 - smooth) * f / s.Factor + smooth * f;
                }
            }
            inv[i] = f;
        }
        return tensor(inv, dtype: ScalarType.Float64);
    }

    /// <summary>cos and signed sin for the given positions, shaped [B, 1, T, d] for broadcasting over heads.</summary>
    public (Tensor Cos, Tensor Sin) ForPositions(Tensor positionIds, ScalarType dtype)
    {
        var (cosTable, sinTable) = Tables(dtype, positionIds.device);
        if (positionIds.numel() > 0 && positionIds.max().item<long>() >= MaxPositions)
            throw new ArgumentException($"position {positionIds.max().item<long>()} exceeds max_position_embeddings ({MaxPositions})");
        var flat = positionIds.reshape(-1);
        var shape = new long[] { positionIds.shape[0], 1, positionIds.shape[1], HeadDim };
        return (cosTable.index_select(0, flat).reshape(shape), sinTable.index_select(0, flat).reshape(shape));
    }

    /// <summary>Contiguous positions start..start+T−1 shared by the whole batch: a slice, no gather.</summary>
    public (Tensor Cos, Tensor Sin) ForRange(long start, long length, ScalarType dtype, Device device)
    {
        if (start + length > MaxPositions)
            throw new ArgumentException($"position {start + length - 1} exceeds max_position_embeddings ({MaxPositions})");
        var (cosTable, sinTable) = Tables(dtype, device);
        return (cosTable.narrow(0, start, length).view(1, 1, length, HeadDim), sinTable.narrow(0, start, length).view(1, 1, length, HeadDim));
    }

    public static Tensor Apply(Tensor x, Tensor cos, Tensor signedSin) => (x * cos).Plus(x.roll(x.shape[^1] / 2, -1) * signedSin);

    private (Tensor, Tensor) Tables(ScalarType dtype, Device device)
    {
        var key = (dtype, device.type, device.index);
        if (!_cast.TryGetValue(key, out var t))
        {
            using var scope = NewDisposeScope();
            // Always a fresh copy, so disposing the cache never disposes the fp32 master tables.
            t = (_cos.to(device).to(dtype).clone().DetachFromDisposeScope(), _signedSin.to(device).to(dtype).clone().DetachFromDisposeScope());
            _cast[key] = t;
        }
        return t;
    }

    public void Dispose()
    {
        _cos.Dispose();
        _signedSin.Dispose();
        foreach (var (c, s) in _cast.Values) { c.Dispose(); s.Dispose(); }
        _cast.Clear();
    }
}
