using TorchSharp.Modules;

namespace RecAlign.Training.Optimization;

/// <summary>A named set of parameters sharing weight decay and an lr scale; the scheduler writes <see cref="LearningRate"/>.</summary>
public sealed class ParameterGroup
{
    public string Name { get; }
    public IReadOnlyList<(string Name, Parameter Parameter)> Parameters { get; }
    public double WeightDecay { get; set; }
    /// <summary>Multiplier on the scheduled lr for this group (e.g. a faster LoRA or projector group).</summary>
    public double LrScale { get; set; }
    /// <summary>Current lr; set by <see cref="LrScheduler.Apply"/> or <see cref="AdamW.SetLearningRate"/>.</summary>
    public double LearningRate { get; set; }

    public ParameterGroup(string name, IEnumerable<(string Name, Parameter Parameter)> parameters, double weightDecay, double lrScale = 1.0, double learningRate = 0)
    {
        if (weightDecay < 0 || !double.IsFinite(weightDecay)) throw new ArgumentOutOfRangeException(nameof(weightDecay), weightDecay, $"group '{name}': weight decay must be finite and >= 0");
        Name = name;
        Parameters = parameters.ToArray();
        WeightDecay = weightDecay;
        LrScale = lrScale;
        LearningRate = learningRate;
    }
}

public static class ParameterGroups
{
    /// <summary>
    /// The usual split: parameters with ndim ≥ 2 whose name has no norm/bias component decay; biases, norm weights and
    /// every 1-D/0-D tensor do not. Frozen parameters (requires_grad false) are left out. Groups are "decay" then
    /// "no_decay"; an empty group is omitted. A parameter listed twice (tied weights, same tensor under two names) is
    /// kept once, under its first name, so it is not stepped twice.
    /// </summary>
    public static IReadOnlyList<ParameterGroup> Default(IEnumerable<(string name, Parameter parameter)> namedParameters, double weightDecay)
    {
        var decay = new List<(string, Parameter)>();
        var noDecay = new List<(string, Parameter)>();
        var seen = new HashSet<(IntPtr, string)>();
        foreach (var (name, p) in namedParameters)
        {
            if (!p.requires_grad) continue;
            if (p.numel() > 0 && !seen.Add((NativeTensor.DataPointer(p), string.Join(',', p.shape)))) continue;
            (Decays(name, p) ? decay : noDecay).Add((name, p));
        }
        var groups = new List<ParameterGroup>();
        if (decay.Count > 0) groups.Add(new ParameterGroup("decay", decay, weightDecay));
        if (noDecay.Count > 0) groups.Add(new ParameterGroup("no_decay", noDecay, 0.0));
        return groups;
    }

    /// <summary>True when a parameter should receive weight decay under <see cref="Default"/>'s rule.</summary>
    public static bool Decays(string name, TorchSharp.torch.Tensor parameter)
    {
        if (parameter.dim() < 2) return false;
        foreach (var part in name.Split('.'))
        {
            var lower = part.ToLowerInvariant();
            if (lower.Contains("norm") || lower == "bias" || lower.EndsWith("_bias", StringComparison.Ordinal) || (lower.StartsWith("ln", StringComparison.Ordinal) && lower.Length <= 4))
                return false;
        }
        return true;
    }
}
