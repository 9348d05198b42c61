using System.Text.Json.Nodes;
using static TorchSharp.torch;

namespace RecAlign.Alignment;

/// <summary>How CausalDPO maps environment features into the space its centres live in.</summary>
public enum EnvironmentProjection
{
    /// <summary>The standardised features themselves.</summary>
    Fixed,
    /// <summary>A learned linear map (identity at the start) trained against the policy through gradient reversal: it
    /// moves the environments to where the adjusted risk and the invariance penalties are largest (EIIL's environment
    /// inference), while the policy lowers them. Trained the ordinary way, by descent on the same loss, a projection
    /// only learns to erase the environments: the batch-prior L_BA does not depend on q, and MMD and Var_k(L_k) are
    /// 0 when every environment looks alike.</summary>
    Adversarial,
}

/// <summary>What CausalDPO infers its environments from.</summary>
public enum EnvironmentFeatures
{
    /// <summary>Each prompt's mean final hidden state under the frozen reference (the SFT model before training).</summary>
    ReferencePrompt,
    /// <summary>A frozen sentence embedding (all-MiniLM-L6-v2) of the user's history titles.</summary>
    HistoryText,
    /// <summary>The environment each example is known to come from (<see cref="Prompts.PreferenceExample.Environment"/>,
    /// e.g. the period its target happened in), one-hot: the control that tells whether CausalDPO helps once its
    /// environments are right, apart from whether they can be inferred.</summary>
    Given,
}

/// <summary>How CausalDPO weighs its environments in the backdoor adjustment.</summary>
public enum EnvironmentPrior
{
    /// <summary>P(k) = (1/B)·Σ_i q_ik, the batch marginal. Then Σ_k P(k)·L_k = mean_i ℓ_i exactly (see
    /// <see cref="CausalDpoLoss"/>): the adjustment is S-DPO and only the invariance penalties act.</summary>
    Batch,
    /// <summary>P(k) = 1/K (the released code's choice): every environment counts equally, whatever its size, so an
    /// environment the data under-represents is not drowned out by a dominant one.</summary>
    Uniform,
    /// <summary>P(k) = a running mean (momentum <c>causal_dpo_centre_momentum</c>) of the batch marginals: the training
    /// set's P(k), not one batch's; kept in checkpoints.</summary>
    Running,
}

/// <summary>
/// CausalDPO (distributionally robust generative recommendation; arXiv 2603.22335), as the paper states it rather
/// than as its code runs (../shared/notes/methods: the released code weighs every environment with the whole batch).
/// With per-example S-DPO losses ℓ_i (<see cref="SoftmaxDpoLoss"/>, times the batch's weights w_i when given),
/// environment features z_i [B, D] and representations x_i [B, R] from the batch:
/// q_ik = softmax_k(−‖z_i − c_k‖ / (τ√D)) against a bank of centres c_k (<see cref="EnvironmentCentres"/>);
/// L_k = Σ_i q_ik ℓ_i / Σ_i q_ik; L_BA = Σ_k P(k)·L_k (backdoor adjustment, <see cref="EnvironmentPrior"/>);
/// MMD = mean over pairs k ≠ k′ of ‖μ_k − μ_k′‖²_H with μ_k = Σ_i (q_ik / Σ_j q_jk)·φ(x_i), RBF kernel
/// exp(−‖x − x′‖² / 2σ²) (σ: the median pairwise distance when <c>mmd_sigma</c> is 0);
/// L = L_BA + λ·MMD + μ·Var_k(L_k) (V-REx). K = 1 is S-DPO. With the batch prior, Σ_k P(k)·L_k =
/// Σ_k (1/B)Σ_i q_ik ℓ_i = (1/B)Σ_i ℓ_i Σ_k q_ik = mean_i ℓ_i, because each row of q sums to 1.
/// Stateful (the centre bank, the running prior): one instance per training run, saved with checkpoints.
/// </summary>
public sealed class CausalDpoLoss : IPreferenceLoss, IDisposable, Training.ICheckpointState
{
    public const string BackdoorStat = "causal_dpo/backdoor_loss";
    public const string MmdStat = "causal_dpo/mmd";
    public const string VrexStat = "causal_dpo/vrex";
    public const string ConfidenceStat = "causal_dpo/assignment_confidence";
    public static string SizeStat(int k) => $"causal_dpo/env{k}_size";
    public static string LossStat(int k) => $"causal_dpo/env{k}_loss";

    private Tensor? _runningPrior;
    private TorchSharp.Modules.Parameter? _projectionWeight, _projectionBias;

    public CausalDpoLoss(double beta = 1.0, int environments = 2, double temperature = 0.1, EnvironmentPrior prior = EnvironmentPrior.Batch,
        double mmdWeight = 1e-3, double mmdSigma = 0, double vrexWeight = 0, double centreMomentum = 0.9, long seed = 0,
        EnvironmentProjection projection = EnvironmentProjection.Fixed, EnvironmentFeatures features = EnvironmentFeatures.ReferencePrompt,
        double projectionLrScale = 100)
    {
        ProjectionLrScale = PreferenceLossChecks.Positive(projectionLrScale, "causal_dpo_projection_lr_scale");
        Projection = projection;
        Features = features;
        Beta = PreferenceLossChecks.Positive(beta, "beta");
        Temperature = PreferenceLossChecks.Positive(temperature, "causal_dpo_temperature");
        MmdWeight = PreferenceLossChecks.InRange(mmdWeight, 0.0, double.MaxValue, "causal_dpo_mmd_weight", openHigh: false);
        MmdSigma = PreferenceLossChecks.InRange(mmdSigma, 0.0, double.MaxValue, "causal_dpo_mmd_sigma", openHigh: false);
        VrexWeight = PreferenceLossChecks.InRange(vrexWeight, 0.0, double.MaxValue, "causal_dpo_vrex_weight", openHigh: false);
        Prior = prior;
        Centres = new EnvironmentCentres(environments, centreMomentum, seed);
    }

    public double Beta { get; }
    public EnvironmentProjection Projection { get; }
    public EnvironmentFeatures Features { get; }
    /// <summary>The adversarial projection's learning rate as a multiple of the policy's.</summary>
    public double ProjectionLrScale { get; }
    public double Temperature { get; }
    public EnvironmentPrior Prior { get; }
    public double MmdWeight { get; }
    public double MmdSigma { get; }
    public double VrexWeight { get; }
    public EnvironmentCentres Centres { get; }
    public int Environments => Centres.Count;
    public long Steps { get; private set; }

    public string Name => "causaldpo";
    public bool RequiresReference => true;
    public bool RequiresLengths => false;
    public bool RequiresEnvironments => Environments > 1;

    /// <summary>The adversarial projection's weight and bias once <see cref="InitialiseEnvironments"/> has seen the
    /// features' width (none for the fixed projection): the trainer optimises and checkpoints them.</summary>
    public IEnumerable<(string Name, TorchSharp.Modules.Parameter Parameter)> Parameters =>
        _projectionWeight is null ? [] : [("causal_dpo.environment_projection.weight", _projectionWeight), ("causal_dpo.environment_projection.bias", _projectionBias!)];

    /// <summary>Creates the projection (identity, zero bias) for features [N, D] and fits the centre bank by k-means
    /// on them: call once with the whole training set's features before training.</summary>
    public void InitialiseEnvironments(Tensor features)
    {
        if (Projection == EnvironmentProjection.Adversarial && _projectionWeight is null)
        {
            long d = features.shape[1];
            using var noGrad = no_grad();
            var dtype = features.dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;
            // Parameters outlive any caller's dispose scope.
            _projectionWeight = new TorchSharp.Modules.Parameter(eye(d, dtype: dtype, device: features.device));
            _projectionBias = new TorchSharp.Modules.Parameter(zeros(d, dtype, features.device));
            _projectionWeight.DetachFromDisposeScope();
            _projectionBias.DetachFromDisposeScope();
        }
        Centres.Fit(features); // the projection starts as the identity: the projected features are the features
    }

    /// <summary>The features in centre space: the fixed features, or the projection's output with its gradient
    /// reversed (forward value z, gradient −∂L/∂z), so one optimizer step moves the policy down and the projection up.</summary>
    private Tensor Project(Tensor features, out Tensor detached)
    {
        if (_projectionWeight is null) { detached = features.detach(); return features; }
        var z = nn.functional.linear(features.to(_projectionWeight.dtype), _projectionWeight, _projectionBias).to(features.dtype);
        detached = z.detach();
        return 2 * detached - z;
    }

    /// <summary>q [B, K] = softmax_k(−‖z_i − c_k‖ / (τ√D)). Distances between standardised D-dimensional features grow
    /// like √D, so without the √D the assignment is one-hot at any τ for LM-width features.</summary>
    public static Tensor SoftAssignments(Tensor features, Tensor centres, double temperature) =>
        (-cdist(features, centres.to(features.dtype)) / (temperature * Math.Sqrt(features.shape[1]))).softmax(1);

    /// <summary>L_k [K] = Σ_i q_ik ℓ_i / Σ_i q_ik.</summary>
    public static Tensor EnvironmentLosses(Tensor perExample, Tensor assignments) =>
        assignments.t().matmul(perExample) / assignments.sum(dim: 0).clamp_min(1e-12);

    /// <summary>Mean over ordered pairs k ≠ k′ of the squared RBF-kernel MMD between the q-weighted kernel means of
    /// <paramref name="x"/> [B, R]; 0 for one environment or identical weight columns.</summary>
    public static Tensor Mmd(Tensor x, Tensor assignments, double sigma)
    {
        long k = assignments.shape[1];
        if (k < 2) return zeros(1, x.dtype, x.device).squeeze(0);
        var d2 = cdist(x, x).square();
        double s = sigma > 0 ? sigma : MedianSigma(d2);
        var kernel = (-d2 / (2 * s * s)).exp();                                        // [B, B]
        var a = assignments / assignments.sum(0, keepdim: true).clamp_min(1e-12);       // columns sum to 1
        var m = a.t().matmul(kernel).matmul(a);                                        // [K, K]: <μ_k, μ_k'>
        var diag = m.diagonal();
        var dist = diag.unsqueeze(1) + diag.unsqueeze(0) - 2 * m;
        return dist.sum() / (k * (k - 1));
    }

    /// <summary>The median heuristic: σ = median distance between distinct rows (1 when they all coincide).</summary>
    public static double MedianSigma(Tensor squaredDistances)
    {
        using var noGrad = no_grad();
        long n = squaredDistances.shape[0];
        if (n < 2) return 1;
        var upper = squaredDistances.detach().masked_select(ones(n, n, ScalarType.Bool, squaredDistances.device).triu(1));
        double median = upper.median().sqrt().to(ScalarType.Float64).item<double>();
        return median > 0 && double.IsFinite(median) ? median : 1;
    }

    public PreferenceLossOutput Compute(PreferenceBatchLogps batch)
    {
        using var scope = NewDisposeScope();
        var b = CheckedBatch.From(batch, Name, RequiresReference, RequiresLengths);
        var chosen = b.ChosenLogRatios;
        var rejected = b.RejectedLogRatios;
        var perExample = SoftmaxDpoLoss.PerExample(chosen, rejected, Beta);
        var weighted = b.Weights is null ? perExample : perExample * b.Weights;
        if (Environments == 1)
        {
            Steps++;
            return PreferenceStatistics.Output(perExample, b, Beta * chosen, Beta * rejected);
        }
        var z = b.Environments ?? throw new ArgumentException($"{Name}: PreferenceBatchLogps.Environments are required (the features environments are inferred from)");
        var x = b.Representations ?? throw new ArgumentException($"{Name}: PreferenceBatchLogps.Representations are required (what the invariance penalty compares across environments)");
        // Fitted by the objective on the whole training set; a loss used on its own falls back to the first batch, unless
        // it has a projection to train, which the trainer must see before the first step.
        if (Centres.Centres is null)
        {
            if (Projection == EnvironmentProjection.Adversarial)
                throw new InvalidOperationException($"{Name}: call InitialiseEnvironments with the training set's features before training (the adversarial projection's parameters must exist before the optimizer is built)");
            InitialiseEnvironments(z);
        }
        Centres.MoveTo(z.device);
        if (Centres.Centres!.shape[1] != z.shape[1])
            throw new ArgumentException($"{Name}: environment features have width {z.shape[1]} but the centres {Centres.Centres.shape[1]}");
        var projected = Project(z, out var zDetached);
        var q = SoftAssignments(projected, Centres.Centres, Temperature);
        var envLosses = EnvironmentLosses(weighted, q);
        var marginal = q.mean([0]);
        var prior = Prior switch
        {
            EnvironmentPrior.Uniform => full(Environments, 1.0 / Environments, z.dtype, z.device),
            EnvironmentPrior.Running => UpdateRunningPrior(marginal),
            _ => marginal,
        };
        var backdoor = (prior * envLosses).sum();
        var mmd = Mmd(x, q, MmdSigma);
        var vrex = envLosses.var(0, unbiased: false);
        var loss = backdoor + MmdWeight * mmd + VrexWeight * vrex;
        // Each example's share of L_BA, scaled by B so that the mean of PerExample is L_BA.
        var share = (q / q.sum(0, keepdim: true).clamp_min(1e-12)).matmul(prior) * b.B;
        var rows = share * perExample;

        using (no_grad()) Centres.Update(zDetached, q);
        Steps++;

        var stats = PreferenceStatistics.Compute(Beta * chosen, Beta * rejected, b.PolicyChosen, b.PolicyRejected);
        stats[BackdoorStat] = backdoor.detach();
        stats[MmdStat] = mmd.detach();
        stats[VrexStat] = vrex.detach();
        stats[ConfidenceStat] = q.detach().max(1).values.mean();
        for (int k = 0; k < Environments; k++)
        {
            stats[SizeStat(k)] = marginal[k].detach();
            stats[LossStat(k)] = envLosses[k].detach();
        }
        foreach (var t in stats.Values) t.MoveToOuterDisposeScope();
        return new PreferenceLossOutput(loss.MoveToOuterDisposeScope(), rows.MoveToOuterDisposeScope(), stats);
    }

    private Tensor UpdateRunningPrior(Tensor marginal)
    {
        using var noGrad = no_grad();
        var m = marginal.detach().to(ScalarType.Float64);
        var next = _runningPrior is null ? m : Centres.Momentum * _runningPrior.to(m.device) + (1 - Centres.Momentum) * m;
        SetRunningPrior(next.clone());
        return _runningPrior!.to(marginal.dtype);
    }

    private void SetRunningPrior(Tensor? value)
    {
        var old = _runningPrior;
        _runningPrior = value?.detach().DetachFromDisposeScope();
        old?.Dispose();
    }

    public JsonObject SaveState()
    {
        var state = new JsonObject { ["loss"] = Name, ["steps"] = Steps, ["centres"] = Centres.Save() };
        if (_runningPrior is not null)
            state["running_prior"] = new JsonArray(_runningPrior.cpu().data<double>().ToArray().Select(v => (JsonNode)JsonValue.Create(v)!).ToArray());
        return state;
    }

    public void LoadState(JsonObject state)
    {
        Steps = (long)CheckpointStates.Number(state, Name, "steps");
        Centres.Load(state["centres"] as JsonArray, Name, CPU);
        if (state["running_prior"] is JsonArray prior)
        {
            var values = prior.Select(v => v is JsonValue j && j.TryGetValue<double>(out var d) ? d
                : throw new FormatException($"the checkpoint's objective state for '{Name}' has a non-numeric running prior")).ToArray();
            if (values.Length != Environments) throw new FormatException($"the checkpoint's objective state for '{Name}' has a running prior over {values.Length} environments, not {Environments}");
            SetRunningPrior(tensor(values, ScalarType.Float64));
        }
        else SetRunningPrior(null);
    }

    public void Dispose()
    {
        _projectionWeight?.Dispose();
        _projectionBias?.Dispose();
        Centres.Dispose();
        _runningPrior?.Dispose();
    }
}
