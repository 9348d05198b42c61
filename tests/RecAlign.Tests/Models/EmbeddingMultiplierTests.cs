using RecAlign.Models.Language;
using TorchSharp;
using static TorchSharp.torch;

namespace RecAlign.Tests.Models;

public class EmbeddingMultiplierTests
{
    private static LanguageModelConfig Granite(double m, bool tied) =>
        LanguageModelTests.TinyConfig(tied: tied) with { ModelType = "granite", EmbeddingMultiplier = m };

    /// <summary>Scaling the inputs by m is the same model as a plain Llama whose input embedding rows are m times larger
    /// (with an untied head, so the output rows stay the same).</summary>
    [Fact]
    public void MultiplierEqualsALlamaWithScaledInputEmbeddings()
    {
        using var granite = LanguageModel.Create(Granite(8, tied: false), seed: 3);
        using var llama = LanguageModel.Create(LanguageModelTests.TinyConfig(tied: false), seed: 3);
        using (no_grad())
        {
            var source = granite.named_parameters().ToDictionary(p => p.name, p => p.parameter);
            foreach (var (name, p) in llama.named_parameters())
                p.copy_(name == "model.embed_tokens.weight" ? source[name] * 8 : source[name]);
        }
        granite.eval(); llama.eval();
        using var ids = tensor(new long[,] { { 1, 5, 9, 2, 7 } });
        using var a = granite.Forward(ids);
        using var b = llama.Forward(ids);
        Assert.True(allclose(a, b, rtol: 1e-4, atol: 1e-4));
        // And the multiplier matters: the same weights at multiplier 1 give other logits.
        using var plain = LanguageModel.Create(LanguageModelTests.TinyConfig(tied: false), seed: 3);
        using (no_grad())
        {
            var source = granite.named_parameters().ToDictionary(p => p.name, p => p.parameter);
            foreach (var (name, p) in plain.named_parameters()) p.copy_(source[name]);
        }
        plain.eval();
        using var c = plain.Forward(ids);
        Assert.False(allclose(a, c, rtol: 1e-3, atol: 1e-3));
    }

    [Fact]
    public void ConfigIsWrittenAsGraniteWithNeutralMultipliersAndReadBack()
    {
        var config = Granite(13.5, tied: true);
        var json = config.ToHuggingFaceJson();
        Assert.Equal("GraniteForCausalLM", json["architectures"]![0]!.GetValue<string>());
        Assert.Equal(13.5, json["embedding_multiplier"]!.GetValue<double>());
        Assert.Equal(1 / Math.Sqrt(config.HeadDim), json["attention_multiplier"]!.GetValue<double>(), 12);
        Assert.Equal(config, LanguageModelConfig.FromHuggingFaceJson(json));
        // A plain Llama writes none of it.
        Assert.Null(LanguageModelTests.TinyConfig().ToHuggingFaceJson()["embedding_multiplier"]);
    }

    [Fact]
    public void GraniteSettingsThisModelCannotComputeAreRefused_AndAMultiplierNeedsGranite()
    {
        var json = Granite(2, tied: true).ToHuggingFaceJson();
        json["residual_multiplier"] = 0.22;
        var e = Assert.Throws<NotSupportedException>(() => LanguageModelConfig.FromHuggingFaceJson(json, "g/config.json"));
        Assert.Contains("g/config.json", e.Message);
        Assert.Contains("residual_multiplier = 1", e.Message);
        json = Granite(2, tied: true).ToHuggingFaceJson();
        json["attention_multiplier"] = 0.0078125; // Granite 3's released value: not 1/sqrt(head_dim) here
        Assert.Throws<NotSupportedException>(() => LanguageModelConfig.FromHuggingFaceJson(json));
        var bad = LanguageModelTests.TinyConfig() with { EmbeddingMultiplier = 2 };
        Assert.Contains("needs model_type granite", Assert.Throws<ArgumentException>(bad.Validate).Message);
    }
}
