using RecAlign.Models.Sequential.Losses;
using static TorchSharp.torch;

namespace RecAlign.Tests.Models.Sequential;

public class SequentialLossTests
{
    [Fact]
    public void BprLossHandComputedValueAndGradient()
    {
        // −mean log σ(s⁺ − s⁻): pairs (2, 1) and (0, 1): [softplus(−1) + softplus(1)] / 2 = [0.313262 + 1.313262] / 2.
        var pos = tensor(new[] { 2.0, 0.0 }, requires_grad: true);
        var neg = tensor(new[] { 1.0, 1.0 }, requires_grad: true);
        var loss = BprLoss.Compute(pos, neg);
        Assert.Equal((Math.Log(1 + Math.Exp(-1)) + Math.Log(1 + Math.Exp(1))) / 2, loss.item<double>(), 1e-9);
        loss.backward();
        // ∂/∂s⁺ = −σ(−(s⁺ − s⁻)) / B
        var g = pos.grad!.data<double>().ToArray();
        Assert.Equal(-1 / (1 + Math.Exp(1)) / 2, g[0], 1e-9);
        Assert.Equal(-1 / (1 + Math.Exp(-1)) / 2, g[1], 1e-9);
        Assert.Equal(-g[0], neg.grad!.data<double>()[0], 1e-9);
        GradientCheck(x => BprLoss.Compute(x.narrow(0, 0, 2), x.narrow(0, 2, 2)), [0.3, -1.2, 0.7, 2.0]);
    }

    [Fact]
    public void SampledSoftmaxHandComputedValueAccidentalHitsAndGradient()
    {
        // One row: s⁺ = 1, negatives (0, 2); the second is the target itself (masked): loss = log(e¹ + e⁰) − 1.
        var pos = tensor(new[] { 1.0 });
        var neg = tensor(new[,] { { 0.0, 2.0 } });
        var hits = tensor(new[,] { { false, true } });
        Assert.Equal(Math.Log(Math.E + 1) - 1, SampledSoftmaxLoss.Compute(pos, neg, hits).item<double>(), 1e-9);
        Assert.Equal(Math.Log(Math.E + 1 + Math.Exp(2)) - 1, SampledSoftmaxLoss.Compute(pos, neg).item<double>(), 1e-9);
        GradientCheck(x => SampledSoftmaxLoss.Compute(x.narrow(0, 0, 2), x.narrow(0, 2, 4).reshape(2, 2)), [0.5, -0.3, 1.1, -2.0, 0.4, 0.9]);
    }

    /// <summary>Central differences against autograd in float64.</summary>
    private static void GradientCheck(Func<Tensor, Tensor> f, double[] at)
    {
        var x = tensor(at, requires_grad: true);
        f(x).backward();
        var analytic = x.grad!.data<double>().ToArray();
        const double h = 1e-6;
        for (int i = 0; i < at.Length; i++)
        {
            var plus = (double[])at.Clone(); plus[i] += h;
            var minus = (double[])at.Clone(); minus[i] -= h;
            double numeric = (f(tensor(plus)).item<double>() - f(tensor(minus)).item<double>()) / (2 * h);
            Assert.Equal(numeric, analytic[i], 1e-6);
        }
    }
}
