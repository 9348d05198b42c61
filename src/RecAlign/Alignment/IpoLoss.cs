using static TorchSharp.torch;

namespace RecAlign.Alignment;

/// <summary>
/// IPO (Azar et al. 2023, "A General Theoretical Paradigm to Understand Learning from Human Preferences", Eq. 17;
/// TRL <c>loss_type="ipo"</c>): log-ratios are averaged per response token, as TRL does,
/// h = (log πθ(y+) − log πref(y+))/|y+| − (log πθ(y−) − log πref(y−))/|y−|,  L = (h − 1/(2β))².
/// β is the paper's τ. Mean over K negatives. Logged rewards use the summed log-ratios, as TRL logs them.
/// </summary>
public sealed class IpoLoss(double beta = 0.1) : IPreferenceLoss
{
    public double Beta { get; } = PreferenceLossChecks.Positive(beta, "beta");

    public string Name => "ipo";
    public bool RequiresReference => true;
    public bool RequiresLengths => true;

    /// <summary>Per-example loss [B] from length-averaged chosen [B] and rejected [B,K] log-ratios.</summary>
    public static Tensor PerExample(Tensor chosenAvgLogRatios, Tensor rejectedAvgLogRatios, double beta)
    {
        var h = chosenAvgLogRatios.unsqueeze(1) - rejectedAvgLogRatios;
        return (h - 1.0 / (2.0 * beta)).square().mean([1]);
    }

    public PreferenceLossOutput Compute(PreferenceBatchLogps batch)
    {
        using var scope = NewDisposeScope();
        var b = CheckedBatch.From(batch, Name, RequiresReference, RequiresLengths);
        var chosen = b.ChosenLogRatios;
        var rejected = b.RejectedLogRatios;
        var per = PerExample(chosen / b.ChosenLengths!, rejected / b.RejectedLengths!, Beta);
        return PreferenceStatistics.Output(per, b, Beta * chosen, Beta * rejected);
    }
}
