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
    /// <param name="lrScales">Parameter-name prefixes (a whole dotted component: <c>hybrid</c> takes <c>hybrid.mlp_proj.0.weight</c>,
    /// not <c>hybrid_gate</c>) whose parameters step at their own multiple of the scheduled lr, LLaVA's
    /// <c>mm_projector_lr</c>: each gets its own "decay:PREFIX" / "no_decay:PREFIX" groups after the default ones. The
    /// longest matching prefix wins.</param>
    public static IReadOnlyList<ParameterGroup> Default(IEnumerable<(string name, Parameter parameter)> namedParameters, double weightDecay,
        IReadOnlyDictionary<string, double>? lrScales = null)
    {
        foreach (var (prefix, scale) in lrScales ?? new Dictionary<string, double>())
        {
            if (prefix.Length == 0 || prefix.StartsWith('.') || prefix.EndsWith('.')) throw new ArgumentException($"lr scale prefix '{prefix}' must be a non-empty parameter-name prefix without a leading or trailing dot");
            if (!(scale >= 0) || !double.IsFinite(scale)) throw new ArgumentOutOfRangeException(nameof(lrScales), scale, $"lr scale of '{prefix}' must be finite and >= 0");
        }
        var byKey = new Dictionary<string, (List<(string, Parameter)> Decay, List<(string, Parameter)> NoDecay)> { [""] = ([], []) };
        var seen = new HashSet<(IntPtr, string)>();
        foreach (var (name, p) in namedParameters)
        {
            if (!p.requires_grad) continue;
            if (p.numel() > 0 && !seen.Add((NativeTensor.DataPointer(p), string.Join(',', p.shape)))) continue;
            var key = PrefixOf(name, lrScales);
            if (!byKey.TryGetValue(key, out var lists)) byKey[key] = lists = ([], []);
            (Decays(name, p) ? lists.Decay : lists.NoDecay).Add((name, p));
        }
        var groups = new List<ParameterGroup>();
        foreach (var key in byKey.Keys.Order(StringComparer.Ordinal)) // "" (the default groups) first
        {
            var (decay, noDecay) = byKey[key];
            double scale = key.Length == 0 ? 1.0 : lrScales![key];
            string suffix = key.Length == 0 ? "" : ":" + key;
            if (decay.Count > 0) groups.Add(new ParameterGroup("decay" + suffix, decay, weightDecay, scale));
            if (noDecay.Count > 0) groups.Add(new ParameterGroup("no_decay" + suffix, noDecay, 0.0, scale));
        }
        return groups;
    }

    /// <summary>The longest prefix of <paramref name="lrScales"/> that names <paramref name="name"/> or one of its
    /// enclosing modules; "" when none does.</summary>
    private static string PrefixOf(string name, IReadOnlyDictionary<string, double>? lrScales)
    {
        if (lrScales is null) return "";
        string best = "";
        foreach (var prefix in lrScales.Keys)
            if (prefix.Length > best.Length && (name == prefix || name.StartsWith(prefix + ".", StringComparison.Ordinal))) best = prefix;
        return best;
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
