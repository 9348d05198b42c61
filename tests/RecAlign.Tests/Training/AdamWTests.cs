using RecAlign.Training.Optimization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using AdamW = RecAlign.Training.Optimization.AdamW;

namespace RecAlign.Tests.Training;

public class AdamWTests
{
    private static Parameter Param(float[] values, ScalarType dtype = ScalarType.Float32, params long[] shape)
    {
        using var t = tensor(values).reshape(shape.Length == 0 ? [values.Length] : shape).to(dtype);
        return new Parameter(t.clone(), requires_grad: true);
    }

    private static void SetGrad(Parameter p, float[] g)
    {
        using var t = tensor(g).reshape(p.shape).to(p.dtype);
        p.grad = t;
    }

    private static float[] Values(Tensor t) => t.to(ScalarType.Float32).data<float>().ToArray();

    [Theory]
    // Hand computation (lr 0.1, betas 0.9/0.999, eps 1e-8, grads [0.5,-1] then [0.1,0.2]):
    // step 1: m̂ = g, v̂ = g², so each element moves by lr·sign(g) (after decay p·(1 − lr·wd)).
    // step 2, element 0: m = 0.9·0.05 + 0.1·0.1 = 0.055, m̂ = 0.055/0.19; v = 0.999·0.00025 + 0.001·0.01 = 0.00025975,
    // v̂ = v/0.001999; Δ = 0.1·m̂/(√v̂ + 1e-8) = 0.080304 → 0.9 − 0.0803 = 0.819696 (wd 0).
    [InlineData(0.0, 0.900000002, -1.900000001, 0.8196959063846518, -1.8488973939904947)]
    [InlineData(0.1, 0.890000002, -1.880000001, 0.8007959063646517, -1.8100973939804947)]
    public void TwoStepsMatchHandComputation(double wd, double a1, double b1, double a2, double b2)
    {
        var p = Param([1f, -2f]);
        using var opt = new AdamW([new ParameterGroup("all", [("w", p)], wd)], lr: 0.1);
        SetGrad(p, [0.5f, -1f]);
        opt.Step();
        var v1 = Values(p);
        Assert.Equal(a1, v1[0], 1e-6);
        Assert.Equal(b1, v1[1], 1e-6);
        SetGrad(p, [0.1f, 0.2f]);
        opt.Step();
        var v2 = Values(p);
        Assert.Equal(a2, v2[0], 1e-6);
        Assert.Equal(b2, v2[1], 1e-6);
        Assert.Equal(2, opt.StepCount);
    }

    private sealed record Problem(Tensor X, Tensor Y);

    private static Problem MakeProblem(long seed, int n = 16, int din = 5, int dout = 3)
    {
        var g = new Generator((ulong)seed);
        var x = randn([n, din], generator: g);
        var y = randn([n, dout], generator: g);
        return new Problem(x, y);
    }

    private static (string, Parameter)[] MakeParams(long seed, ScalarType dtype = ScalarType.Float32, int din = 5, int dout = 3)
    {
        var g = new Generator((ulong)seed);
        using var w = randn([din, dout], generator: g);
        using var b = randn([dout], generator: g);
        using var n = ones([dout]);
        return
        [
            ("layer.weight", new Parameter(w.to(dtype).clone())),
            ("layer.bias", new Parameter(b.to(dtype).clone())),
            ("norm.weight", new Parameter(n.to(dtype).clone())),
        ];
    }

    private static float LossBackward((string, Parameter)[] ps, Problem pr)
    {
        using var scope = NewDisposeScope();
        var w = ps[0].Item2; var b = ps[1].Item2; var s = ps[2].Item2;
        var x = pr.X.to(w.dtype);
        var pred = (x.matmul(w) + b) * s;
        var loss = (pred.to(ScalarType.Float32) - pr.Y).pow(2).mean();
        loss.backward();
        return loss.item<float>();
    }

    [Fact]
    public void MatchesTorchAdamWOver20Steps()
    {
        var pr = MakeProblem(1);
        var ours = MakeParams(2);
        var theirs = MakeParams(2);
        using var opt = new AdamW([new ParameterGroup("all", ours, 0.05)], lr: 0.01, beta1: 0.9, beta2: 0.99, eps: 1e-8);
        using var reference = optim.AdamW(theirs.Select(t => t.Item2), lr: 0.01, beta1: 0.9, beta2: 0.99, eps: 1e-8, weight_decay: 0.05);
        for (int i = 0; i < 20; i++)
        {
            opt.ZeroGrad();
            reference.zero_grad();
            LossBackward(ours, pr);
            LossBackward(theirs, pr);
            opt.Step();
            reference.step();
        }
        for (int k = 0; k < ours.Length; k++)
        {
            var a = Values(ours[k].Item2);
            var b = Values(theirs[k].Item2);
            for (int j = 0; j < a.Length; j++) Assert.Equal(b[j], a[j], 2e-5);
        }
    }

    [Fact]
    public void Bf16WithMasterConvergesLikeFp32()
    {
        var pr = MakeProblem(3);
        var f32 = MakeParams(4);
        var bf = MakeParams(4, ScalarType.BFloat16);
        var pureBf = MakeParams(4, ScalarType.BFloat16);
        using var pure = optim.AdamW(pureBf.Select(t => t.Item2), lr: 2e-3); // bf16 state, in-place bf16 updates
        // lr 2e-3 moves weights of size ~1 by less than bf16's spacing (2⁻⁷ near 1): only a master copy accumulates it.
        using var o32 = new AdamW([new ParameterGroup("all", f32, 0.0)], lr: 2e-3);
        using var obf = new AdamW([new ParameterGroup("all", bf, 0.0)], lr: 2e-3);
        Assert.False(o32.UsesMasterWeights);
        Assert.True(obf.UsesMasterWeights);
        float first32 = 0, last32 = 0, lastBf = 0, lastPure = 0;
        for (int i = 0; i < 150; i++)
        {
            o32.ZeroGrad(); obf.ZeroGrad(); pure.zero_grad();
            float l32 = LossBackward(f32, pr), lbf = LossBackward(bf, pr);
            lastPure = LossBackward(pureBf, pr);
            if (i == 0) first32 = l32;
            (last32, lastBf) = (l32, lbf);
            o32.Step(); obf.Step(); pure.step();
        }
        // Observed: fp32 6.62 → 2.854, bf16 + master 2.852, pure bf16 (no master) stalls at 5.77.
        Assert.True(lastPure > last32 + 0.25 * (first32 - last32), $"pure bf16 was expected to lag: {lastPure} vs fp32 {last32}");
        Assert.True(last32 < 0.8 * first32, $"fp32 did not train: {first32} -> {last32}");
        Assert.True(Math.Abs(lastBf - last32) < 0.03 * first32, $"bf16+master loss {lastBf} vs fp32 {last32}");
        Assert.Equal(ScalarType.BFloat16, bf[0].Item2.dtype);
        var sd = obf.StateDict();
        var master = Values(sd["state.layer.weight.master"]);
        var w32 = Values(f32[0].Item2);
        for (int j = 0; j < w32.Length; j++) Assert.Equal(w32[j], master[j], 0.03);
        foreach (var t in sd.Values) t.Dispose();
    }

    [Theory]
    [InlineData(ScalarType.Float32, false)]
    [InlineData(ScalarType.BFloat16, false)]
    [InlineData(ScalarType.Float32, true)]
    [InlineData(ScalarType.BFloat16, true)]
    public void StateDictRoundTripGivesBitIdenticalContinuation(ScalarType dtype, bool flatten)
    {
        var pr = MakeProblem(5);
        var a = MakeParams(6, dtype);
        using var optA = AdamW.FromConfig(a, new OptimizerConfig { LearningRate = 0.01, WeightDecay = 0.1 }, flatten);
        for (int i = 0; i < 3; i++) { optA.ZeroGrad(); LossBackward(a, pr); optA.Step(); }

        var state = optA.StateDict();
        var saved = a.Select(t => t.Item2.detach().clone()).ToArray();
        var b = a.Select((t, k) => (t.Item1, new Parameter(saved[k].clone()))).ToArray();
        using var optB = AdamW.FromConfig(b, new OptimizerConfig { LearningRate = 0.5, WeightDecay = 0.1 }, flatten);
        optB.LoadStateDict(state);
        optB.SetLearningRate(0.01);
        Assert.Equal(3, optB.StepCount);

        for (int i = 0; i < 3; i++)
        {
            optA.ZeroGrad(); LossBackward(a, pr); optA.Step();
            optB.ZeroGrad(); LossBackward(b, pr); optB.Step();
        }
        for (int k = 0; k < a.Length; k++)
            Assert.True(a[k].Item2.Equals(b[k].Item2), $"{a[k].Item1} differs after resume");
        using var sa = NewDisposeScope();
        var da = optA.StateDict(); var db = optB.StateDict();
        Assert.Equal(da.Keys.OrderBy(k => k), db.Keys.OrderBy(k => k));
        foreach (var key in da.Keys) Assert.True(da[key].Equals(db[key]), key);
        foreach (var t in state.Values) t.Dispose();
    }

    [Fact]
    public void StateDictHasDocumentedKeys()
    {
        var ps = MakeParams(7, ScalarType.BFloat16);
        using var opt = AdamW.FromConfig(ps, new OptimizerConfig());
        using var scope = NewDisposeScope();
        var sd = opt.StateDict();
        Assert.Contains("step", sd.Keys);
        foreach (var suffix in new[] { "exp_avg", "exp_avg_sq", "master", "step" })
            Assert.Contains($"state.layer.weight.{suffix}", sd.Keys);
        Assert.Equal(ScalarType.Float32, sd["state.layer.weight.exp_avg"].dtype);
    }

    [Fact]
    public void LoadStateDictRejectsBadInput()
    {
        var ps = MakeParams(8);
        using var opt = AdamW.FromConfig(ps, new OptimizerConfig());
        using var scope = NewDisposeScope();
        var sd = opt.StateDict();
        sd.Remove("state.layer.bias.exp_avg");
        var e = Assert.Throws<KeyNotFoundException>(() => opt.LoadStateDict(sd));
        Assert.Contains("state.layer.bias.exp_avg", e.Message);
        sd = opt.StateDict();
        sd["state.layer.bias.exp_avg"] = zeros(7);
        Assert.Contains("shape", Assert.Throws<ArgumentException>(() => opt.LoadStateDict(sd)).Message);
        sd = opt.StateDict();
        sd["extra"] = zeros(1);
        Assert.Contains("extra", Assert.Throws<ArgumentException>(() => opt.LoadStateDict(sd)).Message);
    }

    [Fact]
    public void DefaultGroupsExcludeNormsBiasesAndVectors()
    {
        var named = new (string, Parameter)[]
        {
            ("model.embed_tokens.weight", new Parameter(zeros(4, 2))),
            ("model.layers.0.self_attn.q_proj.weight", new Parameter(zeros(2, 2))),
            ("model.layers.0.self_attn.q_proj.bias", new Parameter(zeros(2))),
            ("model.layers.0.input_layernorm.weight", new Parameter(zeros(2))),
            ("model.norm.weight", new Parameter(zeros(2))),
            ("model.layers.0.ln_1.weight", new Parameter(zeros(2, 2))), // 2-D but a norm by name
            ("scale", new Parameter(zeros(1))),
            ("frozen.weight", new Parameter(zeros(2, 2), requires_grad: false)),
        };
        var groups = ParameterGroups.Default(named, 0.1);
        Assert.Equal(2, groups.Count);
        Assert.Equal(0.1, groups[0].WeightDecay);
        Assert.Equal(0.0, groups[1].WeightDecay);
        Assert.Equal(["model.embed_tokens.weight", "model.layers.0.self_attn.q_proj.weight"], groups[0].Parameters.Select(p => p.Name));
        Assert.Equal(["model.layers.0.self_attn.q_proj.bias", "model.layers.0.input_layernorm.weight", "model.norm.weight", "model.layers.0.ln_1.weight", "scale"],
            groups[1].Parameters.Select(p => p.Name));
    }

    /// <summary>A prefix names a module (whole dotted components), the longest one wins, and each scaled prefix gets its
    /// own decay / no-decay groups after the default ones.</summary>
    [Fact]
    public void LrScalesSplitTheirPrefixesIntoGroupsOfTheirOwn()
    {
        var named = new[] { "model.embed_tokens.weight", "hybrid.mlp_proj.0.weight", "hybrid.mlp_proj.0.bias", "hybrid.mlp_proj.2.weight", "hybrid_gate.weight" }
            .Select(n => (n, new Parameter(zeros(2, 2)))).ToArray();
        var groups = ParameterGroups.Default(named, 0.1, new Dictionary<string, double> { ["hybrid"] = 10, ["hybrid.mlp_proj.2"] = 3, ["absent"] = 5 });
        Assert.Equal(["decay", "decay:hybrid", "no_decay:hybrid", "decay:hybrid.mlp_proj.2"], groups.Select(g => g.Name));
        Assert.Equal([1.0, 10, 10, 3], groups.Select(g => g.LrScale));
        Assert.Equal(["model.embed_tokens.weight", "hybrid_gate.weight"], groups[0].Parameters.Select(p => p.Name));
        Assert.Equal(["hybrid.mlp_proj.0.weight"], groups[1].Parameters.Select(p => p.Name));
        Assert.Equal(0.0, groups[2].WeightDecay);
        using var opt = new AdamW(groups, lr: 0.01);
        Assert.Equal([0.01, 0.1, 0.1, 0.03], opt.Groups.Select(g => Math.Round(g.LearningRate, 12)));
        Assert.Throws<ArgumentException>(() => ParameterGroups.Default(named, 0.1, new Dictionary<string, double> { ["hybrid."] = 10 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => ParameterGroups.Default(named, 0.1, new Dictionary<string, double> { ["hybrid"] = -1 }));
    }

    [Fact]
    public void WeightDecayOnlyShrinksDecayGroup()
    {
        // Zero gradients make the Adam term 0/(0+eps) = 0, leaving only decoupled decay: p·(1 − lr·wd).
        var w = new Parameter(full(new long[] { 2, 2 }, 2f));
        var n = new Parameter(full(new long[] { 2 }, 2f));
        using var opt = new AdamW(ParameterGroups.Default([("proj.weight", w), ("norm.weight", n)], 0.5), lr: 0.1);
        w.grad = zeros(2, 2); n.grad = zeros(2);
        opt.Step();
        Assert.All(Values(w), v => Assert.Equal(2f * (1 - 0.1f * 0.5f), v, 1e-6));
        Assert.All(Values(n), v => Assert.Equal(2f, v));
    }

    [Fact]
    public void ParametersWithoutGradKeepStateAndGroupLrIsScaled()
    {
        var a = Param([1f]);
        var b = Param([1f]);
        var ga = new ParameterGroup("a", [("a", a)], 0);
        var gb = new ParameterGroup("b", [("b", b)], 0, lrScale: 10);
        using var opt = new AdamW([ga, gb], lr: 0.01);
        Assert.Equal(0.1, gb.LearningRate, 12);
        SetGrad(a, [1f]);
        opt.Step();
        Assert.Equal(1f - 0.01f, Values(a)[0], 1e-6);
        Assert.Equal(1f, Values(b)[0]);
        using var scope = NewDisposeScope();
        var sd = opt.StateDict();
        Assert.Equal(1L, sd["state.a.step"].item<long>());
        Assert.Equal(0L, sd["state.b.step"].item<long>());
    }

    [Fact]
    public void SchedulerDrivesGroupLearningRates()
    {
        var p = Param([1f]);
        using var opt = new AdamW([new ParameterGroup("g", [("p", p)], 0, lrScale: 2)], lr: 1);
        var sched = new LrScheduler(LrScheduleKind.Linear, 0.1, warmupSteps: 2, totalSteps: 4);
        Assert.Equal(0.0, sched.Apply(opt));
        Assert.Equal(0.0, opt.Groups[0].LearningRate);
        sched.Advance();
        sched.Apply(opt);
        Assert.Equal(0.1, opt.Groups[0].LearningRate, 12); // 0.1 · 0.5 · scale 2
        var json = System.Text.Json.JsonSerializer.Serialize(sched.State);
        var restored = new LrScheduler(LrScheduleKind.Linear, 0.1, 2, 4);
        restored.Restore(System.Text.Json.JsonSerializer.Deserialize<LrSchedulerState>(json)!);
        Assert.Equal(sched.LearningRate, restored.LearningRate);
    }

    [Theory]
    [InlineData(ScalarType.Float32, 1 << 18)]
    [InlineData(ScalarType.BFloat16, 1 << 18)]
    [InlineData(ScalarType.Float32, 7)]  // several chunks per group, a partial last one, chunks straddling padding
    [InlineData(ScalarType.BFloat16, 7)]
    public void FlattenedMatchesPerParameter(ScalarType dtype, long chunk)
    {
        var pr = MakeProblem(9);
        var a = MakeParams(10, dtype);
        var b = MakeParams(10, dtype);
        using var optA = AdamW.FromConfig(a, new OptimizerConfig { LearningRate = 0.01, WeightDecay = 0.1 });
        using var optB = new AdamW(ParameterGroups.Default(b, 0.1), lr: 0.01, flatten: true, flatChunkElements: chunk);
        Assert.True(optB.Flattened);
        for (int i = 0; i < 5; i++)
        {
            optA.ZeroGrad(); optB.ZeroGrad();
            LossBackward(a, pr); LossBackward(b, pr);
            using var na = optA.ClipGradNorm(0.5);
            using var nb = optB.ClipGradNorm(0.5);
            Assert.Equal(na.item<float>(), nb.item<float>(), 1e-4);
            optA.Step(); optB.Step();
        }
        double tol = dtype == ScalarType.Float32 ? 1e-6 : 1e-2;
        for (int k = 0; k < a.Length; k++)
        {
            var va = Values(a[k].Item2); var vb = Values(b[k].Item2);
            for (int j = 0; j < va.Length; j++) Assert.Equal(va[j], vb[j], tol);
        }
        // The state dicts are interchangeable between the two modes.
        using var scope = NewDisposeScope();
        var sa = optA.StateDict(); var sb = optB.StateDict();
        Assert.Equal(sa.Keys.OrderBy(k => k), sb.Keys.OrderBy(k => k));
        optA.LoadStateDict(sb);
        optB.LoadStateDict(sa);
        foreach (var (key, t) in optB.StateDict()) Assert.True(t.Equals(sa[key]), key);
    }

    [Fact]
    public void FlattenedSurvivesGradsSetToNone()
    {
        var pr = MakeProblem(11);
        var a = MakeParams(12);
        var b = MakeParams(12);
        using var optA = new AdamW([new ParameterGroup("all", a, 0.0)], lr: 0.01);
        using var optB = new AdamW([new ParameterGroup("all", b, 0.0)], lr: 0.01, flatten: true);
        for (int i = 0; i < 3; i++)
        {
            optA.ZeroGrad();
            Gradients.ZeroGrad(b.Select(t => t.Item2)); // detaches the flat views: the optimizer must repair them
            LossBackward(a, pr); LossBackward(b, pr);
            optA.Step(); optB.Step();
        }
        for (int k = 0; k < a.Length; k++)
        {
            var va = Values(a[k].Item2); var vb = Values(b[k].Item2);
            for (int j = 0; j < va.Length; j++) Assert.Equal(va[j], vb[j], 1e-6);
        }
    }

    [Fact]
    public void LargeTensorsThroughScratchMatchTorch()
    {
        // 2^18+ elements take the shared-scratch path.
        var g = new Generator(13);
        using var init = randn([520, 512], generator: g);
        var ours = new Parameter(init.clone());
        var theirs = new Parameter(init.clone());
        using var opt = new AdamW([new ParameterGroup("all", [("w", ours)], 0.1)], lr: 0.01);
        using var reference = optim.AdamW([theirs], lr: 0.01, weight_decay: 0.1);
        for (int i = 0; i < 3; i++)
        {
            using var grad = randn([520, 512], generator: g);
            ours.grad = grad.clone();
            theirs.grad = grad.clone();
            opt.Step();
            reference.step();
        }
        Assert.True(ours.allclose(theirs, rtol: 1e-5, atol: 1e-6));
    }

    [Fact]
    public void TiedWeightsAreSteppedOnce()
    {
        var shared = new Parameter(ones(3, 2));
        var named = new (string, Parameter)[] { ("embed_tokens.weight", shared), ("lm_head.weight", shared) };
        var groups = ParameterGroups.Default(named, 0.0);
        Assert.Equal(["embed_tokens.weight"], groups.SelectMany(g => g.Parameters).Select(p => p.Name));
        var e = Assert.Throws<ArgumentException>(() => new AdamW([new ParameterGroup("all", named, 0.0)]));
        Assert.Contains("lm_head.weight", e.Message);
        using var opt = new AdamW(groups, lr: 0.1);
        shared.grad = ones(3, 2);
        opt.Step();
        Assert.All(Values(shared), v => Assert.Equal(0.9f, v, 1e-6));
    }
}
