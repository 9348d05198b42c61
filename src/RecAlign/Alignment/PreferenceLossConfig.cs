namespace RecAlign.Alignment;

/// <summary>
/// Which preference loss to use and its parameters (snake_case keys: <c>loss_type</c>, <c>beta</c>,
/// <c>label_smoothing</c>, <c>simpo_gamma</c>, <c>drdpo_beta_prime</c>). <see cref="Beta"/> left null takes the
/// method's default (<see cref="PreferenceLosses.DefaultBeta"/>); <see cref="Resolve"/> fills it in so a run can
/// store the resolved value.
/// </summary>
public sealed record PreferenceLossConfig
{
    /// <summary>One of <see cref="PreferenceLosses.Names"/>.</summary>
    public string LossType { get; init; } = "dpo";
    public double? Beta { get; init; }
    /// <summary>cDPO / SimPO label smoothing in [0, 0.5]; the flip probability for <c>robust</c>, in [0, 0.5).</summary>
    public double LabelSmoothing { get; init; }
    /// <summary>SimPO target reward margin γ.</summary>
    public double SimpoGamma { get; init; } = 0.5;
    /// <summary>Dr.DPO's β′ (the paper's default is 1).</summary>
    public double DrdpoBetaPrime { get; init; } = 1.0;

    public double EffectiveBeta => Beta ?? PreferenceLosses.DefaultBeta(LossType);

    public PreferenceLossConfig Resolve() => this with { LossType = LossType.Trim().ToLowerInvariant(), Beta = EffectiveBeta };
}
