using TorchSharp;

namespace RecAlign.Numerics;

/// <summary>
/// Scalar constants for hot paths. A TorchSharp <see cref="Scalar"/> made by implicit conversion (e.g.
/// <c>t.masked_fill(mask, float.NegativeInfinity)</c>) is freed by its finalizer, and the TorchSharp method that hands
/// its handle to libtorch does not keep it alive during the native call (0.107): a garbage collection at that moment
/// frees it under libtorch, which then fails with "toFloat ... Expected false to be true" or "alpha must not be a
/// floating point number" (seen here after thousands of steps). Scalars held in static fields are never collected.
/// </summary>
public static class Scalars
{
    public static readonly Scalar NegativeInfinity = double.NegativeInfinity.ToScalar();
}
