using RecAlign.Numerics;
using TorchSharp;
using static TorchSharp.torch;

namespace RecAlign.Models.Language;

/// <summary>Pre-norm decoder block: x + attn(norm(x)), then + mlp(norm(·)).</summary>
public sealed class LlamaDecoderLayer : nn.Module
{
    private readonly LlamaAttention self_attn;
    private readonly LlamaMlp mlp;
    private readonly RmsNorm input_layernorm, post_attention_layernorm;
    /// <summary>The residual branches' dropout rate (the config's <c>hidden_dropout</c> unless changed, see <see cref="LanguageModel.SetDropout"/>).</summary>
    internal double DropoutRate { get; set; }
    /// <summary>The attention probabilities' dropout rate (the config's <c>attention_dropout</c> unless changed).</summary>
    internal double AttentionDropoutRate { get => self_attn.DropoutRate; set => self_attn.DropoutRate = value; }

    public LlamaDecoderLayer(LanguageModelConfig config, int layerIndex) : base(nameof(LlamaDecoderLayer))
    {
        self_attn = new LlamaAttention(config, layerIndex);
        mlp = new LlamaMlp(config);
        input_layernorm = new RmsNorm(config.HiddenSize, config.RmsNormEps);
        post_attention_layernorm = new RmsNorm(config.HiddenSize, config.RmsNormEps);
        DropoutRate = config.HiddenDropout;
        RegisterComponents();
    }

    internal IEnumerable<(string Name, LoraLinear Projection)> Projections() =>
        self_attn.Projections().Select(p => ("self_attn." + p.Name, p.Projection))
            .Concat(mlp.Projections().Select(p => ("mlp." + p.Name, p.Projection)));

    internal Tensor Forward(Tensor x, AttentionContext ctx)
    {
        using var scope = NewDisposeScope();
        // Residual adds with a live alpha (Numerics.Scalars): the operator's implicit one races the GC.
        var h = x.Plus(Dropout(self_attn.Forward(input_layernorm.forward(x), ctx)));
        var y = h.Plus(Dropout(mlp.forward(post_attention_layernorm.forward(h))));
        return y.MoveToOuterDisposeScope();
    }

    private Tensor Dropout(Tensor x) => DropoutRate > 0 && training ? nn.functional.dropout(x, DropoutRate, training: true) : x;
}
