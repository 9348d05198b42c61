using System.Text.Json.Nodes;
using RecAlign.Alignment;
using static RecAlign.Tests.Alignment.LossMath;
using static TorchSharp.torch;

namespace RecAlign.Tests.Alignment;

public class CausalDpoLossTests
{
    // Three examples: features z (2-d), representations x (2-d), and K = 2 or 3 centres.
    private static readonly double[,] Z = { { 0.0, 0.0 }, { 1.0, 0.5 }, { 3.0, -1.0 } };
    private static readonly double[,] X = { { 0.5, -0.2 }, { 1.5, 0.3 }, { -0.7, 2.0 } };
    private static readonly double[,] C3 = { { 0.2, 0.1 }, { 2.5, -0.5 }, { -1.0, 1.0 } };

    private static double[,] Centres(int k)
    {
        var c = new double[k, 2];
        for (int i = 0; i < k; i++) { c[i, 0] = C3[i, 0]; c[i, 1] = C3[i, 1]; }
        return c;
    }

    private static Tensor Matrix(double[,] m, bool grad = false) =>
        tensor(m.Cast<double>().ToArray(), [m.GetLength(0), m.GetLength(1)], ScalarType.Float64, requires_grad: grad);

    private static PreferenceBatchLogps Batch(LossCase c, double[][]? inputs = null, double[,]? x = null, double[]? weights = null)
    {
        var b = c.ToBatch(inputs);
        return b with
        {
            Environments = Matrix(Z), Representations = Matrix(x ?? X),
            Weights = weights is null ? null : tensor(weights, ScalarType.Float64),
        };
    }

    private static CausalDpoLoss Loss(int environments, EnvironmentPrior prior, double beta = 0.7, double tau = 0.8,
        double lambda = 0.3, double sigma = 1.3, double mu = 0.5)
    {
        // Momentum 1 keeps the given centres, so repeated evaluations (finite differences) see the same bank.
        var loss = new CausalDpoLoss(beta, environments, tau, prior, lambda, sigma, mu, centreMomentum: 1.0);
        if (environments > 1)
        {
            var centres = Centres(environments);
            var rows = new JsonArray();
            for (int k = 0; k < environments; k++) rows.Add(new JsonArray(JsonValue.Create(centres[k, 0]), JsonValue.Create(centres[k, 1])));
            loss.Centres.Load(rows, loss.Name, CPU);
        }
        return loss;
    }

    /// <summary>The formula in plain doubles, written out independently of the tensor code.</summary>
    private static double Expected(LossCase c, int envs, EnvironmentPrior prior, double beta, double tau, double lambda, double sigma, double mu,
        double[,]? x = null, double[]? weights = null)
    {
        x ??= X;
        int b = c.B;
        var ell = new double[b];
        for (int i = 0; i < b; i++)
        {
            var v = Enumerable.Range(0, c.K).Select(j => beta * (c.RejectedLogRatio(i, j) - c.ChosenLogRatio(i))).ToArray();
            double m = v.Max();
            ell[i] = -LogSigmoid(-(m + Math.Log(v.Sum(t => Math.Exp(t - m))))) * (weights?[i] ?? 1);
        }
        var cen = Centres(envs);
        var q = new double[b, envs];
        for (int i = 0; i < b; i++)
        {
            var logits = Enumerable.Range(0, envs).Select(k => -Math.Sqrt(Math.Pow(Z[i, 0] - cen[k, 0], 2) + Math.Pow(Z[i, 1] - cen[k, 1], 2)) / (tau * Math.Sqrt(2))).ToArray();
            double mx = logits.Max(), sum = logits.Sum(l => Math.Exp(l - mx));
            for (int k = 0; k < envs; k++) q[i, k] = Math.Exp(logits[k] - mx) / sum;
        }
        var mass = Enumerable.Range(0, envs).Select(k => Enumerable.Range(0, b).Sum(i => q[i, k])).ToArray();
        var lk = Enumerable.Range(0, envs).Select(k => Enumerable.Range(0, b).Sum(i => q[i, k] * ell[i]) / mass[k]).ToArray();
        var pk = Enumerable.Range(0, envs).Select(k => prior == EnvironmentPrior.Uniform ? 1.0 / envs : mass[k] / b).ToArray();
        double backdoor = Enumerable.Range(0, envs).Sum(k => pk[k] * lk[k]);
        double Kernel(int i, int j) => Math.Exp(-(Math.Pow(x[i, 0] - x[j, 0], 2) + Math.Pow(x[i, 1] - x[j, 1], 2)) / (2 * sigma * sigma));
        double Inner(int k, int l) => Enumerable.Range(0, b).Sum(i => Enumerable.Range(0, b).Sum(j => q[i, k] / mass[k] * q[j, l] / mass[l] * Kernel(i, j)));
        double mmd = 0;
        for (int k = 0; k < envs; k++)
            for (int l = 0; l < envs; l++)
                if (k != l) mmd += Inner(k, k) + Inner(l, l) - 2 * Inner(k, l);
        mmd /= envs * (envs - 1);
        double mean = lk.Average();
        double variance = lk.Average(v => (v - mean) * (v - mean));
        return backdoor + lambda * mmd + mu * variance;
    }

    [Theory]
    [InlineData(2, EnvironmentPrior.Uniform, 1)]
    [InlineData(2, EnvironmentPrior.Uniform, 3)]
    [InlineData(3, EnvironmentPrior.Uniform, 2)]
    [InlineData(3, EnvironmentPrior.Batch, 3)]
    public void MatchesHandComputedValue(int envs, EnvironmentPrior prior, int k)
    {
        var c = LossCase.Fixed(k);
        using var loss = Loss(envs, prior);
        PreferenceLossAssert.Close(Expected(c, envs, prior, 0.7, 0.8, 0.3, 1.3, 0.5), PreferenceLossAssert.Value(loss, Batch(c)), 1e-10);
    }

    [Fact]
    public void PerExampleWeightsEnterTheEnvironmentLosses()
    {
        var c = LossCase.Fixed(2);
        double[] w = [0.5, 2.0, 1.25];
        using var loss = Loss(2, EnvironmentPrior.Uniform);
        PreferenceLossAssert.Close(Expected(c, 2, EnvironmentPrior.Uniform, 0.7, 0.8, 0.3, 1.3, 0.5, weights: w),
            PreferenceLossAssert.Value(loss, Batch(c, weights: w)), 1e-10);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void OneEnvironmentIsSoftmaxDpo(int k)
    {
        var c = LossCase.Fixed(k);
        using var causal = new CausalDpoLoss(beta: 0.7, environments: 1, mmdWeight: 5, vrexWeight: 5);
        Assert.False(causal.RequiresEnvironments);
        PreferenceLossAssert.Close(PreferenceLossAssert.Value(new SoftmaxDpoLoss(0.7), c.ToBatch()), PreferenceLossAssert.Value(causal, c.ToBatch()));
        double[] w = [0.5, 2.0, 1.25];
        var weighted = c.ToBatch() with { Weights = tensor(w, ScalarType.Float64) };
        PreferenceLossAssert.Close(PreferenceLossAssert.Value(new SoftmaxDpoLoss(0.7), weighted), PreferenceLossAssert.Value(causal, weighted));
    }

    /// <summary>With the batch marginal as P(k), Σ_k P(k)·L_k = mean_i ℓ_i for any assignment: without the penalties
    /// the loss is S-DPO whatever the environments.</summary>
    [Fact]
    public void BatchPriorBackdoorIsSoftmaxDpo()
    {
        var c = LossCase.Fixed(3);
        using var loss = Loss(3, EnvironmentPrior.Batch, lambda: 0, mu: 0);
        PreferenceLossAssert.Close(PreferenceLossAssert.Value(new SoftmaxDpoLoss(0.7), c.ToBatch()), PreferenceLossAssert.Value(loss, Batch(c)), 1e-12);
    }

    [Fact]
    public void SoftAssignmentsSumToOneAndPreferTheNearestCentre()
    {
        using var q = CausalDpoLoss.SoftAssignments(Matrix(Z), Matrix(Centres(3)), 0.5);
        Assert.Equal(new long[] { 3, 3 }, q.shape);
        foreach (var s in q.sum(1).data<double>().ToArray()) Assert.Equal(1.0, s, 12);
        Assert.Equal(new long[] { 0, 0, 1 }, q.argmax(1).data<long>().ToArray());
        Assert.True(q.min().item<double>() > 0);
    }

    [Fact]
    public void MmdOfIdenticalEnvironmentsIsZero()
    {
        // Identical weight columns describe one distribution twice.
        using var same = tensor(new[] { 0.3, 0.3, 0.5, 0.5, 0.9, 0.9 }, [3, 2], ScalarType.Float64);
        Assert.Equal(0.0, CausalDpoLoss.Mmd(Matrix(X), same, 1.0).item<double>(), 12);
        // Hard assignments of two points: ‖φ(a) − φ(b)‖² = k(a,a) + k(b,b) − 2k(a,b) = 2 − 2·exp(−d²/2σ²).
        using var x = tensor(new[] { 0.0, 0.0, 3.0, 4.0 }, [2, 2], ScalarType.Float64);
        using var hard = tensor(new[] { 1.0, 0.0, 0.0, 1.0 }, [2, 2], ScalarType.Float64);
        Assert.Equal(2 - 2 * Math.Exp(-25 / (2 * 2.0 * 2.0)), CausalDpoLoss.Mmd(x, hard, 2.0).item<double>(), 12);
        // σ = 0 takes the median pairwise distance (here the one distance, 5).
        Assert.Equal(2 - 2 * Math.Exp(-0.5), CausalDpoLoss.Mmd(x, hard, 0).item<double>(), 12);
    }

    [Theory]
    [InlineData(2, EnvironmentPrior.Uniform)]
    [InlineData(3, EnvironmentPrior.Batch)]
    public void GradientsMatchFiniteDifferences(int envs, EnvironmentPrior prior)
    {
        var c = LossCase.Fixed(2);
        using var loss = Loss(envs, prior);
        using var scope = NewDisposeScope();
        var inputs = c.Inputs();
        var batch = c.Build(inputs, requiresGrad: true, out var leaves);
        var xLeaf = Matrix(X, grad: true);
        loss.Compute(batch with { Environments = Matrix(Z), Representations = xLeaf }).Loss.backward();
        const double step = 1e-5;
        for (int a = 0; a < inputs.Length; a++)
        {
            var grad = leaves[a].grad!.data<double>().ToArray();
            for (int e = 0; e < inputs[a].Length; e++)
            {
                var plus = inputs.Select(v => (double[])v.Clone()).ToArray();
                var minus = inputs.Select(v => (double[])v.Clone()).ToArray();
                plus[a][e] += step;
                minus[a][e] -= step;
                double fd = (PreferenceLossAssert.Value(loss, Batch(c, plus)) - PreferenceLossAssert.Value(loss, Batch(c, minus))) / (2 * step);
                Assert.True(Math.Abs(fd - grad[e]) <= 1e-7 * Math.Max(1, Math.Abs(fd)), $"input{a}[{e}]: autograd {grad[e]:R}, finite difference {fd:R}");
            }
        }
        var gx = xLeaf.grad!.data<double>().ToArray();
        for (int e = 0; e < X.Length; e++)
        {
            var plus = (double[,])X.Clone();
            var minus = (double[,])X.Clone();
            plus[e / 2, e % 2] += step;
            minus[e / 2, e % 2] -= step;
            double fd = (PreferenceLossAssert.Value(loss, Batch(c, x: plus)) - PreferenceLossAssert.Value(loss, Batch(c, x: minus))) / (2 * step);
            Assert.True(Math.Abs(fd - gx[e]) <= 1e-7 * Math.Max(1, Math.Abs(fd)), $"x[{e}]: autograd {gx[e]:R}, finite difference {fd:R}");
        }
        Assert.True(gx.Any(g => Math.Abs(g) > 1e-6), "the MMD reaches the representations");
    }

    /// <summary>The adversarial projection starts as the identity (same loss as the fixed one) and receives minus the
    /// loss's gradient: a step along its gradient lowers the loss it is meant to raise, checked by finite differences.</summary>
    [Fact]
    public void AdversarialProjectionStartsAsIdentityAndAscendsTheLoss()
    {
        var c = LossCase.Fixed(2);
        using var fixedLoss = new CausalDpoLoss(0.7, 2, 0.8, EnvironmentPrior.Uniform, 0.3, 1.3, 0.5, centreMomentum: 1.0, seed: 2);
        using var adversarial = new CausalDpoLoss(0.7, 2, 0.8, EnvironmentPrior.Uniform, 0.3, 1.3, 0.5, centreMomentum: 1.0, seed: 2,
            projection: EnvironmentProjection.Adversarial);
        Assert.Empty(fixedLoss.Parameters);
        fixedLoss.InitialiseEnvironments(Matrix(Z));
        adversarial.InitialiseEnvironments(Matrix(Z));
        // Centres off the data points: k-means puts one on a singleton cluster's point, where ‖z − c‖ has a kink.
        var rows = new JsonArray(new JsonArray(0.2, 0.1), new JsonArray(2.5, -0.5));
        fixedLoss.Centres.Load(rows, "causaldpo", CPU);
        adversarial.Centres.Load(JsonNode.Parse(rows.ToJsonString())!.AsArray(), "causaldpo", CPU);
        var parameters = adversarial.Parameters.ToList();
        Assert.Equal(["causal_dpo.environment_projection.weight", "causal_dpo.environment_projection.bias"], parameters.Select(p => p.Name));
        PreferenceLossAssert.Close(PreferenceLossAssert.Value(fixedLoss, Batch(c)), PreferenceLossAssert.Value(adversarial, Batch(c)), 1e-6);

        var weight = parameters[0].Parameter;
        using (NewDisposeScope()) adversarial.Compute(Batch(c)).Loss.backward();
        var grad = weight.grad!.data<double>().ToArray();
        Assert.True(grad.Any(g => Math.Abs(g) > 1e-4), "the projection gets a gradient");
        const double step = 1e-5;
        for (int e = 0; e < grad.Length; e++)
        {
            double Shifted(double delta)
            {
                using (no_grad()) weight.view(-1)[e] += delta;
                double v = PreferenceLossAssert.Value(adversarial, Batch(c));
                using (no_grad()) weight.view(-1)[e] -= delta;
                return v;
            }
            double fd = (Shifted(step) - Shifted(-step)) / (2 * step);
            Assert.True(Math.Abs(fd + grad[e]) <= 1e-7 * Math.Max(1, Math.Abs(fd)), $"weight[{e}]: gradient {grad[e]}, finite difference of the loss {fd} (expected its negative)");
        }
    }

    [Fact]
    public void LogsEnvironmentSizesLossesAndPenalties()
    {
        var c = LossCase.Fixed(2);
        using var loss = Loss(2, EnvironmentPrior.Uniform);
        using var scope = NewDisposeScope();
        var output = loss.Compute(Batch(c));
        double Stat(string key) => output.Stats[key].item<double>();
        Assert.Equal(1.0, Stat(CausalDpoLoss.SizeStat(0)) + Stat(CausalDpoLoss.SizeStat(1)), 12);
        PreferenceLossAssert.Close(0.5 * (Stat(CausalDpoLoss.LossStat(0)) + Stat(CausalDpoLoss.LossStat(1))), Stat(CausalDpoLoss.BackdoorStat));
        PreferenceLossAssert.Close(output.Loss.item<double>(), Stat(CausalDpoLoss.BackdoorStat) + 0.3 * Stat(CausalDpoLoss.MmdStat) + 0.5 * Stat(CausalDpoLoss.VrexStat));
        // PerExample's mean is the backdoor-adjusted loss (the penalties are batch-level).
        PreferenceLossAssert.Close(Stat(CausalDpoLoss.BackdoorStat), output.PerExample.mean().item<double>());
        Assert.All(output.Stats.Values, s => Assert.False(s.requires_grad));
    }

    [Fact]
    public void KMeansFindsSeparatedClustersAndTheBankMovesByItsMomentum()
    {
        var points = new List<double>();
        var rng = new Random(3);
        for (int i = 0; i < 40; i++) { points.Add((i < 20 ? -5 : 5) + rng.NextDouble() * 0.1); points.Add(rng.NextDouble() * 0.1); }
        using var x = tensor(points.ToArray(), [40, 2], ScalarType.Float64);
        using var bank = new EnvironmentCentres(2, 0.75, seed: 11);
        bank.Fit(x);
        var xs = bank.Centres!.select(1, 0).data<double>().OrderBy(v => v).ToArray();
        Assert.InRange(xs[0], -5.0, -4.9);
        Assert.InRange(xs[1], 5.0, 5.1);
        using var again = new EnvironmentCentres(2, 0.75, seed: 11);
        again.Fit(x);
        Assert.True(again.Centres!.allclose(bank.Centres!, 0, 0), "seeded k-means is deterministic");
        // One batch, all of it in environment 0 at (1, 1): c0 ← 0.75·c0 + 0.25·(1, 1), c1 unchanged.
        var before = bank.Centres!.clone();
        using var batch = tensor(new[] { 1.0, 1.0, 1.0, 1.0 }, [2, 2], ScalarType.Float64);
        using var q = tensor(new[] { 1.0, 0.0, 1.0, 0.0 }, [2, 2], ScalarType.Float64);
        bank.Update(batch, q);
        Assert.True(bank.Centres!.select(0, 0).allclose(0.75 * before.select(0, 0) + 0.25 * ones(2, ScalarType.Float64)));
        Assert.True(bank.Centres!.select(0, 1).allclose(before.select(0, 1), 0, 0));
    }

    [Fact]
    public void StateRoundTripsAndRefusesAnotherShape()
    {
        var c = LossCase.Fixed(2);
        using var loss = new CausalDpoLoss(1.0, 2, prior: EnvironmentPrior.Running, seed: 4);
        using (NewDisposeScope()) { loss.Compute(Batch(c)); loss.Compute(Batch(c)); }
        var state = loss.SaveState();
        Assert.Equal(2, (state["centres"] as JsonArray)!.Count);
        using var restored = new CausalDpoLoss(1.0, 2, prior: EnvironmentPrior.Running, seed: 99);
        restored.LoadState(JsonNode.Parse(state.ToJsonString())!.AsObject());
        Assert.Equal(state.ToJsonString(), restored.SaveState().ToJsonString());
        using (NewDisposeScope())
            PreferenceLossAssert.Close(loss.Compute(Batch(c)).Loss.item<double>(), restored.Compute(Batch(c)).Loss.item<double>(), 1e-12);
        using var three = new CausalDpoLoss(1.0, 3);
        Assert.Throws<FormatException>(() => three.LoadState(JsonNode.Parse(state.ToJsonString())!.AsObject()));
    }

    [Fact]
    public void RegistryBuildsItFromConfig()
    {
        var loss = PreferenceLosses.Create(new PreferenceLossConfig
        {
            LossType = "causal_dpo", CausalDpoEnvironments = 3, CausalDpoPrior = EnvironmentPrior.Uniform, CausalDpoVrexWeight = 0.2,
        });
        var causal = Assert.IsType<CausalDpoLoss>(loss);
        Assert.Equal((1.0, 3, EnvironmentPrior.Uniform, 0.2, 1e-3), (causal.Beta, causal.Environments, causal.Prior, causal.VrexWeight, causal.MmdWeight));
        Assert.True(causal.RequiresEnvironments);
        Assert.True(PreferenceLosses.Create(new PreferenceLossConfig { LossType = "causaldpo", RpoAlpha = 1 }).RequiresEnvironments);
        Assert.ThrowsAny<ArgumentException>(() => PreferenceLosses.Create(new PreferenceLossConfig { LossType = "causaldpo", CausalDpoEnvironments = 0 }));
        Assert.ThrowsAny<ArgumentException>(() => PreferenceLosses.Create(new PreferenceLossConfig { LossType = "causaldpo", CausalDpoTemperature = 0 }));
    }

    [Fact]
    public void MissingEnvironmentsAreAClearError()
    {
        using var loss = new CausalDpoLoss();
        var e = Assert.Throws<ArgumentException>(() => loss.Compute(LossCase.Fixed(2).ToBatch()));
        Assert.Contains("Environments", e.Message);
        // An adversarial projection must exist before the optimizer is built: no lazy first-batch initialisation.
        using var adversarial = new CausalDpoLoss(projection: EnvironmentProjection.Adversarial);
        Assert.Contains("InitialiseEnvironments", Assert.Throws<InvalidOperationException>(() => adversarial.Compute(Batch(LossCase.Fixed(2)))).Message);
    }
}
