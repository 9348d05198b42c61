namespace RecAlign.Alignment;

/// <summary>Registry of preference losses by name. A <c>loss_type</c> may list several names (TRL's list, here
/// comma-separated or a JSON/YAML list), weighted by <c>loss_weights</c>: a <see cref="CombinedLoss"/>.</summary>
public static class PreferenceLosses
{
    /// <param name="UsesBeta">False for <c>sft</c>, whose loss has no β: it takes no part in a list's default β.</param>
    private sealed record Entry(double Beta, Func<PreferenceLossConfig, double, long, IPreferenceLoss> Create, bool UsesBeta = true);

    private static readonly Dictionary<string, Entry> Registry = new()
    {
        // β defaults: TRL's 0.1 for its loss types and the β-DPO/Dr.DPO papers; S-DPO's scripts and CausalDPO's intent use 1; SimPO's
        // authors' config 2; α-DPO's Llama-3-Instruct config 2.5.
        ["dpo"] = new(0.1, (c, beta, _) => new DpoLoss(beta, c.LabelSmoothing)),
        ["sdpo"] = new(1.0, (c, beta, _) => new SoftmaxDpoLoss(beta)),
        ["hinge"] = new(0.1, (c, beta, _) => new HingeLoss(beta)),
        ["ipo"] = new(0.1, (c, beta, _) => new IpoLoss(beta)),
        ["robust"] = new(0.1, (c, beta, _) => new RobustDpoLoss(beta, c.LabelSmoothing)),
        ["exo_pair"] = new(0.1, (c, beta, _) => new ExoPairLoss(beta, c.LabelSmoothing)),
        ["nca_pair"] = new(0.1, (c, beta, _) => new NcaPairLoss(beta)),
        ["bco_pair"] = new(0.1, (c, beta, _) => new BcoPairLoss(beta, c.BcoRunningMean)),
        ["sppo_hard"] = new(0.1, (c, beta, _) => new SppoHardLoss(beta)),
        ["apo_zero"] = new(0.1, (c, beta, _) => new ApoLoss(ApoLoss.Anchor.Zero, beta)),
        ["apo_down"] = new(0.1, (c, beta, _) => new ApoLoss(ApoLoss.Anchor.Down, beta)),
        ["discopop"] = new(0.1, (c, beta, _) => new DiscoPopLoss(beta, c.DiscopopTau)),
        ["aot"] = new(0.1, (c, beta, _) => new AotLoss(paired: true, beta, c.LabelSmoothing)),
        ["aot_unpaired"] = new(0.1, (c, beta, _) => new AotLoss(paired: false, beta, c.LabelSmoothing)),
        ["sft"] = new(0.1, (c, beta, _) => new SftLoss(beta), UsesBeta: false),
        ["simpo"] = new(2.0, (c, beta, _) => new SimPoLoss(beta, c.SimpoGamma, c.LabelSmoothing)),
        ["betadpo"] = new(0.1, (c, beta, seed) => new BetaDpoLoss(beta, c.BetaDpoAlpha, c.BetaDpoFilterRatio, c.BetaDpoMomentum, seed)),
        ["alphadpo"] = new(2.5, (c, beta, _) => new AlphaDpoLoss(beta, c.AlphaDpoGammaBetaRatio, c.AlphaDpoAlpha, c.LabelSmoothing)),
        ["causaldpo"] = new(1.0, (c, beta, seed) => new CausalDpoLoss(beta, c.CausalDpoEnvironments, c.CausalDpoTemperature, c.CausalDpoPrior,
            c.CausalDpoMmdWeight, c.CausalDpoMmdSigma, c.CausalDpoVrexWeight, c.CausalDpoCentreMomentum, seed, c.CausalDpoProjection, c.CausalDpoFeatures, c.CausalDpoProjectionLrScale)),
        ["drdpo"] = new(0.1, (c, beta, _) => new DrDpoLoss(new DpoLoss(beta, c.LabelSmoothing), c.DrdpoBetaPrime)),
    };

    /// <summary>Other spellings accepted for <c>loss_type</c> (TRL's <c>sigmoid</c> among them).</summary>
    private static readonly Dictionary<string, string> Aliases = new()
    {
        ["sigmoid"] = "dpo", ["softmax_dpo"] = "sdpo", ["s-dpo"] = "sdpo", ["beta_dpo"] = "betadpo", ["beta-dpo"] = "betadpo",
        ["alpha_dpo"] = "alphadpo", ["alpha-dpo"] = "alphadpo", ["dr_dpo"] = "drdpo", ["dr-dpo"] = "drdpo",
        ["exo-pair"] = "exo_pair", ["nca-pair"] = "nca_pair", ["bco-pair"] = "bco_pair", ["sppo-hard"] = "sppo_hard",
        ["apo-zero"] = "apo_zero", ["apo-down"] = "apo_down", ["lrml"] = "discopop", ["aot_paired"] = "aot",
        ["aot-paired"] = "aot", ["aot-unpaired"] = "aot_unpaired", ["nll"] = "sft", ["causal_dpo"] = "causaldpo", ["causal-dpo"] = "causaldpo",
    };

    /// <summary>Canonical names (each loss's <see cref="IPreferenceLoss.Name"/>).</summary>
    public static IReadOnlyCollection<string> Names => Registry.Keys;

    /// <summary>The canonical name for a <c>loss_type</c> value (case-insensitive; aliases resolved); a list gives
    /// its canonical names, comma-separated.</summary>
    public static string Canonical(string lossType) => string.Join(",", CanonicalList(lossType));

    /// <summary>The canonical names of a <c>loss_type</c> value, one per listed loss type.</summary>
    public static IReadOnlyList<string> CanonicalList(string lossType)
    {
        var names = PreferenceLossConfig.Split(lossType);
        if (names.Count == 0 || names.Any(n => n.Length == 0))
            throw new ArgumentException($"loss_type: '{lossType}' has an empty entry (known: {string.Join(", ", Registry.Keys)})");
        return names.Select(CanonicalName).ToList();
    }

    private static string CanonicalName(string lossType)
    {
        var key = lossType.Trim().ToLowerInvariant();
        key = Aliases.GetValueOrDefault(key, key);
        return Registry.ContainsKey(key)
            ? key
            : throw new ArgumentException($"loss_type: unknown preference loss '{lossType}' (known: {string.Join(", ", Registry.Keys)}; aliases: {string.Join(", ", Aliases.Keys)})");
    }

    /// <summary>The method's default β; for a list, the one its loss types share (as TRL, one β for all of them).</summary>
    public static double DefaultBeta(string lossType)
    {
        var names = CanonicalList(lossType);
        var betas = names.Where(n => Registry[n].UsesBeta).Select(n => Registry[n].Beta).Distinct().ToList();
        return betas.Count switch
        {
            0 => Registry[names[0]].Beta,
            1 => betas[0],
            _ => throw new ArgumentException($"beta: the listed loss types have different default β ({string.Join(", ", names.Where(n => Registry[n].UsesBeta).Select(n => $"{n} {Registry[n].Beta}"))}); set beta, which they all share"),
        };
    }

    /// <summary>A loss and every loss inside it (RPO's and Dr.DPO's inner loss, a combined loss's components).</summary>
    public static IEnumerable<IPreferenceLoss> Parts(IPreferenceLoss loss)
    {
        yield return loss;
        var inner = loss switch
        {
            RpoLoss rpo => [rpo.Inner],
            DrDpoLoss dr => [dr.Inner],
            CombinedLoss combined => combined.Components.Select(c => c.Loss),
            _ => Enumerable.Empty<IPreferenceLoss>(),
        };
        foreach (var part in inner.SelectMany(Parts)) yield return part;
    }

    /// <param name="seed">Seeds the losses that sample (β-DPO's data filtering).</param>
    public static IPreferenceLoss Create(PreferenceLossConfig config, long seed = 0)
    {
        var names = CanonicalList(config.LossType);
        double beta = config.Beta ?? DefaultBeta(config.LossType);
        IPreferenceLoss loss;
        if (names.Count == 1 && config.LossWeights is null) loss = Registry[names[0]].Create(config, beta, seed);
        else
        {
            var weights = config.LossWeights ?? Enumerable.Repeat(1.0, names.Count).ToList();
            if (weights.Count != names.Count)
                throw new ArgumentException($"loss_weights: {weights.Count} weight{(weights.Count == 1 ? "" : "s")} for {names.Count} loss type{(names.Count == 1 ? "" : "s")} ({string.Join(", ", names)}); give one weight per loss_type entry, or none for weight 1 each");
            loss = new CombinedLoss(names.Select((n, i) => (Registry[n].Create(config, beta, seed), weights[i])).ToList());
        }
        return config.RpoAlpha is { } alpha ? new RpoLoss(loss, alpha) : loss;
    }
}
