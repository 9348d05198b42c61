using RecAlign.Numerics;
using TorchSharp;
using static TorchSharp.torch;

namespace RecAlign.Models.Language;

/// <summary>Grouped-query self-attention (Ainslie et al. 2023) with rotary embeddings, through libtorch's fused
/// scaled_dot_product_attention. K/V heads are repeated to the query head count (TorchSharp has no enable_gqa).</summary>
public sealed class LlamaAttention : nn.Module
{
    private readonly LoraLinear q_proj, k_proj, v_proj, o_proj;
    private readonly int _heads, _kvHeads, _headDim, _layerIndex;
    /// <summary>Dropout on the attention probabilities, in training only.</summary>
    internal double DropoutRate { get; set; }

    public LlamaAttention(LanguageModelConfig config, int layerIndex) : base(nameof(LlamaAttention))
    {
        _heads = config.NumAttentionHeads;
        _kvHeads = config.NumKeyValueHeads;
        _headDim = config.HeadDim;
        _layerIndex = layerIndex;
        DropoutRate = config.AttentionDropout;
        q_proj = new LoraLinear(config.HiddenSize, _heads * _headDim, config.AttentionBias);
        k_proj = new LoraLinear(config.HiddenSize, _kvHeads * _headDim, config.AttentionBias);
        v_proj = new LoraLinear(config.HiddenSize, _kvHeads * _headDim, config.AttentionBias);
        o_proj = new LoraLinear(_heads * _headDim, config.HiddenSize, false);
        RegisterComponents();
    }

    internal IEnumerable<(string Name, LoraLinear Projection)> Projections() =>
        [("q_proj", q_proj), ("k_proj", k_proj), ("v_proj", v_proj), ("o_proj", o_proj)];

    internal Tensor Forward(Tensor x, AttentionContext ctx)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], t = x.shape[1];
        var q = q_proj.forward(x).view(b, t, _heads, _headDim).transpose(1, 2);
        var k = k_proj.forward(x).view(b, t, _kvHeads, _headDim).transpose(1, 2);
        var v = v_proj.forward(x).view(b, t, _kvHeads, _headDim).transpose(1, 2);
        q = RotaryEmbedding.Apply(q, ctx.Cos, ctx.Sin);
        k = RotaryEmbedding.Apply(k, ctx.Cos, ctx.Sin);
        if (ctx.Cache is not null) (k, v) = ctx.Cache.Append(_layerIndex, k, v);
        Tensor attn;
        double p = training ? DropoutRate : 0.0;
        int rep = _heads / _kvHeads;
        if (rep > 1 && (ctx.Mask is not null || t == 1))
        {
            // Grouped-query attention without materialising repeated K/V: fold each group's query heads into the
            // query length, so one kv head serves rep·t queries.
            long len = k.shape[2];
            var qg = q.reshape(b, _kvHeads, rep * t, _headDim);
            var mask = ctx.Mask?.expand(b, rep, t, len).reshape(b, 1, rep * t, len);
            var o = mask is null ? nn.functional.scaled_dot_product_attention(qg, k, v, p: p)
                                 : nn.functional.scaled_dot_product_attention(qg, k, v, attn_mask: mask, p: p);
            attn = o.view(b, _heads, t, _headDim);
        }
        else if (ctx.Mask is null && t > 1 && k.shape[2] == t && q.dtype != ScalarType.Float32 && t <= ExplicitAttentionMaxLength)
        {
            attn = CausalAttentionLowPrecision(q, k, v, rep, p);
        }
        else
        {
            k = RepeatKv(k);
            v = RepeatKv(v);
            attn = ctx.Mask is null
                ? nn.functional.scaled_dot_product_attention(q, k, v, is_casual: t > 1 && k.shape[2] == t, p: p)
                : nn.functional.scaled_dot_product_attention(q, k, v, attn_mask: ctx.Mask, p: p);
        }
        var merged = attn.transpose(1, 2).reshape(b, t, _heads * _headDim);
        return o_proj.forward(merged).MoveToOuterDisposeScope();
    }

    /// <summary>Up to this length, bf16/fp16 causal attention runs as explicit matmuls (libtorch's CPU SDPA runs bf16 no
    /// faster than fp32, while bf16 matmuls run ~4x faster); the [T, T] scores cost T² memory per head, so long
    /// sequences keep SDPA.</summary>
    public const int ExplicitAttentionMaxLength = 1024;

    /// <summary>softmax(QKᵀ/√d + causal) V with bf16 matmuls and the softmax in fp32 (as transformers' eager attention
    /// does); K/V groups are shared by folding each group's query heads into one batched matmul.</summary>
    private Tensor CausalAttentionLowPrecision(Tensor q, Tensor k, Tensor v, int rep, double dropout)
    {
        long b = q.shape[0], t = q.shape[2];
        var qg = q.reshape(b, _kvHeads, rep * t, _headDim);                           // [B, kvh, rep·T, d]
        var scores = matmul(qg, k.transpose(-2, -1)).view(b, _kvHeads, rep, t, t);    // [B, kvh, rep, T, T]
        var future = ones(t, t, ScalarType.Bool, device: q.device).triu(1);
        var probs = scores.MaskedFill(future, float.NegativeInfinity).mul(1.0 / Math.Sqrt(_headDim))
            .softmax(-1, ScalarType.Float32).to(q.dtype);
        if (dropout > 0) probs = nn.functional.dropout(probs, dropout, training: true);
        return matmul(probs.view(b, _kvHeads, rep * t, t), v).view(b, _heads, t, _headDim);
    }

    private Tensor RepeatKv(Tensor kv)
    {
        int rep = _heads / _kvHeads;
        if (rep == 1) return kv;
        long b = kv.shape[0], len = kv.shape[2];
        return kv.unsqueeze(2).expand(b, _kvHeads, rep, len, _headDim).reshape(b, _heads, len, _headDim);
    }
}
