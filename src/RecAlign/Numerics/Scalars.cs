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
    /// <summary><c>t.masked_fill(mask, value)</c> with an integer fill (int64 tensors: ids, labels).</summary>
    public static Tensor MaskedFill(this Tensor t, Tensor mask, long value)
    {
        using var s = value.ToScalar();
        return t.masked_fill(mask, s);
    }

    /// <summary><c>t.masked_fill(mask, value)</c> with a floating-point fill (scores: ±∞, 0).</summary>
    public static Tensor MaskedFill(this Tensor t, Tensor mask, double value)
    {
        using var s = value.ToScalar();
        return t.masked_fill(mask, s);
    }
}
