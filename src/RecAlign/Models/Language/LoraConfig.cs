namespace RecAlign.Models.Language;

/// <summary>LoRA settings with PEFT's names and defaults (r=8, lora_alpha=16, dropout 0.05 on q,v).</summary>
public sealed record LoraConfig
{
    public int Rank { get; init; } = 8;
    public double Alpha { get; init; } = 16;
    public double Dropout { get; init; } = 0.05;
    /// <summary>Any subset of q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj.</summary>
    public IReadOnlyList<string> TargetModules { get; init; } = ["q_proj", "v_proj"];

    public static readonly IReadOnlyList<string> AllTargets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"];

    public void Validate()
    {
        if (Rank <= 0) throw new ArgumentException($"LoRA rank must be positive (got {Rank})");
        if (Dropout is < 0 or >= 1) throw new ArgumentException($"LoRA dropout must be in [0, 1) (got {Dropout})");
        var unknown = TargetModules.Except(AllTargets).ToList();
        if (unknown.Count > 0)
            throw new ArgumentException($"unknown LoRA target module(s) {string.Join(", ", unknown)}; choose from {string.Join(", ", AllTargets)}");
        if (TargetModules.Count == 0) throw new ArgumentException("LoRA needs at least one target module");
    }
}
