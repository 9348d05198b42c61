using RecAlign.Models.Checkpoints;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RecAlign.Tests.Checkpoints;

public sealed class CheckpointIOTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "recalign-ckpt-" + Guid.NewGuid().ToString("N"));
    private string Dir => Path.Combine(_root, "ckpt");

    public CheckpointIOTests() => Directory.CreateDirectory(_root);

    public void Dispose()
    {
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { }
    }

    private sealed class Tiny : nn.Module
    {
#pragma warning disable IDE1006 // snake_case names match HF keys
        private readonly Linear q_proj;
        private readonly LayerNorm norm;
#pragma warning restore IDE1006

        public Tiny(int inDim = 4, int outDim = 3, bool withStep = true) : base("tiny")
        {
            q_proj = nn.Linear(inDim, outDim);
            norm = nn.LayerNorm(outDim);
            if (withStep) register_buffer("step", torch.tensor(new long[] { 7 }));
            RegisterComponents();
        }

        public Tensor Weight => q_proj.weight!;
    }

    private static float[] Values(Tensor t) => t.detach().to_type(ScalarType.Float32).contiguous().data<float>().ToArray();

    [Fact]
    public void SaveThenLoadRestoresEveryTensorByName()
    {
        torch.manual_seed(1);
        using var src = new Tiny();
        CheckpointIO.Save(src, Dir, new CheckpointSaveOptions
        {
            JsonFiles = new Dictionary<string, string> { ["config.json"] = "{\"hidden_size\":4}" },
        });
        Assert.True(File.Exists(Path.Combine(Dir, "model.safetensors")));
        Assert.Equal("{\"hidden_size\":4}", File.ReadAllText(Path.Combine(Dir, "config.json")));

        torch.manual_seed(2);
        using var dst = new Tiny();
        var report = CheckpointIO.Load(dst, Dir);
        Assert.Empty(report.Missing);
        Assert.Empty(report.Unexpected);
        Assert.Equal(src.state_dict().Keys.OrderBy(k => k, StringComparer.Ordinal), report.Loaded.OrderBy(k => k, StringComparer.Ordinal));
        foreach (var (name, t) in src.state_dict())
            Assert.Equal(Values(t), Values(dst.state_dict()[name]));
        Assert.True(dst.Weight.requires_grad);
    }

    [Fact]
    public void SavedDTypeIsConvertedToModuleDTypeOnLoad()
    {
        torch.manual_seed(3);
        using var src = new Tiny();
        CheckpointIO.Save(src, Dir, new CheckpointSaveOptions { DType = ScalarType.BFloat16 });
        using (var ckpt = SafetensorsCheckpoint.Open(Dir))
        {
            Assert.Equal(SafetensorsDType.BF16, ckpt.GetInfo("q_proj.weight").DType);
            Assert.Equal(SafetensorsDType.I64, ckpt.GetInfo("step").DType); // integer buffers keep their type
            Assert.Equal("pt", ckpt.Metadata["format"]);
        }

        using var dst = new Tiny();
        CheckpointIO.Load(dst, Dir);
        Assert.Equal(ScalarType.Float32, dst.Weight.dtype);
        using var rounded = src.Weight.detach().to_type(ScalarType.BFloat16);
        Assert.Equal(Values(rounded), Values(dst.Weight));

        using var half = new Tiny();
        half.to(ScalarType.Float16);
        CheckpointIO.Load(half, Dir);
        Assert.Equal(ScalarType.Float16, half.Weight.dtype);
    }

    [Fact]
    public void NameMapsAddAndStripPrefixesForAdapters()
    {
        using var src = new Tiny(withStep: false);
        const string prefix = "base_model.model.";
        CheckpointIO.Save(src, Dir, new CheckpointSaveOptions
        {
            BaseName = "adapter_model",
            NameMap = CheckpointNames.Where(n => n.StartsWith("q_proj", StringComparison.Ordinal), CheckpointNames.AddPrefix(prefix)),
        });
        using (var ckpt = SafetensorsCheckpoint.Open(Path.Combine(Dir, "adapter_model.safetensors")))
            Assert.Equal([prefix + "q_proj.bias", prefix + "q_proj.weight"], ckpt.TensorNames);

        using var dst = new Tiny(withStep: false);
        var report = CheckpointIO.Load(dst, Dir, new CheckpointLoadOptions
        {
            BaseName = "adapter_model",
            NameMap = CheckpointNames.StripPrefix(prefix),
            AllowMissing = true,
        });
        Assert.Equal(["norm.bias", "norm.weight"], report.Missing);
        Assert.Equal(Values(src.Weight), Values(dst.Weight));
    }

    [Fact]
    public void MismatchListsMissingUnexpectedAndShapeErrors()
    {
        using var src = new Tiny(4, 3, withStep: true);
        CheckpointIO.Save(src, Dir);
        using var other = new Tiny(5, 3, withStep: false);
        var e = Assert.Throws<CheckpointMismatchException>(() => CheckpointIO.Load(other, Dir));
        Assert.Equal(["step"], e.Unexpected);
        Assert.Empty(e.Missing);
        Assert.Single(e.ShapeMismatches);
        Assert.Contains("q_proj.weight", e.Message);
        Assert.Contains("[3,4]", e.Message);
        Assert.Contains("[3,5]", e.Message);
        Assert.Contains("unexpected in checkpoint (1): step", e.Message);

        using var noStep = new Tiny(withStep: false);
        CheckpointIO.Save(noStep, Dir);
        using var withStep = new Tiny(withStep: true);
        e = Assert.Throws<CheckpointMismatchException>(() => CheckpointIO.Load(withStep, Dir));
        Assert.Equal(["step"], e.Missing);
        Assert.Contains("missing from checkpoint (1): step", e.Message);
        var report = CheckpointIO.Load(withStep, Dir, new CheckpointLoadOptions { AllowMissing = true });
        Assert.Equal(["step"], report.Missing);
    }

    [Fact]
    public void LoadTensorsReturnsEveryTensorConverted()
    {
        using var src = new Tiny();
        CheckpointIO.Save(src, Dir);
        var tensors = CheckpointIO.LoadTensors(Dir, ScalarType.BFloat16);
        try
        {
            Assert.Equal(src.state_dict().Keys.Order(StringComparer.Ordinal), tensors.Keys.Order(StringComparer.Ordinal));
            Assert.Equal(ScalarType.BFloat16, tensors["q_proj.weight"].dtype);
            Assert.Equal(ScalarType.Int64, tensors["step"].dtype);
            Assert.Equal(7L, tensors["step"].item<long>());
        }
        finally
        {
            foreach (var t in tensors.Values) t.Dispose();
        }
    }

    [Fact]
    public void ShardedModuleSaveLoads()
    {
        torch.manual_seed(4);
        using var src = new Tiny(16, 8);
        CheckpointIO.Save(src, Dir, new CheckpointSaveOptions { MaxShardBytes = 256 });
        Assert.True(File.Exists(Path.Combine(Dir, "model.safetensors.index.json")));
        using var dst = new Tiny(16, 8);
        CheckpointIO.Load(dst, Dir);
        Assert.Equal(Values(src.Weight), Values(dst.Weight));
    }

    [Fact]
    public void ResavingReplacesTheWholeDirectoryAtomically()
    {
        using var src = new Tiny(16, 8);
        CheckpointIO.Save(src, Dir, new CheckpointSaveOptions { MaxShardBytes = 256, WriteExtraFiles = d => File.WriteAllText(Path.Combine(d, "extra.txt"), "x") });
        Assert.True(File.Exists(Path.Combine(Dir, "extra.txt")));
        CheckpointIO.Save(src, Dir);
        Assert.Equal(["model.safetensors"], Directory.GetFiles(Dir).Select(Path.GetFileName));
        Assert.Equal([Dir], Directory.GetDirectories(_root));

        // A failure while filling leaves the previous checkpoint untouched and no temp directory behind.
        Assert.Throws<InvalidOperationException>(() =>
            CheckpointIO.Save(src, Dir, new CheckpointSaveOptions { WriteExtraFiles = _ => throw new InvalidOperationException("boom") }));
        Assert.Equal(["model.safetensors"], Directory.GetFiles(Dir).Select(Path.GetFileName));
        Assert.Equal([Dir], Directory.GetDirectories(_root));
    }
}
