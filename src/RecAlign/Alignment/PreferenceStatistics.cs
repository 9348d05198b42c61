using static TorchSharp.torch;

namespace RecAlign.Alignment;

/// <summary>
/// The statistics TRL's DPOTrainer logs, extended to K negatives. Rewards are the loss's implicit rewards
/// (β(log πθ − log πref) for reference-based losses, β·log πθ/|y| for SimPO). All values are detached scalar
/// tensors (means over the batch):
/// <list type="bullet">
/// <item><c>rewards/chosen</c>, <c>rewards/rejected</c> (mean over B and K), <c>rewards/margins</c> = mean of
/// chosen − mean_k rejected;</item>
/// <item><c>rewards/accuracies</c>: share of examples whose chosen reward is strictly above <em>every</em> rejected
/// reward (TRL's chosen &gt; rejected when K=1);</item>
/// <item><c>rewards/pairwise_accuracies</c>: share of (example, negative) pairs the chosen reward wins (equals
/// <c>rewards/accuracies</c> when K=1);</item>
/// <item><c>logps/chosen</c>, <c>logps/rejected</c>: mean summed policy log-probs.</item>
/// </list>
/// </summary>
public static class PreferenceStatistics
{
    public const string RewardsChosen = "rewards/chosen";
    public const string RewardsRejected = "rewards/rejected";
    public const string RewardsMargins = "rewards/margins";
    public const string RewardsAccuracies = "rewards/accuracies";
    public const string RewardsPairwiseAccuracies = "rewards/pairwise_accuracies";
    public const string LogpsChosen = "logps/chosen";
    public const string LogpsRejected = "logps/rejected";

    /// <summary>Every key <see cref="Compute"/> returns.</summary>
    public static IReadOnlyList<string> Names { get; } =
        [RewardsChosen, RewardsRejected, RewardsMargins, RewardsAccuracies, RewardsPairwiseAccuracies, LogpsChosen, LogpsRejected];

    /// <param name="chosenRewards">[B]</param>
    /// <param name="rejectedRewards">[B,K]</param>
    /// <param name="policyChosen">[B] summed policy log-probs</param>
    /// <param name="policyRejected">[B,K]</param>
    public static Dictionary<string, Tensor> Compute(Tensor chosenRewards, Tensor rejectedRewards, Tensor policyChosen, Tensor policyRejected)
    {
        using var noGrad = no_grad();
        var c = chosenRewards.detach();
        var r = rejectedRewards.detach();
        var dtype = c.dtype;
        var wins = c.unsqueeze(1) > r;
        return new Dictionary<string, Tensor>
        {
            [RewardsChosen] = c.mean(),
            [RewardsRejected] = r.mean(),
            [RewardsMargins] = (c - r.mean([1])).mean(),
            [RewardsAccuracies] = wins.all(1).to(dtype).mean(),
            [RewardsPairwiseAccuracies] = wins.to(dtype).mean(),
            [LogpsChosen] = policyChosen.detach().mean(),
            [LogpsRejected] = policyRejected.detach().mean(),
        };
    }

    /// <summary>Builds a loss output inside the caller's dispose scope and moves every tensor one scope up.</summary>
    internal static PreferenceLossOutput Output(Tensor perExample, CheckedBatch batch, Tensor chosenRewards, Tensor rejectedRewards)
    {
        var loss = batch.WeightedMean(perExample);
        var stats = Compute(chosenRewards, rejectedRewards, batch.PolicyChosen, batch.PolicyRejected);
        foreach (var t in stats.Values) t.MoveToOuterDisposeScope();
        return new PreferenceLossOutput(loss.MoveToOuterDisposeScope(), perExample.MoveToOuterDisposeScope(), stats);
    }
}
