using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RecAlign.Models.Language;

/// <summary>
/// A linear projection y = x·Wᵀ + b that can carry a LoRA adapter (Hu et al. 2021):
/// y = x·Wᵀ + b + (α/r)·B(A(dropout(x))), A ∈ ℝ^{r×in} (Kaiming-uniform init), B ∈ ℝ^{out×r} (zero init).
/// Parameter names match HuggingFace (<c>weight</c>, <c>bias</c>) and PEFT (<c>lora_A.weight</c>, <c>lora_B.weight</c>),
/// so checkpoints and adapters load by name.
/// </summary>
public sealed class LoraLinear : nn.Module<Tensor, Tensor>
{
    private readonly Parameter weight;
    private readonly Parameter? bias;
    private Linear? lora_A;
    private Linear? lora_B;
    private Dropout? _loraDropout;
    private double _scaling;

    public LoraLinear(int inFeatures, int outFeatures, bool hasBias) : base(nameof(LoraLinear))
    {
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        weight = new Parameter(empty(outFeatures, inFeatures));
        bias = hasBias ? new Parameter(zeros(outFeatures)) : null;
        RegisterComponents();
    }

    public int InFeatures { get; }
    public int OutFeatures { get; }
    public Parameter Weight => weight;
    public Parameter? Bias => bias;
    public bool HasAdapter => lora_A is not null;
    /// <summary>When false the adapter is skipped: the module computes the frozen base projection (the DPO reference).</summary>
    public bool AdapterEnabled { get; set; } = true;
    public bool Merged { get; private set; }
    public int Rank { get; private set; }
    public Linear? LoraA => lora_A;
    public Linear? LoraB => lora_B;

    /// <summary>Attaches a fresh adapter (A Kaiming-uniform as PEFT does, B zero, so the output is unchanged).</summary>
    public void AddAdapter(int rank, double alpha, double dropout, Generator? generator = null)
    {
        if (HasAdapter) throw new InvalidOperationException("this projection already has a LoRA adapter");
        Rank = rank;
        _scaling = alpha / rank;
        var a = nn.Linear(InFeatures, rank, hasBias: false, device: weight.device, dtype: weight.dtype);
        var b = nn.Linear(rank, OutFeatures, hasBias: false, device: weight.device, dtype: weight.dtype);
        using (no_grad())
        {
            // PEFT's kaiming_uniform_(a=√5) is U(−1/√in, 1/√in).
            double bound = 1.0 / Math.Sqrt(InFeatures);
            a.weight!.uniform_(-bound, bound, generator); // nn.init.uniform_ ignores the generator in TorchSharp 0.107
            b.weight!.zero_();
        }
        lora_A = a;
        lora_B = b;
        _loraDropout = dropout > 0 ? nn.Dropout(dropout) : null;
        register_module("lora_A", a);
        register_module("lora_B", b);
    }

    /// <summary>W ← W + (α/r)·B·A, so inference runs at base speed; <see cref="Unmerge"/> undoes it.</summary>
    public void Merge()
    {
        if (!HasAdapter || Merged) return;
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        weight.add_(DeltaWeight().to(weight.dtype), Numerics.Scalars.One);
        Merged = true;
    }

    public void Unmerge()
    {
        if (!HasAdapter || !Merged) return;
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        weight.sub_(DeltaWeight().to(weight.dtype));
        Merged = false;
    }

    private Tensor DeltaWeight() =>
        Numerics.Scalars.Times(matmul(lora_B!.weight!.to(ScalarType.Float32), lora_A!.weight!.to(ScalarType.Float32)), _scaling);

    public override Tensor forward(Tensor x)
    {
        if (Merged && !AdapterEnabled)
            throw new InvalidOperationException("cannot disable a merged LoRA adapter: unmerge it first");
        var y = nn.functional.linear(x, weight, bias);
        if (lora_A is null || !AdapterEnabled || Merged) return y;
        var h = _loraDropout is null ? x : _loraDropout.forward(x);
        using var scaling = _scaling.ToScalar(); // alive through the native call (Numerics.Scalars)
        return y.add_(lora_B!.forward(lora_A.forward(h)), alpha: scaling);
    }
}
