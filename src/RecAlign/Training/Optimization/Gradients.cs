using RecAlign.Numerics;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RecAlign.Training.Optimization;

/// <summary>Global-norm clipping and gradient zeroing over parameter lists.</summary>
public static class Gradients
{
    /// <summary>
    /// L2 norm of all gradients as if concatenated, as an fp32 0-dim tensor (the caller owns it), computed without any
    /// host sync: per-parameter squared norms are stacked and summed. bf16/fp16 grads are squared and summed in fp32.
    /// Parameters without a gradient are skipped; with none at all the result is 0.
    /// </summary>
    public static Tensor GlobalNorm(IEnumerable<Parameter> parameters)
    {
        using var scope = torch.NewDisposeScope();
        var grads = parameters.Select(p => p.grad).OfType<Tensor>().ToList();
        return GlobalNormOfGrads(grads).MoveToOuterDisposeScope();
    }

    /// <summary><see cref="GlobalNorm"/> over gradient tensors themselves (e.g. flat grad buffers).</summary>
    public static Tensor GlobalNormOfGrads(IReadOnlyList<Tensor> grads)
    {
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var squares = new List<Tensor>(grads.Count);
        foreach (var g in grads)
        {
            squares.Add(g.dtype is ScalarType.Float32 or ScalarType.Float64
                ? Square(g.norm().to(ScalarType.Float32))
                : g.Squared().sum(ScalarType.Float32));
        }
        var total = squares.Count == 0 ? torch.zeros([], ScalarType.Float32) : torch.stack(squares).sum().sqrt_();
        return total.MoveToOuterDisposeScope();

        static Tensor Square(Tensor t) => t.mul_(t);
    }

    /// <summary>
    /// Scales all gradients in place by min(1, maxNorm / (norm + 1e-6)) (PyTorch's <c>clip_grad_norm_</c>) and returns
    /// the pre-clip global norm (caller owns it). A non-finite norm propagates into the grads as in PyTorch; check
    /// the returned norm to skip such steps.
    /// </summary>
    public static Tensor ClipGradNorm(IEnumerable<Parameter> parameters, double maxNorm)
    {
        using var scope = torch.NewDisposeScope();
        var grads = parameters.Select(p => p.grad).OfType<Tensor>().ToList();
        return ClipGradNormOfGrads(grads, maxNorm).MoveToOuterDisposeScope();
    }

    /// <summary><see cref="ClipGradNorm"/> over gradient tensors themselves (e.g. flat grad buffers).</summary>
    public static Tensor ClipGradNormOfGrads(IReadOnlyList<Tensor> grads, double maxNorm)
    {
        if (!(maxNorm > 0)) throw new ArgumentOutOfRangeException(nameof(maxNorm), maxNorm, "max norm must be > 0");
        var total = GlobalNormOfGrads(grads);
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var coef = total.add(1e-6).reciprocal_().mul_(maxNorm).clamp_max_(1.0);
        foreach (var g in grads) g.mul_(coef);
        return total;
    }

    /// <summary>Sets grads to none (cheapest: one call per parameter, next backward allocates) or zeroes them in place.</summary>
    public static void ZeroGrad(IEnumerable<Parameter> parameters, bool setToNone = true)
    {
        using var noGrad = torch.no_grad();
        foreach (var p in parameters)
        {
            if (setToNone)
            {
                p.grad = null;
            }
            else
            {
                using var g = p.grad;
                g?.zero_();
            }
        }
    }
}

/// <summary>
/// Gradient accumulation over <see cref="Steps"/> micro-batches: scale each micro-batch loss by <see cref="LossScale"/>
/// (1/steps) before backward, call <see cref="Tick"/> after it, and step/clip/zero when it returns true.
/// Gradients add up in <c>.grad</c> across backward calls, so nothing else is needed. State: <see cref="MicroStep"/>.
/// </summary>
public sealed class GradientAccumulation
{
    public int Steps { get; }
    public int MicroStep { get; private set; }
    public double LossScale => 1.0 / Steps;

    public GradientAccumulation(int steps, int microStep = 0)
    {
        if (steps < 1) throw new ArgumentOutOfRangeException(nameof(steps), steps, "accumulation steps must be >= 1");
        if (microStep < 0 || microStep >= steps) throw new ArgumentOutOfRangeException(nameof(microStep), microStep, $"micro step must be in [0, {steps})");
        (Steps, MicroStep) = (steps, microStep);
    }

    /// <summary>Records one backward; true when the optimizer should step now (then the cycle restarts).</summary>
    public bool Tick()
    {
        if (++MicroStep < Steps) return false;
        MicroStep = 0;
        return true;
    }
}
