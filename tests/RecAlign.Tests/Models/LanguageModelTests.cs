using RecAlign.Models.Language;
using TorchSharp;
using static TorchSharp.torch;

namespace RecAlign.Tests.Models;

public class LanguageModelTests
{
    internal static LanguageModelConfig TinyConfig(int kvHeads = 2, bool tied = true, bool bias = false) => new()
    {
        VocabSize = 50, HiddenSize = 32, IntermediateSize = 64, NumHiddenLayers = 2, NumAttentionHeads = 4,
        NumKeyValueHeads = kvHeads, MaxPositionEmbeddings = 64, TieWordEmbeddings = tied, AttentionBias = bias,
        InitializerRange = 0.2, // large init so layers matter and differences show
    };

    [Fact]
    public void RotaryMatchesNaivePairRotation()
    {
        const int d = 8;
        using var rope = new RotaryEmbedding(d, 16, 10000.0);
        using var g = new Generator(1);
        var x = randn([1, 2, 5, d], generator: g);
        var (cos, sin) = rope.ForRange(0, 5, ScalarType.Float32, CPU);
        var fast = RotaryEmbedding.Apply(x, cos, sin);
        // Naive: HF layout pairs dim i with i + d/2, rotated by angle pos · θ^(−2i/d).
        var xs = x.data<float>().ToArray();
        var expected = new float[xs.Length];
        for (int h = 0; h < 2; h++)
        for (int pos = 0; pos < 5; pos++)
        for (int i = 0; i < d / 2; i++)
        {
            double angle = pos / Math.Pow(10000.0, 2.0 * i / d);
            int b = (h * 5 + pos) * d;
            double a1 = xs[b + i], a2 = xs[b + i + d / 2];
            expected[b + i] = (float)(a1 * Math.Cos(angle) - a2 * Math.Sin(angle));
            expected[b + i + d / 2] = (float)(a2 * Math.Cos(angle) + a1 * Math.Sin(angle));
        }
        Assert.True(fast.allclose(tensor(expected).reshape(x.shape), 1e-5, 1e-5));
    }

    [Fact]
    public void Llama3RopeScalingLeavesHighFrequenciesAndScalesLowOnes()
    {
        var scaled = RotaryEmbedding.InverseFrequencies(64, 500000, new RopeScaling(8, 1, 4, 8192)).data<double>().ToArray();
        var plain = RotaryEmbedding.InverseFrequencies(64, 500000, null).data<double>().ToArray();
        Assert.Equal(plain[0], scaled[0], 12);                 // wavelength 2π < 2048: untouched
        Assert.Equal(plain[^1] / 8, scaled[^1], 12);           // longest wavelength: divided by the factor
    }

    [Fact]
    public void ForwardMatchesNaiveAttentionReference()
    {
        using var lm = LanguageModel.Create(TinyConfig(), seed: 3);
        using var ids = tensor(new long[,] { { 5, 9, 2, 7, 1, 3 } });
        using var logits = lm.Forward(ids);
        using var naive = NaiveLlama.Forward(lm, ids);
        Assert.True(logits.allclose(naive, 1e-4, 1e-4), $"max diff {(logits - naive).abs().max().item<float>()}");
    }

    [Fact]
    public void GqaWithAllHeadsEqualsPlainMultiHeadAttention()
    {
        // A GQA model (2 kv heads for 4 query heads) equals the MHA model whose k/v heads repeat each kv head.
        using var gqa = LanguageModel.Create(TinyConfig(kvHeads: 2), seed: 4);
        using var mha = new LanguageModel(TinyConfig(kvHeads: 4));
        var gqaParams = gqa.state_dict();
        using (no_grad())
        {
            foreach (var (name, p) in mha.named_parameters())
            {
                var src = gqaParams[name];
                if (name.EndsWith("k_proj.weight") || name.EndsWith("v_proj.weight"))
                    src = src.view(2, 1, 8, 32).expand(2, 2, 8, 32).reshape(32, 32);
                p.copy_(src);
            }
        }
        using var ids = tensor(new long[,] { { 1, 2, 3, 4, 5 }, { 6, 7, 8, 9, 10 } });
        Assert.True(gqa.Forward(ids).allclose(mha.Forward(ids), 1e-5, 1e-5));
        // and kv_heads == heads matches the naive reference too
        using var one = ids[..1];
        Assert.True(mha.Forward(one).allclose(NaiveLlama.Forward(mha, one), 1e-4, 1e-4));
    }

    [Fact]
    public void KvCacheDecodeEqualsFullForward()
    {
        using var lm = LanguageModel.Create(TinyConfig(), seed: 5);
        long[] tokens = [3, 14, 15, 9, 26, 5, 35, 8];
        using var full = lm.Forward(tensor(tokens).unsqueeze(0));
        using var cache = lm.NewCache();
        var parts = new List<Tensor> { lm.Forward(tensor(tokens[..3]).unsqueeze(0), cache: cache) };
        for (int i = 3; i < tokens.Length; i++)
            parts.Add(lm.Forward(tensor(new[] { tokens[i] }).unsqueeze(0), cache: cache));
        using var incremental = cat(parts, 1);
        Assert.Equal(tokens.Length, cache.Length);
        Assert.True(full.allclose(incremental, 1e-5, 1e-5), $"max diff {(full - incremental).abs().max().item<float>()}");
    }

    [Fact]
    public void LeftPaddedBatchWithCacheEqualsUnpaddedRows()
    {
        using var lm = LanguageModel.Create(TinyConfig(), seed: 6);
        // Row 0 has 2 pad tokens on the left.
        using var ids = tensor(new long[,] { { 0, 0, 7, 8, 9 }, { 1, 2, 3, 4, 5 } });
        using var mask = tensor(new long[,] { { 0, 0, 1, 1, 1 }, { 1, 1, 1, 1, 1 } });
        using var cache = lm.NewCache();
        using var prefill = lm.Forward(ids, mask, cache);
        using var step = lm.Forward(tensor(new long[,] { { 11 }, { 12 } }), cache: cache);
        using var row0 = lm.Forward(tensor(new long[,] { { 7, 8, 9, 11 } }));
        using var row1 = lm.Forward(tensor(new long[,] { { 1, 2, 3, 4, 5, 12 } }));
        Assert.True(prefill[0, 2..].allclose(row0[0, ..3], 1e-5, 1e-5));
        Assert.True(step[0, 0].allclose(row0[0, 3], 1e-5, 1e-5));
        Assert.True(step[1, 0].allclose(row1[0, 5], 1e-5, 1e-5));
    }

    [Fact]
    public void PromptKvExpandedOverContinuationsEqualsSeparateForwards()
    {
        using var lm = LanguageModel.Create(TinyConfig(), seed: 7);
        long[] prompt = [4, 8, 15, 16];
        long[][] continuations = [[23, 42], [1, 2, 3], [9]];
        using var cache = lm.NewCache();
        using var _ = lm.Forward(tensor(prompt).unsqueeze(0), cache: cache);
        using var expanded = cache.RepeatInterleave(continuations.Length);
        // Right-padded continuations with a mask.
        var padded = new long[continuations.Length, 3];
        var mask = new long[continuations.Length, 3];
        for (int c = 0; c < continuations.Length; c++)
            for (int j = 0; j < continuations[c].Length; j++) { padded[c, j] = continuations[c][j]; mask[c, j] = 1; }
        using var logits = lm.Forward(tensor(padded), tensor(mask), expanded);
        for (int c = 0; c < continuations.Length; c++)
        {
            using var separate = lm.Forward(tensor(prompt.Concat(continuations[c]).ToArray()).unsqueeze(0));
            int len = continuations[c].Length;
            Assert.True(logits[c, ..len].allclose(separate[0, prompt.Length..], 1e-5, 1e-5), $"continuation {c}");
        }
    }

    [Fact]
    public void UntiedHeadAndQkvBiasForwardMatchReference()
    {
        using var lm = LanguageModel.Create(TinyConfig(tied: false, bias: true), seed: 8);
        using (var g = new Generator(3)) using (no_grad())
            foreach (var (name, p) in lm.named_parameters())
                if (name.EndsWith(".bias")) p.normal_(0, 0.5, g); // exercise the bias path
        using var ids = tensor(new long[,] { { 1, 3, 5, 7 } });
        Assert.True(lm.Forward(ids).allclose(NaiveLlama.Forward(lm, ids), 1e-4, 1e-4));
        Assert.Contains(lm.named_parameters(), p => p.name == "lm_head.weight");
        Assert.Contains(lm.named_parameters(), p => p.name == "model.layers.1.self_attn.q_proj.bias");
    }

    [Fact]
    public void BFloat16ExplicitCausalAttentionMatchesSdpaPath()
    {
        // Unmasked bf16 training batches take the explicit-matmul attention; an all-ones mask forces SDPA.
        // Both are compared with the fp32 model: the explicit path must be as close to it as bf16 SDPA is.
        using var lm = LanguageModel.Create(TinyConfig(), seed: 10);
        using var ids = tensor(new long[,] { { 3, 1, 4, 1, 5, 9, 2, 6 }, { 5, 3, 5, 8, 9, 7, 9, 3 } });
        using var reference = lm.Forward(ids);
        lm.to(ScalarType.BFloat16);
        using var explicitPath = lm.Forward(ids).to(ScalarType.Float32);
        using var sdpaPath = lm.Forward(ids, ones(2, 8, ScalarType.Int64)).to(ScalarType.Float32);
        double explicitError = (explicitPath - reference).abs().max().item<float>();
        double sdpaError = (sdpaPath - reference).abs().max().item<float>();
        double scale = reference.abs().max().item<float>();
        Assert.True(explicitError <= 1.5 * sdpaError + 0.01 * scale, $"explicit {explicitError}, sdpa {sdpaError}, logit scale {scale}");
    }

    [Fact]
    public void SameSeedGivesSameWeights()
    {
        using var a = LanguageModel.Create(TinyConfig(), seed: 77);
        using var b = LanguageModel.Create(TinyConfig(), seed: 77);
        using var c = LanguageModel.Create(TinyConfig(), seed: 78);
        var (sa, sb, sc) = (a.state_dict(), b.state_dict(), c.state_dict());
        Assert.All(sa.Keys, k => Assert.True(sa[k].allclose(sb[k], 0, 0), k));
        Assert.False(sa["model.embed_tokens.weight"].allclose(sc["model.embed_tokens.weight"]));
    }

    [Fact]
    public void ParameterNamesMatchHuggingFace()
    {
        using var lm = LanguageModel.Create(TinyConfig(), seed: 1);
        var names = lm.state_dict().Keys.ToHashSet();
        string[] expected =
        [
            "model.embed_tokens.weight", "model.norm.weight",
            "model.layers.0.input_layernorm.weight", "model.layers.0.post_attention_layernorm.weight",
            "model.layers.0.self_attn.q_proj.weight", "model.layers.0.self_attn.k_proj.weight",
            "model.layers.0.self_attn.v_proj.weight", "model.layers.0.self_attn.o_proj.weight",
            "model.layers.0.mlp.gate_proj.weight", "model.layers.0.mlp.up_proj.weight", "model.layers.0.mlp.down_proj.weight",
        ];
        foreach (var e in expected) Assert.Contains(e, names);
        Assert.Equal(2 + 9 * 2, names.Count); // tied: no lm_head
    }

    [Fact]
    public void BFloat16ForwardTracksFloat32()
    {
        using var lm = LanguageModel.Create(TinyConfig(), seed: 9);
        using var ids = tensor(new long[,] { { 1, 2, 3, 4, 5, 6 } });
        using var f32 = lm.Forward(ids);
        lm.to(ScalarType.BFloat16);
        using var bf16 = lm.Forward(ids);
        Assert.Equal(ScalarType.BFloat16, bf16.dtype);
        Assert.True(f32.allclose(bf16.to(ScalarType.Float32), 0.1, 0.1));
    }
}
