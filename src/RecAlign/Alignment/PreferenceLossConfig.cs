using System.Text.Json;
using System.Text.Json.Serialization;

namespace RecAlign.Alignment;

/// <summary>
/// Which preference loss to use and its parameters (snake_case keys: <c>loss_type</c>, <c>loss_weights</c>, <c>beta</c>,
/// <c>label_smoothing</c>, <c>simpo_gamma</c>, <c>discopop_tau</c>, <c>bco_running_mean</c>, <c>drdpo_beta_prime</c>,
/// <c>beta_dpo_*</c>, <c>alpha_dpo_*</c>, <c>causal_dpo_*</c>, <c>rpo_alpha</c>).
/// <see cref="Beta"/> left null takes the method's default (<see cref="PreferenceLosses.DefaultBeta"/>);
/// <see cref="Resolve"/> fills it in so a run can store the resolved value.
/// </summary>
public sealed record PreferenceLossConfig
{
    /// <summary>One of <see cref="PreferenceLosses.Names"/> or an alias such as TRL's <c>sigmoid</c>; or, as TRL's list,
    /// several of them (a JSON/YAML list or comma-separated: <c>sigmoid,bco_pair,sft</c>), summed with
    /// <see cref="LossWeights"/> in one <see cref="CombinedLoss"/> at one shared β.</summary>
    [JsonConverter(typeof(LossTypeListConverter))]
    public string LossType { get; init; } = "dpo";
    /// <summary>TRL's <c>loss_weights</c>: one positive weight per <c>loss_type</c> entry; null weighs each 1.</summary>
    public IReadOnlyList<double>? LossWeights { get; init; }
    public double? Beta { get; init; }
    /// <summary>cDPO / SimPO / AOT label smoothing in [0, 0.5]; the flip probability for <c>robust</c>, in [0, 0.5);
    /// EXO's target ε for <c>exo_pair</c>, in (0, 0.5] (the EXO paper recommends 1e-3).</summary>
    public double LabelSmoothing { get; init; }
    /// <summary>SimPO target reward margin γ.</summary>
    public double SimpoGamma { get; init; } = 0.5;
    /// <summary>DiscoPOP's τ, the temperature of its logistic/exponential mixing weight (the paper's and TRL's 0.05).</summary>
    public double DiscopopTau { get; init; } = 0.05;
    /// <summary><c>bco_pair</c>'s reward shift δ as the running mean of the batches' mean reward (the BCO paper, TRL up to
    /// 0.28); false: δ = 0 (TRL from 0.29).</summary>
    public bool BcoRunningMean { get; init; } = true;
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
    /// <summary>CausalDPO's number of latent environments K (1 is S-DPO).</summary>
    public int CausalDpoEnvironments { get; init; } = 2;
    /// <summary>CausalDPO's soft-assignment temperature τ in softmax_k(−‖z − c_k‖ / (τ√D)), on standardised features: in
    /// units of the root-mean-square per-dimension distance, whose gap between two centres is typically ~0.1 (τ = 1 makes
    /// every q about uniform, τ → 0 hard k-means).</summary>
    public double CausalDpoTemperature { get; init; } = 0.1;
    /// <summary>CausalDPO's P(k) in the backdoor adjustment: <c>batch</c> (the batch marginal of q), <c>uniform</c>
    /// (1/K) or <c>running</c> (the running marginal over the training set).</summary>
    public EnvironmentPrior CausalDpoPrior { get; init; } = EnvironmentPrior.Batch;
    /// <summary>CausalDPO's λ on the MMD between environments.</summary>
    public double CausalDpoMmdWeight { get; init; } = 1e-3;
    /// <summary>The RBF kernel's σ for the MMD; 0 takes the batch's median pairwise distance.</summary>
    public double CausalDpoMmdSigma { get; init; }
    /// <summary>μ on the V-REx variance of the per-environment losses (0: off, as the released code).</summary>
    public double CausalDpoVrexWeight { get; init; }
    /// <summary>Momentum of the centre bank's moving average (and of the running prior); 1 keeps the k-means centres.</summary>
    public double CausalDpoCentreMomentum { get; init; } = 0.9;
    /// <summary>What CausalDPO infers environments from: <c>reference_prompt</c> (the frozen SFT model's mean prompt
    /// state) or <c>history_text</c> (a frozen MiniLM sentence embedding of the history's titles).</summary>
    public EnvironmentFeatures CausalDpoFeatures { get; init; } = EnvironmentFeatures.ReferencePrompt;
    /// <summary>CausalDPO's map from features to centre space: <c>fixed</c> (the standardised features) or
    /// <c>adversarial</c> (a learned linear map trained by gradient reversal to find the environments the policy is least
    /// invariant across).</summary>
    public EnvironmentProjection CausalDpoProjection { get; init; } = EnvironmentProjection.Fixed;
    /// <summary>The adversarial projection's learning rate as a multiple of the policy's (alignment rates, ~1e-5, would
    /// leave an identity-initialised map where it starts); it gets no weight decay, which would collapse it.</summary>
    public double CausalDpoProjectionLrScale { get; init; } = 100;
    /// <summary>TRL's <c>rpo_alpha</c>: adds α × the chosen responses' token-mean NLL to any loss (<see cref="RpoLoss"/>);
    /// null leaves the loss as it is.</summary>
    public double? RpoAlpha { get; init; }

    [JsonIgnore]
    public double EffectiveBeta => Beta ?? PreferenceLosses.DefaultBeta(LossType);

    /// <summary>The entries of <see cref="LossType"/> as written (one for a single loss).</summary>
    [JsonIgnore]
    public IReadOnlyList<string> LossTypes => Split(LossType);

    public PreferenceLossConfig Resolve() => this with { LossType = PreferenceLosses.Canonical(LossType), Beta = EffectiveBeta };

    internal static IReadOnlyList<string> Split(string lossType) => lossType.Split(',').Select(s => s.Trim()).ToList();

    /// <summary><c>loss_type</c> as a string or, as TRL's, a list of strings (held comma-separated; written back as a
    /// list when it names several).</summary>
    private sealed class LossTypeListConverter : JsonConverter<string>
    {
        public override bool HandleNull => true;

        public override string Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            if (reader.TokenType == JsonTokenType.String) return reader.GetString()!;
            if (reader.TokenType != JsonTokenType.StartArray) throw new JsonException("loss_type must be a string or a list of strings");
            var names = new List<string>();
            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                names.Add(reader.TokenType == JsonTokenType.String ? reader.GetString()! : throw new JsonException("loss_type: each entry of the list must be a string"));
            return string.Join(",", names);
        }

        public override void Write(Utf8JsonWriter writer, string value, JsonSerializerOptions options)
        {
            var names = Split(value);
            if (names.Count == 1) { writer.WriteStringValue(value); return; }
            writer.WriteStartArray();
            foreach (var name in names) writer.WriteStringValue(name);
            writer.WriteEndArray();
        }
    }
}
