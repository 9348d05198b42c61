using RecAlign.Configuration;
using RecAlign.Training.Optimization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RecAlign.Tests.Training;

public class LrScheduleTests
{
    // HF: warmup = step/warmup; cosine = max(0, 0.5(1 + cos(π·2·0.5·progress))), progress = (step−w)/(total−w);
    // linear = max(0, (total−step)/(total−w)); min-lr variant = f(1−r) + r.
    [Theory]
    [InlineData(0, 0.0)]
    [InlineData(5, 0.5)]
    [InlineData(10, 1.0)]
    [InlineData(40, 0.75)]   // progress 1/3: 0.5(1 + cos(π/3)) = 0.75
    [InlineData(55, 0.5)]
    [InlineData(100, 0.0)]
    [InlineData(130, 0.25)]  // past the end HF does not clamp progress: 0.5(1 + cos(4π/3)) = 0.25
    public void CosineMatchesHf(long step, double expected)
    {
        double hf = step < 10 ? step / 10.0 : Math.Max(0, 0.5 * (1 + Math.Cos(Math.PI * 2 * 0.5 * (step - 10) / 90.0)));
        Assert.Equal(hf, LrSchedules.Cosine(step, 10, 100), 12);
        Assert.Equal(expected, LrSchedules.Cosine(step, 10, 100), 12);
    }

    [Fact]
    public void CosineWithMinLr()
    {
        Assert.Equal(0.1, LrSchedules.Cosine(100, 10, 100, minLrRatio: 0.1), 12);
        Assert.Equal(0.55, LrSchedules.Cosine(55, 10, 100, minLrRatio: 0.1), 12);
        Assert.Equal(0.5, LrSchedules.Cosine(5, 10, 100, minLrRatio: 0.1), 12); // warmup is unaffected
    }

    [Theory]
    [InlineData(0, 0.0)]
    [InlineData(3, 0.75)]
    [InlineData(4, 1.0)]
    [InlineData(52, 0.5)]
    [InlineData(100, 0.0)]
    [InlineData(120, 0.0)]
    public void LinearMatchesHf(long step, double expected) => Assert.Equal(expected, LrSchedules.Linear(step, 4, 100), 12);

    [Fact]
    public void ConstantAndNoWarmup()
    {
        Assert.Equal(0.5, LrSchedules.Constant(2, 4));
        Assert.Equal(1.0, LrSchedules.Constant(4, 4));
        Assert.Equal(1.0, LrSchedules.Constant(0, 0));
        Assert.Equal(1.0, LrSchedules.Cosine(0, 0, 100));
        Assert.Equal(0.5, LrSchedules.Linear(50, 0, 100, minLrRatio: 0.0));
        Assert.Equal(0.6, LrSchedules.Linear(50, 0, 100, minLrRatio: 0.2), 12);
    }

    [Fact]
    public void SchedulerFromConfigUsesWarmupRatio()
    {
        var c = new OptimizerConfig { LearningRate = 1e-3, WarmupRatio = 0.1, Schedule = LrScheduleKind.Cosine };
        var s = LrScheduler.FromConfig(c, 95);
        Assert.Equal(10, s.WarmupSteps); // ceil(9.5)
        Assert.Equal(25, LrScheduler.FromConfig(c with { WarmupSteps = 25 }, 95).WarmupSteps);
        for (int i = 0; i < 5; i++) s.Advance();
        Assert.Equal(5e-4, s.LearningRate, 15);
    }
}

public class OptimizerConfigTests
{
    [Fact]
    public void LoadsThroughConfigLoaderWithOverrides()
    {
        var c = ConfigLoader.Load(new OptimizerConfig(), overrides: ["schedule=linear", "beta2=0.95", "grad_accumulation_steps=4", "min_lr_ratio=0.1"]);
        Assert.Equal(LrScheduleKind.Linear, c.Schedule);
        Assert.Equal(0.95, c.Beta2);
        Assert.Equal(4, c.GradAccumulationSteps);
        var json = ConfigLoader.ToJson(c);
        Assert.Contains("\"learning_rate\"", json);
        Assert.Contains("\"max_grad_norm\"", json);
        Assert.Equal(c, System.Text.Json.JsonSerializer.Deserialize<OptimizerConfig>(json, ConfigLoader.Json));
        c.Validate();
    }

    [Fact]
    public void ValidateNamesTheField()
    {
        var e = Assert.Throws<ArgumentException>(() => new OptimizerConfig { Beta1 = 1.0 }.Validate());
        Assert.Contains("beta1", e.Message);
        e = Assert.Throws<ArgumentException>(() => new OptimizerConfig { GradAccumulationSteps = 0 }.Validate());
        Assert.Contains("grad_accumulation_steps", e.Message);
    }
}

public class GradientTests
{
    private static Parameter WithGrad(float[] values, float[] grad, ScalarType dtype = ScalarType.Float32)
    {
        var p = new Parameter(tensor(values).to(dtype));
        p.grad = tensor(grad).to(dtype);
        return p;
    }

    private static float[] Grad(Parameter p)
    {
        using var g = p.grad!;
        return g.to(ScalarType.Float32).data<float>().ToArray();
    }

    [Fact]
    public void ClipMatchesHandComputation()
    {
        // grads [3, 4] and [12]: global norm √(9 + 16 + 144) = 13; max 6.5 → scale 6.5/(13 + 1e-6).
        var a = WithGrad([0f, 0f], [3f, 4f]);
        var b = WithGrad([0f], [12f]);
        var c = new Parameter(zeros(3)); // no grad: skipped
        using var norm = Gradients.ClipGradNorm([a, b, c], 6.5);
        Assert.Equal(13f, norm.item<float>(), 1e-5);
        double s = 6.5 / (13 + 1e-6);
        Assert.Equal([(float)(3 * s), (float)(4 * s)], Grad(a));
        Assert.Equal((float)(12 * s), Grad(b)[0], 1e-5);
    }

    [Fact]
    public void NoClipBelowThresholdAndBf16Norm()
    {
        var a = WithGrad([0f, 0f], [3f, 4f], ScalarType.BFloat16);
        using var norm = Gradients.ClipGradNorm([a], 10);
        Assert.Equal(ScalarType.Float32, norm.dtype);
        Assert.Equal(5f, norm.item<float>(), 1e-4);
        Assert.Equal([3f, 4f], Grad(a));
    }

    [Fact]
    public void ZeroGradBothWays()
    {
        var a = WithGrad([1f], [2f]);
        Gradients.ZeroGrad([a], setToNone: false);
        Assert.Equal([0f], Grad(a));
        Gradients.ZeroGrad([a]);
        Assert.Null(a.grad);
        using var n = Gradients.GlobalNorm([a]);
        Assert.Equal(0f, n.item<float>());
    }

    [Fact]
    public void AccumulatedScaledGradsEqualFullBatchGrad()
    {
        var g = new Generator(11);
        var x = randn([8, 3], generator: g);
        var y = randn([8], generator: g);
        var w = new Parameter(randn([3], generator: g));
        using (var loss = (x.matmul(w) - y).pow(2).mean()) loss.backward();
        var full = Grad(w);
        w.grad = null;

        var acc = new GradientAccumulation(2);
        var ticks = new List<bool>();
        for (int k = 0; k < 2; k++)
        {
            using var scope = NewDisposeScope();
            var xs = x.narrow(0, 4 * k, 4);
            var ys = y.narrow(0, 4 * k, 4);
            ((xs.matmul(w) - ys).pow(2).mean() * acc.LossScale).backward();
            ticks.Add(acc.Tick());
        }
        Assert.Equal([false, true], ticks);
        var accumulated = Grad(w);
        for (int i = 0; i < 3; i++) Assert.Equal(full[i], accumulated[i], 1e-5);
    }
}
