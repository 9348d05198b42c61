using TorchSharp;
using static TorchSharp.torch;

namespace RecAlign.Numerics;

/// <summary>
/// Tensor operations taking a number, with the number's <see cref="Scalar"/> kept alive through the native call and
/// freed right after. TorchSharp turns a number into a Scalar whose finalizer frees it, and the method that hands its
/// handle to libtorch does not keep it alive during the call (0.107; dotnet/TorchSharp PRs 1434 and 1496): a garbage
/// collection at that moment frees it under libtorch, which then fails with "toFloat ... Expected false to be true" or
/// "alpha must not be a floating point number" (seen here after thousands of steps).
/// </summary>
public static class Scalars
{
    /// <summary>1 as a Scalar that is never collected: the alpha of additions on the hot paths.</summary>
    public static readonly Scalar One = 1L.ToScalar();

    private static readonly Scalar MinusOne = (-1L).ToScalar();

    /// <summary><c>t.masked_fill(mask, value)</c> with an integer fill (int64 tensors: ids, labels).</summary>
    public static Tensor MaskedFill(this Tensor t, Tensor mask, long value)
    {
        using var s = value.ToScalar();
        return t.masked_fill(mask, s);
    }

    /// <summary><c>a + b</c> with its alpha (1) kept alive through the native call: the operator's implicit alpha is
    /// exposed to the race above (seen on int64 position arithmetic in candidate scoring after hours of runs).</summary>
    public static Tensor Plus(this Tensor a, Tensor b) => a.add(b, One);

    /// <summary><c>a + value</c> (floating point), value and alpha kept alive through the native call.</summary>
    public static Tensor Plus(this Tensor a, double value)
    {
        using var s = value.ToScalar();
        return a.add(s, One);
    }

    /// <summary><c>a * value</c>, value kept alive through the native call.</summary>
    public static Tensor Times(this Tensor a, double value)
    {
        using var s = value.ToScalar();
        return a.mul(s);
    }

    /// <summary><c>a + value</c> (integer tensors: ids, positions), value and alpha kept alive through the native call.</summary>
    public static Tensor Plus(this Tensor a, long value)
    {
        using var s = value.ToScalar();
        return a.add(s, One);
    }

    /// <summary><c>t²</c> as t·t: TorchSharp's <c>square()</c> is <c>pow(2)</c> with an implicit Scalar (seen failing in
    /// RMSNorm with "Unknown scalar type" on the loaded machine).</summary>
    public static Tensor Squared(this Tensor t) => t.mul(t);

    /// <summary><c>a - b</c> (as a + (−1)·b) with its alpha kept alive through the native call.</summary>
    public static Tensor Minus(this Tensor a, Tensor b) => a.add(b, MinusOne);

    /// <summary><c>t.clamp_min(value)</c>, value kept alive through the native call.</summary>
    public static Tensor ClampMin(this Tensor t, long value)
    {
        using var s = value.ToScalar();
        return t.clamp_min(s);
    }

    /// <summary><c>t.masked_fill(mask, value)</c> with a floating-point fill (scores: ±∞, 0).</summary>
    public static Tensor MaskedFill(this Tensor t, Tensor mask, double value)
    {
        using var s = value.ToScalar();
        return t.masked_fill(mask, s);
    }
}
