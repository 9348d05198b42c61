using TorchSharp;
using static TorchSharp.torch;

namespace RecAlign.Models.Language;

/// <summary>SwiGLU feed-forward (Shazeer 2020): down(silu(gate(x)) ⊙ up(x)).</summary>
public sealed class LlamaMlp : nn.Module<Tensor, Tensor>
{
    private readonly LoraLinear gate_proj, up_proj, down_proj;

    public LlamaMlp(LanguageModelConfig config) : base(nameof(LlamaMlp))
    {
        gate_proj = new LoraLinear(config.HiddenSize, config.IntermediateSize, false);
        up_proj = new LoraLinear(config.HiddenSize, config.IntermediateSize, false);
        down_proj = new LoraLinear(config.IntermediateSize, config.HiddenSize, false);
        RegisterComponents();
    }

    internal IEnumerable<(string Name, LoraLinear Projection)> Projections() =>
        [("gate_proj", gate_proj), ("up_proj", up_proj), ("down_proj", down_proj)];

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = nn.functional.silu(gate_proj.forward(x)).mul_(up_proj.forward(x));
        return down_proj.forward(h).MoveToOuterDisposeScope();
    }
}
