using static TorchSharp.torch;

namespace RecAlign.Alignment;

/// <summary>
/// DiscoPOP, the log-ratio modulated loss (Lu et al. 2024, "Discovering Preference Optimization Algorithms with and for
/// Large Language Models", Eq. 5; TRL <c>loss_type="discopop"</c>): with z = βh (h as in <see cref="DpoLoss"/>) and
/// the mixing weight m = σ(z/τ), L = (1 − m)(−log σ(z)) + m·exp(−z), a blend of the logistic (DPO) and exponential
/// losses. m·exp(−z) is computed as exp(log σ(z/τ) − z), the same value without 0·∞ at very negative z.
/// τ is <c>discopop_tau</c>, 0.05 by default (the paper's and TRL's). Mean over K negatives.
/// </summary>
public sealed class DiscoPopLoss(double beta = 0.1, double tau = 0.05) : IPreferenceLoss
{
    public double Beta { get; } = PreferenceLossChecks.Positive(beta, "beta");
    public double Tau { get; } = PreferenceLossChecks.Positive(tau, "discopop_tau");

    public string Name => "discopop";
    public bool RequiresReference => true;
    public bool RequiresLengths => false;

    /// <summary>Per-example loss [B] from chosen [B] and rejected [B,K] log-ratios.</summary>
    public static Tensor PerExample(Tensor chosenLogRatios, Tensor rejectedLogRatios, double beta, double tau)
    {
        var z = beta * (chosenLogRatios.unsqueeze(1) - rejectedLogRatios);
        var logistic = nn.functional.sigmoid(-z / tau) * -nn.functional.logsigmoid(z);
        var exponential = (nn.functional.logsigmoid(z / tau) - z).exp();
        return (logistic + exponential).mean([1]);
    }

    public PreferenceLossOutput Compute(PreferenceBatchLogps batch)
    {
        using var scope = NewDisposeScope();
        var b = CheckedBatch.From(batch, Name, RequiresReference, RequiresLengths);
        var chosen = b.ChosenLogRatios;
        var rejected = b.RejectedLogRatios;
        return PreferenceStatistics.Output(PerExample(chosen, rejected, Beta, Tau), b, Beta * chosen, Beta * rejected);
    }
}
