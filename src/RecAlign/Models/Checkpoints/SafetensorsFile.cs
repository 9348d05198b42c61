using System.IO.MemoryMappedFiles;
using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace RecAlign.Models.Checkpoints;

/// <summary>One tensor's entry in a safetensors header. Offsets are relative to the start of the data section.</summary>
public sealed record SafetensorsTensorInfo(string Name, SafetensorsDType DType, long[] Shape, long Begin, long End)
{
    /// <summary>Elements of the shape; an OverflowException past int64 (the reader refuses such a header).</summary>
    public long ElementCount => Shape.Aggregate(1L, (a, b) => checked(a * b));
    public long ByteLength => End - Begin;
}

/// <summary>A memory-mapped safetensors file. Tensors are copied straight from the mapping into native tensor
/// storage, so reading never allocates managed memory proportional to the file size.</summary>
public sealed class SafetensorsFile : IDisposable
{
    /// <summary>The format's own cap on the header (100 MB), guarding against garbage length prefixes.</summary>
    public const long MaxHeaderBytes = 100_000_000;

    private readonly Dictionary<string, SafetensorsTensorInfo> _byName;
    private readonly MemoryMappedFile? _map;
    private readonly MemoryMappedViewAccessor? _view;
    private readonly unsafe byte* _base;
    private readonly long _dataStart;
    private bool _disposed;

    public string Path { get; }
    public IReadOnlyDictionary<string, string> Metadata { get; }
    /// <summary>Tensors sorted by name (ordinal).</summary>
    public IReadOnlyList<SafetensorsTensorInfo> Tensors { get; }

    private unsafe SafetensorsFile(string path, IReadOnlyDictionary<string, string> metadata,
        List<SafetensorsTensorInfo> tensors, MemoryMappedFile? map, MemoryMappedViewAccessor? view, long dataStart)
    {
        Path = path;
        Metadata = metadata;
        Tensors = tensors;
        _byName = tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
        _map = map;
        _view = view;
        _dataStart = dataStart;
        if (view is not null)
        {
            byte* p = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
            _base = p + view.PointerOffset;
        }
    }

    /// <summary>Opens and validates a safetensors file; throws <see cref="InvalidDataException"/> naming the file
    /// when it is truncated or its header is malformed.</summary>
    public static SafetensorsFile Open(string path)
    {
        var full = System.IO.Path.GetFullPath(path);
        if (!File.Exists(full)) throw new FileNotFoundException($"Safetensors file not found: {full}", full);
        long fileLength = new FileInfo(full).Length;
        if (fileLength < 8)
            throw new InvalidDataException($"{full}: file is {fileLength} bytes, too short for a safetensors header length.");

        byte[] header;
        using (var fs = new FileStream(full, FileMode.Open, FileAccess.Read, FileShare.Read))
        {
            Span<byte> lenBytes = stackalloc byte[8];
            fs.ReadExactly(lenBytes);
            ulong headerLen = BitConverter.ToUInt64(lenBytes);
            if (headerLen > MaxHeaderBytes)
                throw new InvalidDataException($"{full}: header length {headerLen} exceeds the {MaxHeaderBytes}-byte limit (corrupt file?).");
            if ((long)headerLen > fileLength - 8)
                throw new InvalidDataException($"{full}: header length {headerLen} runs past the end of the {fileLength}-byte file (truncated?).");
            header = new byte[headerLen];
            fs.ReadExactly(header);
        }

        long dataStart = 8 + header.Length;
        long dataLength = fileLength - dataStart;
        var (metadata, tensors) = ParseHeader(full, header, dataLength);

        if (dataLength == 0)
            return new SafetensorsFile(full, metadata, tensors, null, null, dataStart);
        var map = MemoryMappedFile.CreateFromFile(full, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        try
        {
            var view = map.CreateViewAccessor(0, fileLength, MemoryMappedFileAccess.Read);
            return new SafetensorsFile(full, metadata, tensors, map, view, dataStart);
        }
        catch
        {
            map.Dispose();
            throw;
        }
    }

    internal static (IReadOnlyDictionary<string, string>, List<SafetensorsTensorInfo>) ParseHeader(
        string path, byte[] header, long dataLength)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(header);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: header is not valid JSON ({RecAlign.IO.JsonErrors.Reason(e)}).", e);
        }

        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new InvalidDataException($"{path}: header must be a JSON object.");
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            var tensors = new List<SafetensorsTensorInfo>();
            var names = new HashSet<string>(StringComparer.Ordinal);
            foreach (var prop in doc.RootElement.EnumerateObject())
            {
                if (prop.Name == "__metadata__")
                {
                    if (prop.Value.ValueKind != JsonValueKind.Object)
                        throw new InvalidDataException($"{path}: __metadata__ must be an object of strings.");
                    foreach (var m in prop.Value.EnumerateObject())
                    {
                        if (m.Value.ValueKind != JsonValueKind.String)
                            throw new InvalidDataException($"{path}: __metadata__.{m.Name} must be a string.");
                        metadata[m.Name] = m.Value.GetString()!;
                    }
                    continue;
                }
                if (!names.Add(prop.Name))
                    throw new InvalidDataException($"{path}: tensor '{prop.Name}' appears twice in the header.");
                tensors.Add(ParseTensor(path, prop));
            }

            // The format requires the tensors to tile the data section exactly: no gaps, no overlaps.
            long expected = 0;
            foreach (var t in tensors.OrderBy(t => t.Begin).ThenBy(t => t.End))
            {
                if (t.Begin != expected)
                    throw new InvalidDataException(
                        $"{path}: tensor '{t.Name}' starts at data offset {t.Begin} but {expected} was expected (overlapping or non-contiguous offsets).");
                expected = t.End;
            }
            if (expected != dataLength)
                throw new InvalidDataException(expected > dataLength
                    ? $"{path}: header describes {expected} data bytes but the file holds {dataLength} (truncated file)."
                    : $"{path}: file holds {dataLength} data bytes but the header describes only {expected} (trailing garbage).");

            tensors.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
            return (metadata, tensors);
        }
    }

    private static SafetensorsTensorInfo ParseTensor(string path, JsonProperty prop)
    {
        string where = $"{path}: tensor '{prop.Name}'";
        var v = prop.Value;
        if (v.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{where}: entry must be an object.");
        if (!v.TryGetProperty("dtype", out var dtypeEl) || dtypeEl.ValueKind != JsonValueKind.String)
            throw new InvalidDataException($"{where}: missing string field 'dtype'.");
        if (!SafetensorsDTypes.TryParse(dtypeEl.GetString(), out var dtype))
            throw new InvalidDataException($"{where}: unsupported dtype '{dtypeEl.GetString()}'.");
        if (!v.TryGetProperty("shape", out var shapeEl) || shapeEl.ValueKind != JsonValueKind.Array)
            throw new InvalidDataException($"{where}: missing array field 'shape'.");
        var shape = new long[shapeEl.GetArrayLength()];
        int i = 0;
        foreach (var d in shapeEl.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out var dim) || dim < 0)
                throw new InvalidDataException($"{where}: field 'shape' must hold non-negative integers.");
            shape[i++] = dim;
        }
        if (!v.TryGetProperty("data_offsets", out var offEl) || offEl.ValueKind != JsonValueKind.Array || offEl.GetArrayLength() != 2)
            throw new InvalidDataException($"{where}: field 'data_offsets' must be [begin, end].");
        if (!offEl[0].TryGetInt64(out var begin) || !offEl[1].TryGetInt64(out var end) || begin < 0 || end < begin)
            throw new InvalidDataException($"{where}: field 'data_offsets' must be non-negative integers with begin <= end.");
        var info = new SafetensorsTensorInfo(prop.Name, dtype, shape, begin, end);
        long expectedBytes;
        try { expectedBytes = checked(info.ElementCount * SafetensorsDTypes.ElementSize(dtype)); }
        catch (OverflowException)
        {
            throw new InvalidDataException($"{where}: shape [{string.Join(",", shape)}] has more elements than any file can hold.");
        }
        if (info.ByteLength != expectedBytes)
            throw new InvalidDataException(
                $"{where}: data_offsets span {info.ByteLength} bytes but {dtype}[{string.Join(",", shape)}] needs {expectedBytes}.");
        return info;
    }

    public bool Contains(string name) => _byName.ContainsKey(name);

    public SafetensorsTensorInfo GetInfo(string name) =>
        _byName.TryGetValue(name, out var info)
            ? info
            : throw new KeyNotFoundException($"{Path}: no tensor named '{name}'.");

    /// <summary>Reads a tensor into a new CPU tensor, optionally converted to <paramref name="dtype"/>.</summary>
    public Tensor ReadTensor(string name, ScalarType? dtype = null)
    {
        var info = GetInfo(name);
        var fileType = SafetensorsDTypes.ToScalarType(info.DType);
        var raw = torch.empty(info.Shape, fileType, torch.CPU);
        try
        {
            CopyRaw(info, raw);
        }
        catch
        {
            raw.Dispose();
            throw;
        }
        if (dtype is null || dtype == fileType) return raw;
        using (raw) return raw.to_type(dtype.Value);
    }

    /// <summary>Copies a tensor into an existing tensor of the same shape (any dtype/device), without autograd.</summary>
    public void ReadInto(string name, Tensor destination)
    {
        var info = GetInfo(name);
        if (!destination.shape.SequenceEqual(info.Shape))
            throw new ArgumentException(
                $"{Path}: tensor '{name}' has shape [{string.Join(",", info.Shape)}] but the destination has [{string.Join(",", destination.shape)}].");
        using var noGrad = torch.no_grad();
        var fileType = SafetensorsDTypes.ToScalarType(info.DType);
        if (destination.dtype == fileType && destination.device_type == DeviceType.CPU && destination.is_contiguous())
        {
            CopyRaw(info, destination);
            return;
        }
        using var tmp = ReadTensor(name);
        destination.copy_(tmp);
    }

    private void CopyRaw(SafetensorsTensorInfo info, Tensor destination)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (info.ByteLength == 0) return;
        unsafe
        {
            TensorBytes.CopyInto(destination, (IntPtr)(_base + _dataStart + info.Begin), info.ByteLength);
        }
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (_view is not null)
        {
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _view.Dispose();
        }
        _map?.Dispose();
    }
}
