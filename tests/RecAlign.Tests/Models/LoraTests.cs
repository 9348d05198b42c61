using RecAlign.Models.Language;
using static TorchSharp.torch;

namespace RecAlign.Tests.Models;

public class LoraTests
{
    [Fact]
    public void ZeroInitialisedAdapterLeavesOutputUnchanged()
    {
        using var lm = LanguageModel.Create(LanguageModelTests.TinyConfig(), seed: 11);
        using var ids = tensor(new long[,] { { 2, 4, 6, 8 } });
        using var before = lm.Forward(ids);
        lm.AddLora(new LoraConfig { Rank = 4, Alpha = 8, Dropout = 0, TargetModules = LoraConfig.AllTargets }, seed: 1);
        using var after = lm.Forward(ids);
        Assert.True(before.allclose(after, 1e-6, 1e-6));
        // Only adapters train; the base is frozen.
        var trainable = lm.TrainableParameters().Select(p => p.Name).ToList();
        Assert.All(trainable, n => Assert.Contains(".lora_", n));
        Assert.Equal(2 * 7 * 2, trainable.Count);
    }

    [Fact]
    public void MergedEqualsUnmergedAndDisabledEqualsBase()
    {
        using var lm = LanguageModel.Create(LanguageModelTests.TinyConfig(), seed: 12);
        using var ids = tensor(new long[,] { { 1, 5, 9, 13, 17 } });
        using var baseLogits = lm.Forward(ids);
        lm.AddLora(new LoraConfig { Rank = 4, Alpha = 16, Dropout = 0, TargetModules = ["q_proj", "v_proj", "down_proj"] }, seed: 2);
        using (var g = new Generator(3)) using (no_grad())
            foreach (var (name, p) in lm.named_parameters())
                if (name.Contains("lora_B")) p.normal_(0, 0.3, g); // as if trained
        using var adapted = lm.Forward(ids);
        Assert.False(adapted.allclose(baseLogits, 1e-3, 1e-3));
        using var disabled = lm.WithAdaptersDisabled(() => lm.Forward(ids));
        Assert.True(disabled.allclose(baseLogits, 1e-6, 1e-6));
        lm.MergeAdapters();
        using var merged = lm.Forward(ids);
        Assert.True(merged.allclose(adapted, 1e-4, 1e-4));
        lm.UnmergeAdapters();
        using var unmerged = lm.Forward(ids);
        Assert.True(unmerged.allclose(adapted, 1e-5, 1e-5));
        Assert.True(lm.WithAdaptersDisabled(() => lm.Forward(ids)).allclose(baseLogits, 1e-5, 1e-5));
    }

    [Fact]
    public void AdapterNamesArePeftCompatible()
    {
        using var lm = LanguageModel.Create(LanguageModelTests.TinyConfig(), seed: 13);
        lm.AddLora(new LoraConfig { Rank = 2, TargetModules = ["q_proj"] }, seed: 3);
        var names = lm.AdapterStateDict().Keys.Order().ToList();
        Assert.Equal(
        [
            "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight",
            "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight",
            "base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight",
            "base_model.model.model.layers.1.self_attn.q_proj.lora_B.weight",
        ], names);
        Assert.Throws<ArgumentException>(() => new LoraConfig { TargetModules = ["qkv"] }.Validate());
    }
}
