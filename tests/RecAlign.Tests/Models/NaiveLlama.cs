using RecAlign.Models.Language;
using static TorchSharp.torch;

namespace RecAlign.Tests.Models;

/// <summary>A deliberately plain re-implementation of the Llama forward pass from the state dict (explicit per-head
/// softmax attention, explicit pair rotation), used as the reference the engine is checked against.</summary>
internal static class NaiveLlama
{
    public static Tensor Forward(LanguageModel lm, Tensor ids)
    {
        var c = lm.Config;
        var w = lm.state_dict();
        long t = ids.shape[1];
        int d = c.HeadDim, h = c.NumAttentionHeads, kvh = c.NumKeyValueHeads;
        Tensor Norm(Tensor x, string name) => w[name] * (x / (x.pow(2).mean([-1L], keepdim: true) + c.RmsNormEps).sqrt());
        Tensor Lin(Tensor x, string name) =>
            x.matmul(w[name + ".weight"].t()) + (w.TryGetValue(name + ".bias", out var b) ? b : zeros(1));
        // Rotation of pair (i, i + d/2) by angle pos·θ^(−2i/d), written out element-wise.
        var angles = zeros(t, d / 2, ScalarType.Float64);
        for (int pos = 0; pos < t; pos++)
            for (int i = 0; i < d / 2; i++) angles[pos, i] = pos / Math.Pow(c.RopeTheta, 2.0 * i / d);
        var cos = angles.cos().to(ScalarType.Float32);
        var sin = angles.sin().to(ScalarType.Float32);
        Tensor Rope(Tensor x) // [T, d]
        {
            var x1 = x[.., ..(d / 2)];
            var x2 = x[.., (d / 2)..];
            return cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], 1);
        }
        var x = w["model.embed_tokens.weight"].index_select(0, ids[0]); // [T, D]
        var causal = ones(t, t).tril();
        for (int l = 0; l < c.NumHiddenLayers; l++)
        {
            var p = $"model.layers.{l}.";
            var hIn = Norm(x, p + "input_layernorm.weight");
            var q = Lin(hIn, p + "self_attn.q_proj");
            var k = Lin(hIn, p + "self_attn.k_proj");
            var v = Lin(hIn, p + "self_attn.v_proj");
            var heads = new List<Tensor>();
            for (int head = 0; head < h; head++)
            {
                int kvHead = head / (h / kvh);
                var qh = Rope(q[.., (head * d)..((head + 1) * d)]);
                var kh = Rope(k[.., (kvHead * d)..((kvHead + 1) * d)]);
                var vh = v[.., (kvHead * d)..((kvHead + 1) * d)];
                var scores = qh.matmul(kh.t()) / Math.Sqrt(d);
                scores = scores.masked_fill(causal == 0, double.NegativeInfinity);
                heads.Add(scores.softmax(-1).matmul(vh));
            }
            x = x + Lin(cat(heads, 1), p + "self_attn.o_proj");
            var hMid = Norm(x, p + "post_attention_layernorm.weight");
            var gate = Lin(hMid, p + "mlp.gate_proj");
            x = x + Lin(gate * gate.sigmoid() * Lin(hMid, p + "mlp.up_proj"), p + "mlp.down_proj");
        }
        x = Norm(x, "model.norm.weight");
        var head_ = w.TryGetValue("lm_head.weight", out var lmHead) ? lmHead : w["model.embed_tokens.weight"];
        return x.matmul(head_.t()).unsqueeze(0);
    }
}
