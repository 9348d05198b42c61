using RecAlign.Numerics;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RecAlign.Models.Language;

/// <summary>RMSNorm (Zhang &amp; Sennrich 2019): y = w · x / sqrt(mean(x²) + ε), the statistics in fp32 whatever the
/// compute dtype, cast back before the weight multiply, as transformers' LlamaRMSNorm does.</summary>
public sealed class RmsNorm : nn.Module<Tensor, Tensor>
{
    private readonly Parameter weight;
    private readonly double _eps;

    public RmsNorm(int size, double eps) : base(nameof(RmsNorm))
    {
        weight = new Parameter(ones(size));
        _eps = eps;
        RegisterComponents();
    }

    public Parameter Weight => weight;

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var inputType = x.dtype;
        var x32 = x.to(ScalarType.Float32);
        // Scalars through Numerics.Scalars: this runs twice per layer, where TorchSharp's implicit ones race the GC most.
        var normed = x32 * rsqrt(x32.Squared().mean([-1L], keepdim: true).Plus(_eps));
        return (weight * normed.to(inputType)).MoveToOuterDisposeScope();
    }
}
