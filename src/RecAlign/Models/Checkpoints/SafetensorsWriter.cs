using System.Globalization;
using System.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace RecAlign.Models.Checkpoints;

/// <summary>Writes safetensors files byte-compatible with HuggingFace's <c>safetensors</c> crate: data ordered by
/// descending dtype alignment then name, compact JSON header with <c>__metadata__</c> first, padded with spaces to
/// a multiple of 8 bytes.</summary>
public static class SafetensorsWriter
{
    /// <summary>Writes <paramref name="tensors"/> to <paramref name="path"/> atomically (temp file, then rename).
    /// Floating tensors are cast to <paramref name="floatDType"/> when given; integer tensors keep their type.</summary>
    public static void Write(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors,
        IReadOnlyDictionary<string, string>? metadata = null, ScalarType? floatDType = null)
    {
        var entries = Plan(tensors, floatDType);
        var header = BuildHeader(entries.Select(e => (e.Name, e.DType, e.Shape)).ToList(), metadata);
        var full = Path.GetFullPath(path);
        var dir = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(dir);
        var tmp = Path.Combine(dir, $".{Path.GetFileName(full)}.tmp-{Guid.NewGuid():N}");
        try
        {
            using (var fs = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                fs.Write(header);
                foreach (var e in entries)
                {
                    using var scope = torch.NewDisposeScope();
                    var t = e.Source.detach();
                    var target = SafetensorsDTypes.ToScalarType(e.DType);
                    if (t.dtype != target) t = t.to_type(target);
                    if (t.device_type != DeviceType.CPU) t = t.cpu();
                    if (!t.is_contiguous()) t = t.contiguous();
                    TensorBytes.WriteTo(t, fs);
                }
                fs.Flush(flushToDisk: true);
            }
            File.Move(tmp, full, overwrite: true);
        }
        catch
        {
            try { File.Delete(tmp); } catch (IOException) { }
            throw;
        }
    }

    /// <summary>Bytes the data section of a file with these tensors would take (for shard planning).</summary>
    public static long DataBytes(Tensor t, ScalarType? floatDType = null) =>
        t.NumberOfElements * SafetensorsDTypes.ElementSize(TargetDType(t, floatDType));

    internal sealed record Entry(string Name, SafetensorsDType DType, long[] Shape, Tensor Source);

    internal static List<Entry> Plan(IEnumerable<KeyValuePair<string, Tensor>> tensors, ScalarType? floatDType)
    {
        var entries = new List<Entry>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, t) in tensors)
        {
            if (name == "__metadata__") throw new ArgumentException("'__metadata__' is reserved and cannot name a tensor.");
            if (!seen.Add(name)) throw new ArgumentException($"Duplicate tensor name '{name}'.");
            entries.Add(new Entry(name, TargetDType(t, floatDType), t.shape, t));
        }
        entries.Sort(CompareLayout);
        return entries;
    }

    private static SafetensorsDType TargetDType(Tensor t, ScalarType? floatDType) =>
        SafetensorsDTypes.FromScalarType(floatDType is { } f && SafetensorsDTypes.IsFloating(t.dtype) ? f : t.dtype);

    // The crate's Dtype enum order (increasing alignment); data is laid out by descending rank, then name.
    private static int AlignmentRank(SafetensorsDType d) => d switch
    {
        SafetensorsDType.BOOL => 0,
        SafetensorsDType.U8 => 1,
        SafetensorsDType.I8 => 2,
        SafetensorsDType.I16 => 5,
        SafetensorsDType.F16 => 7,
        SafetensorsDType.BF16 => 8,
        SafetensorsDType.I32 => 9,
        SafetensorsDType.F32 => 11,
        SafetensorsDType.F64 => 12,
        SafetensorsDType.I64 => 13,
        _ => throw new ArgumentOutOfRangeException(nameof(d)),
    };

    private static int CompareLayout(Entry a, Entry b)
    {
        int c = AlignmentRank(b.DType).CompareTo(AlignmentRank(a.DType));
        return c != 0 ? c : string.CompareOrdinal(a.Name, b.Name);
    }

    /// <summary>The 8-byte length prefix plus padded JSON header for tensors given in data order.</summary>
    internal static byte[] BuildHeader(IReadOnlyList<(string Name, SafetensorsDType DType, long[] Shape)> ordered,
        IReadOnlyDictionary<string, string>? metadata)
    {
        var sb = new StringBuilder();
        sb.Append('{');
        bool first = true;
        if (metadata is not null)
        {
            sb.Append("\"__metadata__\":{");
            bool firstMeta = true;
            foreach (var (k, v) in metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            {
                if (!firstMeta) sb.Append(',');
                firstMeta = false;
                AppendString(sb, k);
                sb.Append(':');
                AppendString(sb, v);
            }
            sb.Append('}');
            first = false;
        }
        long offset = 0;
        foreach (var (name, dtype, shape) in ordered)
        {
            if (!first) sb.Append(',');
            first = false;
            long bytes = shape.Aggregate(1L, (a, b) => a * b) * SafetensorsDTypes.ElementSize(dtype);
            AppendString(sb, name);
            sb.Append(":{\"dtype\":\"").Append(SafetensorsDTypes.ToName(dtype)).Append("\",\"shape\":[");
            sb.Append(string.Join(",", shape.Select(d => d.ToString(CultureInfo.InvariantCulture))));
            sb.Append("],\"data_offsets\":[").Append(offset.ToString(CultureInfo.InvariantCulture)).Append(',');
            offset += bytes;
            sb.Append(offset.ToString(CultureInfo.InvariantCulture)).Append("]}");
        }
        sb.Append('}');

        var json = Encoding.UTF8.GetBytes(sb.ToString());
        int padded = (json.Length + 7) / 8 * 8;
        var result = new byte[8 + padded];
        BitConverter.TryWriteBytes(result.AsSpan(0, 8), (ulong)padded);
        json.CopyTo(result, 8);
        result.AsSpan(8 + json.Length).Fill((byte)' ');
        return result;
    }

    // serde_json's escaping: quote, backslash and control characters only; everything else raw UTF-8.
    private static void AppendString(StringBuilder sb, string s)
    {
        sb.Append('"');
        foreach (char c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\b': sb.Append("\\b"); break;
                case '\f': sb.Append("\\f"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                default:
                    if (c < 0x20) sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    else sb.Append(c);
                    break;
            }
        }
        sb.Append('"');
    }
}
