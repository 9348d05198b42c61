using System.Text;
using System.Text.Json.Nodes;
using RecAlign.Models.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace RecAlign.Tests.Checkpoints;

public sealed class SafetensorsTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "recalign-st-" + Guid.NewGuid().ToString("N"));

    public SafetensorsTests() => Directory.CreateDirectory(_dir);

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private static byte[] Bytes(Tensor t) => t.contiguous().bytes.ToArray();

    [Theory]
    [InlineData(ScalarType.Float32)]
    [InlineData(ScalarType.Float16)]
    [InlineData(ScalarType.BFloat16)]
    [InlineData(ScalarType.Int64)]
    [InlineData(ScalarType.Int32)]
    public void RoundTripKeepsExactBytesAndShape(ScalarType dtype)
    {
        using var gen = new Generator(1234);
        using var src = (torch.randn([3, 5, 2], generator: gen) * 7).to_type(dtype);
        using var scalar = torch.tensor(2.5f).to_type(dtype);
        using var empty = torch.zeros([0, 4], dtype);
        var path = Path.Combine(_dir, "x.safetensors");
        SafetensorsWriter.Write(path, new Dictionary<string, Tensor> { ["w"] = src, ["s"] = scalar, ["e"] = empty });

        using var f = SafetensorsFile.Open(path);
        Assert.Equal(["e", "s", "w"], f.Tensors.Select(t => t.Name));
        using var back = f.ReadTensor("w");
        Assert.Equal(dtype, back.dtype);
        Assert.Equal(src.shape, back.shape);
        Assert.Equal(Bytes(src), Bytes(back));
        using var s = f.ReadTensor("s");
        Assert.Empty(s.shape);
        Assert.Equal(Bytes(scalar), Bytes(s));
        using var e = f.ReadTensor("e");
        Assert.Equal([0L, 4L], e.shape);
    }

    [Fact]
    public void FloatValuesSurviveHalfAndBFloatExactly()
    {
        // Values exactly representable in both 16-bit formats.
        float[] values = [1f, -2.5f, 0.15625f, 1024f, -0.0078125f, 0f];
        foreach (var dtype in new[] { ScalarType.Float16, ScalarType.BFloat16 })
        {
            using var t = torch.tensor(values).to_type(dtype);
            var path = Path.Combine(_dir, $"{dtype}.safetensors");
            SafetensorsWriter.Write(path, new Dictionary<string, Tensor> { ["t"] = t });
            using var f = SafetensorsFile.Open(path);
            using var back = f.ReadTensor("t", ScalarType.Float32);
            Assert.Equal(values, back.data<float>().ToArray());
        }
    }

    [Fact]
    public void HeaderLayoutMatchesTheSpecByteForByte()
    {
        using var t = torch.tensor(new[] { 1f, 2f });
        var path = Path.Combine(_dir, "tiny.safetensors");
        SafetensorsWriter.Write(path, new Dictionary<string, Tensor> { ["a"] = t });

        const string json = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}"; // 54 bytes
        var expected = new List<byte>();
        expected.AddRange([56, 0, 0, 0, 0, 0, 0, 0]); // header length, u64 little-endian, padded to 8
        expected.AddRange(Encoding.UTF8.GetBytes(json));
        expected.AddRange([(byte)' ', (byte)' ']);
        expected.AddRange([0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0x40]); // 1.0f, 2.0f little-endian
        Assert.Equal(54, json.Length);
        Assert.Equal(expected.ToArray(), File.ReadAllBytes(path));
    }

    [Fact]
    public void HeaderPutsMetadataFirstAndOrdersDataByAlignmentThenName()
    {
        using var a = torch.tensor(new[] { 1f }).to_type(ScalarType.BFloat16);
        using var z = torch.tensor(new[] { 3f });
        var header = SafetensorsWriter.BuildHeader(
            SafetensorsWriter.Plan(new Dictionary<string, Tensor> { ["a"] = a, ["z"] = z }, null)
                .Select(e => (e.Name, e.DType, e.Shape)).ToList(),
            new Dictionary<string, string> { ["format"] = "pt" });
        const string json = "{\"__metadata__\":{\"format\":\"pt\"},"
            + "\"z\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
            + "\"a\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[4,6]}}";
        int padded = (json.Length + 7) / 8 * 8;
        Assert.Equal((ulong)padded, BitConverter.ToUInt64(header, 0));
        Assert.Equal(json + new string(' ', padded - json.Length), Encoding.UTF8.GetString(header, 8, header.Length - 8));
    }

    [Fact]
    public void ReadsMetadataAndConvertsDType()
    {
        using var t = torch.tensor(new[] { 0.5f, -1f, 4f });
        var path = Path.Combine(_dir, "m.safetensors");
        SafetensorsWriter.Write(path, new Dictionary<string, Tensor> { ["t"] = t },
            new Dictionary<string, string> { ["format"] = "pt", ["note"] = "hi \"there\"" }, floatDType: ScalarType.BFloat16);
        using var f = SafetensorsFile.Open(path);
        Assert.Equal("hi \"there\"", f.Metadata["note"]);
        Assert.Equal(SafetensorsDType.BF16, f.GetInfo("t").DType);
        using var back = f.ReadTensor("t", ScalarType.Float64);
        Assert.Equal([0.5, -1, 4], back.data<double>().ToArray());
        using var dest = torch.zeros(3).t();
        f.ReadInto("t", dest);
        Assert.Equal([0.5f, -1f, 4f], dest.data<float>().ToArray());
    }

    [Fact]
    public void LargeTensorsMoveWithoutManagedCopies()
    {
        // 16 MiB of data; reading and writing must not allocate managed buffers of that size.
        using var big = torch.arange(4L << 20, dtype: ScalarType.Float32);
        var path = Path.Combine(_dir, "big.safetensors");
        long before = GC.GetAllocatedBytesForCurrentThread();
        SafetensorsWriter.Write(path, new Dictionary<string, Tensor> { ["big"] = big });
        long written = GC.GetAllocatedBytesForCurrentThread() - before;

        before = GC.GetAllocatedBytesForCurrentThread();
        using (var f = SafetensorsFile.Open(path))
        using (var back = f.ReadTensor("big"))
        {
            long read = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.True(written < 1 << 20, $"write allocated {written} managed bytes");
            Assert.True(read < 1 << 20, $"read allocated {read} managed bytes");
            Assert.Equal((4L << 20) - 1, back[-1].item<float>());
        }
    }

    [Fact]
    public void TruncatedFileGivesClearErrorNamingTheFile()
    {
        using var t = torch.ones(10);
        var path = Path.Combine(_dir, "trunc.safetensors");
        SafetensorsWriter.Write(path, new Dictionary<string, Tensor> { ["t"] = t });
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..^3]);
        var e = Assert.Throws<InvalidDataException>(() => SafetensorsFile.Open(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("truncated", e.Message);
    }

    [Fact]
    public void CorruptHeaderGivesClearErrors()
    {
        var path = Path.Combine(_dir, "bad.safetensors");
        File.WriteAllBytes(path, [1, 2, 3]);
        Assert.Contains(path, Assert.Throws<InvalidDataException>(() => SafetensorsFile.Open(path)).Message);

        File.WriteAllBytes(path, [.. BitConverter.GetBytes(1_000_000_000_000UL), .. new byte[16]]);
        Assert.Contains("exceeds", Assert.Throws<InvalidDataException>(() => SafetensorsFile.Open(path)).Message);

        var junk = Encoding.UTF8.GetBytes("{not json}");
        File.WriteAllBytes(path, [.. BitConverter.GetBytes((ulong)junk.Length), .. junk]);
        var e = Assert.Throws<InvalidDataException>(() => SafetensorsFile.Open(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("JSON", e.Message);

        var wrongSize = Encoding.UTF8.GetBytes("{\"t\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}");
        File.WriteAllBytes(path, [.. BitConverter.GetBytes((ulong)wrongSize.Length), .. wrongSize, .. new byte[8]]);
        e = Assert.Throws<InvalidDataException>(() => SafetensorsFile.Open(path));
        Assert.Contains("'t'", e.Message);
        Assert.Contains("needs 12", e.Message);

        var twice = Encoding.UTF8.GetBytes("{\"t\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},\"t\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}");
        File.WriteAllBytes(path, [.. BitConverter.GetBytes((ulong)twice.Length), .. twice, 0, 0]);
        Assert.Contains("appears twice", Assert.Throws<InvalidDataException>(() => SafetensorsFile.Open(path)).Message);

        var badType = Encoding.UTF8.GetBytes("{\"t\":{\"dtype\":\"F8_E4M3\",\"shape\":[1],\"data_offsets\":[0,1]}}");
        File.WriteAllBytes(path, [.. BitConverter.GetBytes((ulong)badType.Length), .. badType, 0]);
        Assert.Contains("unsupported dtype", Assert.Throws<InvalidDataException>(() => SafetensorsFile.Open(path)).Message);
    }

    [Fact]
    public void ShardedRoundTripWritesIndexAndReadsBack()
    {
        using var a = torch.arange(10, dtype: ScalarType.Float32);  // 40 bytes
        using var b = torch.arange(10, 20, dtype: ScalarType.Float32);
        using var c = torch.arange(20, 30, dtype: ScalarType.Float32);
        var tensors = new List<KeyValuePair<string, Tensor>> { new("a", a), new("b", b), new("c", c) };
        var files = SafetensorsCheckpoint.Write(_dir, tensors, maxShardBytes: 100);
        Assert.Equal(["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors", "model.safetensors.index.json"], files);

        var index = JsonNode.Parse(File.ReadAllText(Path.Combine(_dir, "model.safetensors.index.json")))!;
        Assert.Equal(120, (long)index["metadata"]!["total_size"]!);
        Assert.Equal("model-00001-of-00002.safetensors", (string)index["weight_map"]!["b"]!);
        Assert.Equal("model-00002-of-00002.safetensors", (string)index["weight_map"]!["c"]!);

        using var ckpt = SafetensorsCheckpoint.Open(_dir);
        Assert.Equal(["a", "b", "c"], ckpt.TensorNames);
        Assert.Equal(2, ckpt.FilePaths.Count);
        using var c2 = ckpt.ReadTensor("c");
        Assert.Equal(c.data<float>().ToArray(), c2.data<float>().ToArray());
    }

    [Fact]
    public void UnderLimitWritesSingleFile()
    {
        using var a = torch.ones(4);
        var files = SafetensorsCheckpoint.Write(_dir, [new("a", a)], maxShardBytes: 1000);
        Assert.Equal(["model.safetensors"], files);
        Assert.False(File.Exists(Path.Combine(_dir, "model.safetensors.index.json")));
    }

    [Fact]
    public void IndexPointingAtMissingShardIsReported()
    {
        File.WriteAllText(Path.Combine(_dir, "model.safetensors.index.json"),
            "{\"metadata\":{\"total_size\":4},\"weight_map\":{\"a\":\"model-00001-of-00001.safetensors\"}}");
        var e = Assert.Throws<FileNotFoundException>(() => SafetensorsCheckpoint.Open(_dir));
        Assert.Contains("model-00001-of-00001.safetensors", e.Message);
    }
}
