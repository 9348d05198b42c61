using RecAlign.Data;
using RecAlign.Models.Sequential;
using RecAlign.Tests.Runs;
using RecAlign.Training;
using static TorchSharp.torch;

namespace RecAlign.Tests.Models.Sequential;

[Collection(GlobalTorchRng.Name)]
public class DreamRecTests
{
    private static DreamRec Create(int items = 30, long seed = 1, Func<SequentialModelConfig, SequentialModelConfig>? edit = null)
    {
        var config = SequentialModelConfig.For("dreamrec") with { NItems = items, Timesteps = 20 };
        var model = new DreamRec(edit is null ? config : edit(config), seed);
        model.eval();
        return model;
    }

    [Fact]
    public void LinearScheduleAndItsCumulativeProducts()
    {
        // T = 3 from 1e-4 to 0.02: β = [1e-4, 0.01005, 0.02]; ᾱ = [0.9999, 0.9999·0.98995, ·0.98].
        var d = new GaussianDiffusion("linear", 3);
        Assert.Equal([1e-4, 0.01005, 0.02], d.Betas.Select(b => Math.Round(b, 12)));
        Assert.Equal(0.9999, d.AlphasCumprod[0], 12);
        Assert.Equal(0.989851005, d.AlphasCumprod[1], 12);
        Assert.Equal(0.989851005 * 0.98, d.AlphasCumprod[2], 12);
    }

    [Fact]
    public void CosineAndExpSchedulesAsReleased()
    {
        // cosine, T = 2: ᾱ(u) = cos²((u/2 + 0.008)/1.008·π/2); β_0 = 1 − ᾱ(1)/ᾱ(0) = 0.50616, β_1 = 1 − ᾱ(2)/ᾱ(1) = 1 − ~0 → clipped 0.9999.
        var cos = GaussianDiffusion.Schedule("cosine", 2);
        double Bar(double u) => Math.Pow(Math.Cos((u / 2 + 0.008) / 1.008 * Math.PI / 2), 2);
        Assert.Equal(1 - Bar(1) / Bar(0), cos[0], 12);
        Assert.Equal(0.506156, cos[0], 5);
        Assert.Equal(0.9999, cos[1], 12);
        // exp, T = 2: x = linspace(1, 5, 2) = [1, 5]; β_k = 1 − exp(−0.1/2 − x_k·9.9/8) = [0.724040, 0.998045].
        var exp = GaussianDiffusion.Schedule("exp", 2, betaStart: 0.3, betaEnd: 0.4); // start/end ignored, as released
        Assert.Equal(1 - Math.Exp(-0.05 - 9.9 / 8), exp[0], 12);
        Assert.Equal(0.724040, exp[0], 5);
        Assert.Equal(0.9980453, exp[1], 6);
        Assert.Throws<ArgumentException>(() => GaussianDiffusion.Schedule("sqrt", 2));
    }

    [Fact]
    public void PosteriorMeanVarianceAndDdpmStepAgainstHandValues()
    {
        var d = new GaussianDiffusion("linear", 3);
        // t = 1: c1 = β1·√ᾱ0/(1 − ᾱ1) = 0.01005·√0.9999/0.010148995, c2 = (1 − ᾱ0)·√α1/(1 − ᾱ1) = 1e-4·√0.98995/0.010148995,
        // σ² = β1·(1 − ᾱ0)/(1 − ᾱ1) = 0.01005·1e-4/0.010148995.
        Assert.Equal(0.01005 * Math.Sqrt(0.9999) / 0.010148995, d.PosteriorMeanCoef1[1], 9);
        Assert.Equal(0.9901963, d.PosteriorMeanCoef1[1], 6);
        Assert.Equal(0.0098036, d.PosteriorMeanCoef2[1], 6);
        Assert.Equal(9.90246e-5, d.PosteriorVariance[1], 9);
        // t = 0 (ᾱ_{−1} = 1): the mean is x̂0 itself and there is no variance.
        Assert.Equal(1.0, d.PosteriorMeanCoef1[0], 12);
        Assert.Equal(0.0, d.PosteriorMeanCoef2[0], 12);
        Assert.Equal(0.0, d.PosteriorVariance[0], 12);
        using var scope = NewDisposeScope();
        var x0 = ones(1, 2);
        var xt = full(1, 2, 2.0f);
        var z = tensor(new float[] { 1, -1 }).view(1, 2);
        // mean = 0.9901963·1 + 0.0098036·2 = 1.0098034; plus σ·z with σ = √9.90246e-5 = 0.0099511.
        var step = d.DdpmStep(x0, xt, 1, z);
        Assert.Equal(1.0098034 + 0.0099511, step[0, 0].item<float>(), 5);
        Assert.Equal(1.0098034 - 0.0099511, step[0, 1].item<float>(), 5);
        Assert.True(d.DdpmStep(x0, xt, 0, null).allclose(x0), "the last step returns the prediction");
    }

    [Fact]
    public void DdimStepAndItsWalk()
    {
        var d = new GaussianDiffusion("linear", 3);
        using var scope = NewDisposeScope();
        // From t = 2 to s = 0 with x̂0 = 1, x_t = 2: ε̂ = (2 − √0.97005398·1)/√0.02994602 = 5.86620;
        // x_s = √0.9999·1 + √0.0001·ε̂ = 0.99995 + 0.05866 = 1.05861.
        var x = d.DdimStep(ones(1, 1), full(1, 1, 2.0f), 2, 0);
        Assert.Equal(1.0586089, x.item<float>(), 5);
        // Past the start (ᾱ = 1) the step returns x̂0.
        Assert.True(d.DdimStep(ones(1, 1), full(1, 1, 2.0f), 2, -1).allclose(ones(1, 1)));
        var t500 = new GaussianDiffusion("linear", 500);
        Assert.Equal([499, 474, 449], t500.DdimSteps(20).Take(3));
        Assert.Equal(24, t500.DdimSteps(20)[^1]);
        Assert.Equal(Enumerable.Range(0, 500).Reverse(), t500.DdimSteps(500));
        Assert.Throws<ArgumentOutOfRangeException>(() => t500.DdimSteps(501));
    }

    [Fact]
    public void QSampleMixesSignalAndNoise()
    {
        var d = new GaussianDiffusion("linear", 3);
        using var scope = NewDisposeScope();
        var x = d.QSample(ones(2, 1), tensor(new long[] { 0, 2 }), full(2, 1, 3.0f));
        Assert.Equal(Math.Sqrt(0.9999) + Math.Sqrt(1e-4) * 3, x[0, 0].item<float>(), 5);
        Assert.Equal(Math.Sqrt(0.97005398) + Math.Sqrt(0.02994602) * 3, x[1, 0].item<float>(), 5);
    }

    [Fact]
    public void WithZeroGuidanceWeightTheGuidedPredictionIsTheConditionalOne()
    {
        using var model = Create(edit: c => c with { GuidanceWeight = 0 });
        using var guided = Create(edit: c => c with { GuidanceWeight = 2 });
        using var scope = NewDisposeScope();
        using var g = new Generator(3);
        var x = randn(3, 64, generator: g);
        var c = randn(3, 64, generator: g);
        var t = tensor(new long[] { 7, 7, 7 });
        Assert.True(model.GuidedPrediction(x, c, 7).allclose(model.Denoise(x, c, t), rtol: 1e-6, atol: 1e-6));
        // w = 2: 3·f(x, c, t) − 2·f(x, ∅, t), the unconditional pass reading the null vector.
        var nullRows = guided.state_dict()["none_embedding.weight"].expand(3, -1);
        var expected = guided.Denoise(x, c, t) * 3 - guided.Denoise(x, nullRows, t) * 2;
        Assert.True(guided.GuidedPrediction(x, c, 7).allclose(expected, rtol: 1e-5, atol: 1e-5));
    }

    [Fact]
    public void GuidanceReadsOnlyThePrefixAndSamplingIsBatchIndependent()
    {
        using var model = Create();
        using var scope = NewDisposeScope();
        var items = tensor(new long[] { 4, 8, 10, 0, 4, 8, 10, 21, 4, 8, 10, 21 }, [3, 4]);
        var lengths = tensor(new long[] { 3, 3, 4 });
        var c = model.Guidance(items, lengths, dropout: false);
        Assert.True(c[0].allclose(c[1], rtol: 0, atol: 1e-6), "an item past the length reached the guidance");
        Assert.False(c[0].allclose(c[2], rtol: 0, atol: 1e-4));
        // The same history scores the same alone or in a batch, in either sampler.
        foreach (var sampler in new[] { "ddpm", "ddim" })
        {
            using var m = Create(edit: cfg => cfg with { Sampler = sampler, SamplingSteps = 5 });
            var all = m.Encode(items, lengths);
            var alone = m.Encode(items.narrow(0, 2, 1), lengths.narrow(0, 2, 1));
            Assert.True(all[2].allclose(alone[0], rtol: 1e-5, atol: 1e-5), $"{sampler}: a user's sample depends on its batch");
        }
    }

    [Fact]
    public void WithOneStepBothSamplersReturnTheGuidedPrediction()
    {
        // T = 1: DDPM's only step (t = 0, c1 = 1, c2 = 0) and DDIM's step past the start both return x̂0 of the same noise.
        using var model = Create(edit: c => c with { Timesteps = 1, SamplingSteps = 1 });
        using var scope = NewDisposeScope();
        using var g = new Generator(3);
        var guidance = randn(2, 64, generator: g);
        var ddpm = model.Sample(guidance, "ddpm", 1);
        var ddim = model.Sample(guidance, "ddim", 1);
        Assert.True(ddpm.allclose(ddim, rtol: 1e-5, atol: 1e-5));
    }

    [Fact]
    public void SampleDropoutMakesSamplingStochasticAndEvalModeDoesNot()
    {
        using var scope = NewDisposeScope();
        var items = tensor(new long[] { 4, 8, 10 }, [1, 3]);
        var lengths = tensor(new long[] { 3 });
        using var eval = Create(edit: c => c with { Sampler = "ddim", SamplingSteps = 4 });
        Assert.True(eval.Encode(items, lengths).equal(eval.Encode(items, lengths)).all().item<bool>());
        using var faithful = Create(edit: c => c with { Sampler = "ddim", SamplingSteps = 4, SampleDropout = true, HiddenDropoutProb = 0.5 });
        manual_seed(3);
        var a = faithful.Encode(items, lengths);
        var b = faithful.Encode(items, lengths);
        Assert.False(a.allclose(b), "dropout on while sampling should change the guidance between calls");
    }

    [Fact]
    public void ReleasedParameterNames()
    {
        using var model = Create();
        var names = model.state_dict().Keys.ToHashSet();
        foreach (var expected in new[] { "item_embeddings.weight", "none_embedding.weight", "positional_embeddings.weight", "ln_1.weight", "ln_3.bias",
                     "mh_attn.linear_q.weight", "mh_attn.linear_v.bias", "feed_forward.w_1.weight", "feed_forward.layer_norm.weight",
                     "step_mlp.1.weight", "step_mlp.3.bias", "diffuser.0.weight" })
            Assert.Contains(expected, names);
        Assert.Equal([64, 192], model.state_dict()["diffuser.0.weight"].shape);
        using var mlp2 = Create(edit: c => c with { DiffuserType = "mlp2" });
        Assert.Contains("diffuser.2.weight", mlp2.state_dict().Keys);
    }

    [Fact]
    public void ConfigRejectsBadDiffusionSettings()
    {
        var config = SequentialModelConfig.For("dreamrec") with { NItems = 5 };
        Assert.Contains("beta_sche", Assert.Throws<ArgumentException>(() => (config with { BetaSche = "sqrt" }).Validate()).Message);
        Assert.Contains("sampling_steps", Assert.Throws<ArgumentException>(() => (config with { Timesteps = 10, Sampler = "ddim", SamplingSteps = 20 }).Validate()).Message);
        Assert.Contains("loss_type", Assert.Throws<ArgumentException>(() => (config with { LossType = "CE" }).Validate()).Message);
        Assert.Contains("guidance_weight", Assert.Throws<ArgumentException>(() => (config with { GuidanceWeight = -1 }).Validate()).Message);
    }

    [Fact]
    public void ResumeAfterCrashReproducesUninterruptedLosses()
    {
        var rng = new Random(2);
        var train = Enumerable.Range(0, 80).Select(u => new SequenceExample(u, Enumerable.Range(0, 1 + u % 5).Select(_ => rng.Next(30)).ToArray(), rng.Next(30), 0)).ToList();
        using var dir = new TempDir();
        var config = new RecAlign.Pipelines.Stages.SequentialTrainConfig().Training with { MaxSteps = 12, BatchSize = 16, SaveEvery = 4, LogEvery = 1, MetricForBestModel = "", EarlyStoppingPatience = 0 };
        DreamRec Fresh(long seed) => new(SequentialModelConfig.For("dreamrec") with { NItems = 30, Timesteps = 50 }, seed);
        using (var m = Fresh(1)) new Trainer(m, new NextItemObjective(m, train), config, Path.Combine(dir.Path, "a")).Train();
        using (var m = Fresh(1))
            Assert.Throws<OperationCanceledException>(() => new Trainer(m, new NextItemObjective(m, train), config, Path.Combine(dir.Path, "b")) { CrashAfterStep = 6 }.Train());
        using (var m = Fresh(77)) new Trainer(m, new NextItemObjective(m, train), config, Path.Combine(dir.Path, "b")).Train(resume: true);
        var a = Trainer.LossTrace(Trainer.LatestCheckpoint(Path.Combine(dir.Path, "a"))!);
        var b = Trainer.LossTrace(Trainer.LatestCheckpoint(Path.Combine(dir.Path, "b"))!);
        Assert.Equal(12, a.Count);
        Assert.Equal(a, b); // steps, noise, guidance dropout and encoder dropout all come from the saved torch generator
    }
}
