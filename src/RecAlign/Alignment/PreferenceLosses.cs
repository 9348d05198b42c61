namespace RecAlign.Alignment;

/// <summary>Registry of preference losses by name.</summary>
public static class PreferenceLosses
{
    private static readonly Dictionary<string, (double Beta, Func<PreferenceLossConfig, double, long, IPreferenceLoss> Create)> Registry = new()
    {
        // β defaults: TRL's 0.1 for its loss types and the β-DPO/Dr.DPO papers; S-DPO's scripts use 1; SimPO's
        // authors' config 2; α-DPO's Llama-3-Instruct config 2.5.
        ["dpo"] = (0.1, (c, beta, _) => new DpoLoss(beta, c.LabelSmoothing)),
        ["sdpo"] = (1.0, (c, beta, _) => new SoftmaxDpoLoss(beta)),
        ["hinge"] = (0.1, (c, beta, _) => new HingeLoss(beta)),
        ["ipo"] = (0.1, (c, beta, _) => new IpoLoss(beta)),
        ["robust"] = (0.1, (c, beta, _) => new RobustDpoLoss(beta, c.LabelSmoothing)),
        ["simpo"] = (2.0, (c, beta, _) => new SimPoLoss(beta, c.SimpoGamma, c.LabelSmoothing)),
        ["betadpo"] = (0.1, (c, beta, seed) => new BetaDpoLoss(beta, c.BetaDpoAlpha, c.BetaDpoFilterRatio, c.BetaDpoMomentum, seed)),
        ["alphadpo"] = (2.5, (c, beta, _) => new AlphaDpoLoss(beta, c.AlphaDpoGammaBetaRatio, c.AlphaDpoAlpha, c.LabelSmoothing)),
        ["drdpo"] = (0.1, (c, beta, _) => new DrDpoLoss(new DpoLoss(beta, c.LabelSmoothing), c.DrdpoBetaPrime)),
    };

    /// <summary>Other spellings accepted for <c>loss_type</c> (TRL's <c>sigmoid</c> among them).</summary>
    private static readonly Dictionary<string, string> Aliases = new()
    {
        ["sigmoid"] = "dpo", ["softmax_dpo"] = "sdpo", ["s-dpo"] = "sdpo", ["beta_dpo"] = "betadpo", ["beta-dpo"] = "betadpo",
        ["alpha_dpo"] = "alphadpo", ["alpha-dpo"] = "alphadpo", ["dr_dpo"] = "drdpo", ["dr-dpo"] = "drdpo",
    };

    /// <summary>Canonical names (each loss's <see cref="IPreferenceLoss.Name"/>).</summary>
    public static IReadOnlyCollection<string> Names => Registry.Keys;

    /// <summary>The canonical name for a <c>loss_type</c> value (case-insensitive; aliases resolved).</summary>
    public static string Canonical(string lossType)
    {
        var key = lossType.Trim().ToLowerInvariant();
        key = Aliases.GetValueOrDefault(key, key);
        return Registry.ContainsKey(key)
            ? key
            : throw new ArgumentException($"loss_type: unknown preference loss '{lossType}' (known: {string.Join(", ", Registry.Keys)}; aliases: {string.Join(", ", Aliases.Keys)})");
    }

    public static double DefaultBeta(string lossType) => Entry(lossType).Beta;

    /// <param name="seed">Seeds the losses that sample (β-DPO's data filtering).</param>
    public static IPreferenceLoss Create(PreferenceLossConfig config, long seed = 0)
    {
        var entry = Entry(config.LossType);
        var loss = entry.Create(config, config.Beta ?? entry.Beta, seed);
        return config.RpoAlpha is { } alpha ? new RpoLoss(loss, alpha) : loss;
    }

    private static (double Beta, Func<PreferenceLossConfig, double, long, IPreferenceLoss> Create) Entry(string lossType) =>
        Registry[Canonical(lossType)];
}
