using System.Text.Json.Serialization;

namespace RecAlign.Alignment;

/// <summary>
/// Which preference loss to use and its parameters (snake_case keys: <c>loss_type</c>, <c>beta</c>,
/// <c>label_smoothing</c>, <c>simpo_gamma</c>, <c>drdpo_beta_prime</c>, <c>beta_dpo_*</c>, <c>alpha_dpo_*</c>, <c>rpo_alpha</c>).
/// <see cref="Beta"/> left null takes the method's default (<see cref="PreferenceLosses.DefaultBeta"/>);
/// <see cref="Resolve"/> fills it in so a run can store the resolved value.
/// </summary>
public sealed record PreferenceLossConfig
{
    /// <summary>One of <see cref="PreferenceLosses.Names"/> or an alias such as TRL's <c>sigmoid</c>.</summary>
    public string LossType { get; init; } = "dpo";
    public double? Beta { get; init; }
    /// <summary>cDPO / SimPO label smoothing in [0, 0.5]; the flip probability for <c>robust</c>, in [0, 0.5).</summary>
    public double LabelSmoothing { get; init; }
    /// <summary>SimPO target reward margin γ.</summary>
    public double SimpoGamma { get; init; } = 0.5;
    /// <summary>Dr.DPO's β′ (the paper's default is 1).</summary>
    public double DrdpoBetaPrime { get; init; } = 1.0;
    /// <summary>β-DPO's scaling factor α of the batch-adaptive β.</summary>
    public double BetaDpoAlpha { get; init; } = 0.6;
    /// <summary>β-DPO's filtering ratio ρ: the share of each batch left out.</summary>
    public double BetaDpoFilterRatio { get; init; } = 0.2;
    /// <summary>β-DPO's momentum for the running gap mean and std.</summary>
    public double BetaDpoMomentum { get; init; } = 0.9;
    /// <summary>α-DPO's α (weight of the normalised reference gap in the margin).</summary>
    public double AlphaDpoAlpha { get; init; } = 0.2;
    /// <summary>α-DPO's γ/β (the constant part of the margin).</summary>
    public double AlphaDpoGammaBetaRatio { get; init; } = 0.6;
    /// <summary>TRL's <c>rpo_alpha</c>: adds α × the chosen responses' token-mean NLL to any loss (<see cref="RpoLoss"/>);
    /// null leaves the loss as it is.</summary>
    public double? RpoAlpha { get; init; }

    [JsonIgnore]
    public double EffectiveBeta => Beta ?? PreferenceLosses.DefaultBeta(LossType);

    public PreferenceLossConfig Resolve() => this with { LossType = PreferenceLosses.Canonical(LossType), Beta = EffectiveBeta };
}
