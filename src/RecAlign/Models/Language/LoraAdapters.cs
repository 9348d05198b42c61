using TorchSharp;
using static TorchSharp.torch;

namespace RecAlign.Models.Language;

/// <summary>Attaching, toggling and merging LoRA adapters on a <see cref="LanguageModel"/>. With adapters attached
/// the base weights are frozen; disabling them turns the same network into the frozen reference model (DPO) without
/// a second copy in memory.</summary>
public static class LoraAdapters
{
    public static void AddLora(this LanguageModel lm, LoraConfig config, long seed)
    {
        config.Validate();
        using var generator = new Generator((ulong)seed);
        foreach (var p in lm.parameters()) p.requires_grad = false;
        foreach (var (path, projection) in lm.Projections())
        {
            var leaf = path[(path.LastIndexOf('.') + 1)..];
            if (config.TargetModules.Contains(leaf))
                projection.AddAdapter(config.Rank, config.Alpha, config.Dropout, generator);
        }
        lm.LoraConfig = config;
    }

    public static bool HasLora(this LanguageModel lm) => lm.Projections().Any(p => p.Projection.HasAdapter);

    /// <summary>Turns every adapter on or off; off computes the frozen base model.</summary>
    public static void SetAdaptersEnabled(this LanguageModel lm, bool enabled)
    {
        foreach (var (_, p) in lm.Projections()) p.AdapterEnabled = enabled;
    }

    /// <summary>Runs <paramref name="action"/> with adapters disabled and restores them afterwards.</summary>
    public static T WithAdaptersDisabled<T>(this LanguageModel lm, Func<T> action)
    {
        lm.SetAdaptersEnabled(false);
        try { return action(); }
        finally { lm.SetAdaptersEnabled(true); }
    }

    public static void MergeAdapters(this LanguageModel lm)
    {
        foreach (var (_, p) in lm.Projections()) p.Merge();
    }

    public static void UnmergeAdapters(this LanguageModel lm)
    {
        foreach (var (_, p) in lm.Projections()) p.Unmerge();
    }

    /// <summary>The parameters an optimizer should update: everything with requires_grad.</summary>
    public static IEnumerable<(string Name, TorchSharp.Modules.Parameter Parameter)> TrainableParameters(this LanguageModel lm) =>
        lm.named_parameters().Where(p => p.parameter.requires_grad).Select(p => (p.name, p.parameter));

    /// <summary>Adapter tensors by PEFT name (<c>base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight</c>).</summary>
    public static Dictionary<string, Tensor> AdapterStateDict(this LanguageModel lm) =>
        lm.named_parameters().Where(p => p.name.Contains(".lora_")).ToDictionary(p => PeftPrefix + p.name, p => (Tensor)p.parameter);

    public const string PeftPrefix = "base_model.model.";
}
