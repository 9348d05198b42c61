using static TorchSharp.torch;

namespace RecAlign.Alignment;

/// <summary>
/// Exponential moving averages of a batch statistic's mean and (unbiased) std, as β-DPO and α-DPO keep them:
/// x ← m·x + (1−m)·batch value, starting at 0. Values stay on the device (no sync per step) outside dispose scopes.
/// </summary>
public sealed class RunningMoments(double momentum) : IDisposable
{
    private Tensor? mean, std;

    public double Momentum { get; } = PreferenceLossChecks.InRange(momentum, 0.0, 1.0, "momentum", openHigh: true);

    /// <summary>Current values as doubles (synchronises with the device); zeros before the first update.</summary>
    public (double Mean, double Std) Values => (mean?.item<double>() ?? 0.0, std?.item<double>() ?? 0.0);

    public void Restore(double meanValue, double stdValue)
    {
        Dispose();
        mean = tensor(meanValue, ScalarType.Float64).DetachFromDisposeScope();
        std = tensor(stdValue, ScalarType.Float64).DetachFromDisposeScope();
    }

    /// <summary>Folds in the batch's values and returns the updated (mean, std) as scalars of <paramref name="values"/>'
    /// dtype in the caller's scope. A single value has no spread: its std counts as 0.</summary>
    public (Tensor Mean, Tensor Std) Update(Tensor values)
    {
        using var noGrad = no_grad();
        var flat = values.detach().reshape(-1);
        if (mean is null || mean.device_type != flat.device_type || mean.device_index != flat.device_index)
        {
            var (m, s) = Values;
            Dispose();
            mean = tensor(m, ScalarType.Float64, flat.device).DetachFromDisposeScope();
            std = tensor(s, ScalarType.Float64, flat.device).DetachFromDisposeScope();
        }
        var batchMean = flat.mean().to(ScalarType.Float64);
        var batchStd = flat.shape[0] > 1 ? flat.std().to(ScalarType.Float64) : zeros_like(batchMean);
        mean.mul_(Momentum).add_(batchMean, alpha: 1 - Momentum);
        std!.mul_(Momentum).add_(batchStd, alpha: 1 - Momentum);
        // Copies: the state is updated in place next step, and callers may still hold these (e.g. as logged stats).
        return (mean.clone().to(values.dtype), std.clone().to(values.dtype));
    }

    public void Dispose()
    {
        mean?.Dispose();
        std?.Dispose();
        mean = std = null;
    }
}
