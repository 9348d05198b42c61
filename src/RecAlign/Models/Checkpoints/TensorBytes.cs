using TorchSharp;
using static TorchSharp.torch;

namespace RecAlign.Models.Checkpoints;

/// <summary>Raw copies between native tensor storage and unmanaged memory or streams, in chunks so no managed
/// buffer the size of a tensor is ever allocated and tensors over 2 GiB work.</summary>
internal static class TensorBytes
{
    // Tensor.bytes returns a Span, which caps a single view at int.MaxValue bytes.
    private const long ChunkBytes = 1L << 30;

    /// <summary>Copies <paramref name="byteCount"/> bytes from <paramref name="source"/> into a contiguous CPU tensor.</summary>
    public static void CopyInto(Tensor destination, IntPtr source, long byteCount)
    {
        Check(destination, byteCount);
        if (byteCount == 0) return;
        ForEachChunk(destination, (part, offset, length) =>
        {
            unsafe
            {
                new ReadOnlySpan<byte>((byte*)source + offset, checked((int)length)).CopyTo(part.bytes);
            }
        });
    }

    /// <summary>Writes the raw little-endian bytes of a contiguous CPU tensor to a stream.</summary>
    public static void WriteTo(Tensor source, Stream stream)
    {
        long byteCount = source.NumberOfElements * source.ElementSize;
        Check(source, byteCount);
        if (byteCount == 0) return;
        ForEachChunk(source, (part, _, _) => stream.Write(part.bytes));
    }

    private static void Check(Tensor t, long byteCount)
    {
        if (t.device_type != DeviceType.CPU) throw new InvalidOperationException("Tensor must be on the CPU for raw byte IO.");
        if (!t.is_contiguous()) throw new InvalidOperationException("Tensor must be contiguous for raw byte IO.");
        if (t.NumberOfElements * t.ElementSize != byteCount)
            throw new ArgumentException($"Byte count {byteCount} does not match tensor size {t.NumberOfElements * t.ElementSize}.");
    }

    private static void ForEachChunk(Tensor t, Action<Tensor, long, long> action)
    {
        long elementSize = t.ElementSize;
        long total = t.NumberOfElements;
        if (total * elementSize <= ChunkBytes)
        {
            action(t, 0, total * elementSize);
            return;
        }
        using var flat = t.view(-1);
        long perChunk = ChunkBytes / elementSize;
        for (long start = 0; start < total; start += perChunk)
        {
            long count = Math.Min(perChunk, total - start);
            using var part = flat.narrow(0, start, count);
            action(part, start * elementSize, count * elementSize);
        }
    }
}
