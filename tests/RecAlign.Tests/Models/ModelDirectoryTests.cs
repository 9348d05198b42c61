using System.Text.Json.Nodes;
using RecAlign.Models.Checkpoints;
using RecAlign.Models.Language;
using RecAlign.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace RecAlign.Tests.Models;

public sealed class ModelDirectoryTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "recalign-modeldir-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public void HandBuiltHuggingFaceCheckpointLoadsAndGivesExpectedLogits()
    {
        // A HF-style Llama directory written tensor by tensor: attention and MLP outputs are zero, so each position's
        // hidden state is its embedding, and logits = RMSNorm(e_i)·Wᵀ with W the untied lm_head: computable by hand.
        var tokenizer = CompactVocabularyTokenizer.Build(["abc def"]);
        int v = tokenizer.VocabSize, d = 4;
        var emb = new float[v * d];
        var head = new float[v * d];
        for (int i = 0; i < v * d; i++) { emb[i] = (float)Math.Sin(i + 1); head[i] = (float)Math.Cos(2 * i + 1); }
        using var g = new Generator(7);
        var tensors = new Dictionary<string, Tensor>
        {
            ["model.embed_tokens.weight"] = tensor(emb, [v, d]),
            ["lm_head.weight"] = tensor(head, [v, d]),
            ["model.norm.weight"] = ones(d),
            ["model.layers.0.input_layernorm.weight"] = ones(d),
            ["model.layers.0.post_attention_layernorm.weight"] = ones(d),
            ["model.layers.0.self_attn.q_proj.weight"] = randn(d, d, generator: g),
            ["model.layers.0.self_attn.k_proj.weight"] = randn(2, d, generator: g),
            ["model.layers.0.self_attn.v_proj.weight"] = randn(2, d, generator: g),
            ["model.layers.0.self_attn.o_proj.weight"] = zeros(d, d),
            ["model.layers.0.mlp.gate_proj.weight"] = randn(8, d, generator: g),
            ["model.layers.0.mlp.up_proj.weight"] = randn(8, d, generator: g),
            ["model.layers.0.mlp.down_proj.weight"] = zeros(d, 8),
        };
        Directory.CreateDirectory(_dir);
        SafetensorsCheckpoint.Write(_dir, tensors.ToList());
        var config = new JsonObject
        {
            ["architectures"] = new JsonArray("LlamaForCausalLM"), ["model_type"] = "llama", ["vocab_size"] = v,
            ["hidden_size"] = d, ["intermediate_size"] = 8, ["num_hidden_layers"] = 1, ["num_attention_heads"] = 2,
            ["num_key_value_heads"] = 1, ["rms_norm_eps"] = 1e-6, ["hidden_act"] = "silu", ["max_position_embeddings"] = 16,
            ["tie_word_embeddings"] = false, ["torch_dtype"] = "float32",
        };
        File.WriteAllText(Path.Combine(_dir, "config.json"), config.ToJsonString());
        tokenizer.Save(_dir);

        var (lm, loaded) = ModelDirectory.Load(_dir);
        using (lm)
        {
            Assert.Equal(v, loaded.VocabSize);
            var logits = lm.Forward(tensor(new long[,] { { 4, 5 } }));
            foreach (var (pos, token) in new[] { (0, 4), (1, 5) })
            {
                var e = emb.Skip(token * d).Take(d).Select(x => (double)x).ToArray();
                double rms = Math.Sqrt(e.Sum(x => x * x) / d + 1e-6);
                for (int j = 0; j < v; j++)
                {
                    double expected = 0;
                    for (int k = 0; k < d; k++) expected += e[k] / rms * head[j * d + k];
                    Assert.True(Math.Abs(expected - logits[0, pos, j].item<float>()) < 1e-4, $"logit [{pos},{j}]");
                }
            }
        }
    }

    [Fact]
    public void SaveLoadRoundTripKeepsLogitsAndConfig()
    {
        var tokenizer = CompactVocabularyTokenizer.Build(["The Silent Harbor", "Neon Protocol", "Júpiter Maçã"]);
        var config = LanguageModelTests.TinyConfig() with { VocabSize = tokenizer.VocabSize };
        using var lm = LanguageModel.Create(config, seed: 31);
        var ids = tensor(tokenizer.Encode("Neon Protocol", addBos: true).Select(i => (long)i).ToArray()).unsqueeze(0);
        using var before = lm.Forward(ids);
        ModelDirectory.Save(lm, tokenizer, _dir);
        var (reloaded, tok) = ModelDirectory.Load(_dir);
        using (reloaded)
        {
            Assert.Equal(lm.Config with { TorchDtype = "float32" }, reloaded.Config with { TorchDtype = "float32" });
            Assert.True(before.allclose(reloaded.Forward(ids), 1e-6, 1e-6));
            Assert.Equal("Júpiter Maçã", tok.Decode(tok.Encode("Júpiter Maçã")));
        }
        Assert.True(File.Exists(Path.Combine(_dir, "generation_config.json")));
        Assert.True(File.Exists(Path.Combine(_dir, "model.safetensors")));
    }

    [Fact]
    public void AdapterSavesAndLoadsWithPeftNames()
    {
        var config = LanguageModelTests.TinyConfig();
        using var lm = LanguageModel.Create(config, seed: 32);
        lm.AddLora(new LoraConfig { Rank = 2, Alpha = 4, Dropout = 0, TargetModules = ["q_proj", "up_proj"] }, seed: 1);
        using (var g = new Generator(3)) using (no_grad())
            foreach (var (name, p) in lm.named_parameters())
                if (name.Contains("lora_B")) p.normal_(0, 0.5, g);
        using var ids = tensor(new long[,] { { 1, 2, 3 } });
        using var adapted = lm.Forward(ids);
        ModelDirectory.SaveAdapter(lm, _dir, "base-model");
        using var stored = SafetensorsCheckpoint.Open(_dir, ModelDirectory.AdapterBaseName);
        Assert.Contains("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", stored.TensorNames);

        using var fresh = LanguageModel.Create(config, seed: 32); // same base weights
        ModelDirectory.LoadAdapter(fresh, _dir);
        fresh.eval();
        Assert.True(adapted.allclose(fresh.Forward(ids), 1e-6, 1e-6));
    }
}
