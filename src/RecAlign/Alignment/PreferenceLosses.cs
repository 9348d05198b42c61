namespace RecAlign.Alignment;

/// <summary>Registry of preference losses by name.</summary>
public static class PreferenceLosses
{
    private static readonly Dictionary<string, (double Beta, Func<PreferenceLossConfig, double, IPreferenceLoss> Create)> Registry = new()
    {
        // β defaults: TRL's 0.1 for its loss types; S-DPO's scripts use 1; SimPO's authors' config uses 2.
        ["dpo"] = (0.1, (c, beta) => new DpoLoss(beta, c.LabelSmoothing)),
        ["sdpo"] = (1.0, (c, beta) => new SoftmaxDpoLoss(beta)),
        ["hinge"] = (0.1, (c, beta) => new HingeLoss(beta)),
        ["ipo"] = (0.1, (c, beta) => new IpoLoss(beta)),
        ["robust"] = (0.1, (c, beta) => new RobustDpoLoss(beta, c.LabelSmoothing)),
        ["simpo"] = (2.0, (c, beta) => new SimPoLoss(beta, c.SimpoGamma, c.LabelSmoothing)),
        ["drdpo"] = (0.1, (c, beta) => new DrDpoLoss(new DpoLoss(beta, c.LabelSmoothing), c.DrdpoBetaPrime)),
    };

    public static IReadOnlyCollection<string> Names => Registry.Keys;

    public static double DefaultBeta(string lossType) => Entry(lossType).Beta;

    public static IPreferenceLoss Create(PreferenceLossConfig config)
    {
        var entry = Entry(config.LossType);
        return entry.Create(config, config.Beta ?? entry.Beta);
    }

    private static (double Beta, Func<PreferenceLossConfig, double, IPreferenceLoss> Create) Entry(string lossType) =>
        Registry.TryGetValue(lossType.Trim().ToLowerInvariant(), out var e)
            ? e
            : throw new ArgumentException($"loss_type: unknown preference loss '{lossType}' (known: {string.Join(", ", Registry.Keys)})");
}
