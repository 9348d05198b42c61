using RecAlign.Training.Optimization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RecAlign.Tests.Training;

public class FlatParametersTests
{
    private static (string, Parameter)[] Make(long seed, ScalarType dtype = ScalarType.Float32)
    {
        var g = new Generator((ulong)seed);
        using var a = randn([3, 4], generator: g);
        using var b = randn([3], generator: g);
        using var c = randn([5, 3], generator: g);
        return [("a.weight", new Parameter(a.to(dtype).clone())), ("a.bias", new Parameter(b.to(dtype).clone())), ("c.weight", new Parameter(c.to(dtype).clone()))];
    }

    private static Tensor Loss((string, Parameter)[] ps, Tensor x)
    {
        var h = x.to(ps[0].Item2.dtype).matmul(ps[0].Item2.t()) + ps[1].Item2; // x [n,4] → [n,3] → [n,5]
        return h.matmul(ps[2].Item2.t()).to(ScalarType.Float32).pow(2).mean();
    }

    [Fact]
    public void PackKeepsValuesAndBackwardFillsFlatGrad()
    {
        var ps = Make(1);
        var reference = Make(1);
        var x = randn([6, 4], generator: new Generator(2));
        using var flat = new FlatParameters(ps);
        for (int i = 0; i < ps.Length; i++) Assert.True(ps[i].Item2.Equals(reference[i].Item2));
        Assert.Equal(0, flat.Entries[0].Offset);
        Assert.Equal(16, flat.Entries[1].Offset); // 12 floats padded to 64 bytes
        Assert.True(ps[0].Item2.requires_grad);

        for (int round = 0; round < 2; round++)
        {
            flat.ZeroGrad();
            foreach (var (_, p) in reference) p.grad = null;
            using (var l = Loss(ps, x)) l.backward();
            using (var l = Loss(reference, x)) l.backward();
            Assert.Equal(0, flat.EnsureGradsAttached());
            for (int i = 0; i < ps.Length; i++)
            {
                using var view = flat.ViewOf(flat.Grad, i);
                using var expected = reference[i].Item2.grad!;
                Assert.True(view.allclose(expected, rtol: 1e-6, atol: 1e-7), $"grad of {ps[i].Item1}");
            }
        }
        // Writing through the flat buffer changes the parameters (they are views).
        using (var _ = no_grad()) flat.Data.add_(1.0);
        using var diff = ps[2].Item2 - reference[2].Item2;
        Assert.True(diff.allclose(ones_like(diff)));
    }

    [Fact]
    public void RepairsGradsSetToNone()
    {
        var ps = Make(3);
        var x = randn([6, 4], generator: new Generator(4));
        using var flat = new FlatParameters(ps);
        Gradients.ZeroGrad(ps.Select(p => p.Item2)); // detaches the views
        using (var l = Loss(ps, x)) l.backward();    // backward allocates fresh grads
        using var g0 = ps[0].Item2.grad!.clone();
        Assert.Equal(3, flat.EnsureGradsAttached());
        using var view = flat.ViewOf(flat.Grad, 0);
        Assert.True(view.Equals(g0));
        Assert.Equal(0, flat.EnsureGradsAttached());
        flat.ZeroGrad();
        using var g = ps[0].Item2.grad!;
        Assert.Equal(0f, g.abs().sum().item<float>());
    }

    [Fact]
    public void RejectsMixedDtypes()
    {
        var ps = Make(5);
        var e = Assert.Throws<ArgumentException>(() => new FlatParameters([ps[0], ("half", new Parameter(zeros(2, dtype: ScalarType.BFloat16)))]));
        Assert.Contains("half", e.Message);
    }

    [Fact]
    public void WorksThroughTorchSharpModules()
    {
        manual_seed(21);
        var model = nn.Sequential(("fc1", nn.Linear(4, 8)), ("act", nn.ReLU()), ("fc2", nn.Linear(8, 2)));
        var reference = nn.Sequential(("fc1", nn.Linear(4, 8)), ("act", nn.ReLU()), ("fc2", nn.Linear(8, 2)));
        reference.load_state_dict(model.state_dict());
        var x = randn([5, 4], generator: new Generator(22));
        using var opt = new RecAlign.Training.Optimization.AdamW(ParameterGroups.Default(model.named_parameters(), 0.1), lr: 0.05, flatten: true);
        using var refOpt = new RecAlign.Training.Optimization.AdamW(ParameterGroups.Default(reference.named_parameters(), 0.1), lr: 0.05);
        for (int i = 0; i < 4; i++)
        {
            opt.ZeroGrad(); refOpt.ZeroGrad();
            using (var l = model.forward(x).pow(2).mean()) l.backward();
            using (var l = reference.forward(x).pow(2).mean()) l.backward();
            opt.Step(); refOpt.Step();
        }
        using var a = model.forward(x);
        using var b = reference.forward(x);
        Assert.True(a.allclose(b, rtol: 1e-5, atol: 1e-6));
        // The module's own parameter handles see the flat storage.
        foreach (var ((name, p), (_, q)) in model.named_parameters().Zip(reference.named_parameters()))
            Assert.True(p.allclose(q, rtol: 1e-5, atol: 1e-6), name);
    }
}
