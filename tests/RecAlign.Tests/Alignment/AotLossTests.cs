using RecAlign.Alignment;
using static RecAlign.Tests.Alignment.LossMath;
using static TorchSharp.torch;

namespace RecAlign.Tests.Alignment;

public class AotLossTests
{
    private static double Smoothed(double z, double eps) => -(1 - eps) * LogSigmoid(z) - eps * LogSigmoid(-z);

    /// <summary>Sorts both sides over all B·K pairs and averages the cDPO loss of the matched differences.</summary>
    private static double Expected(LossCase c, double beta, double eps, bool paired)
    {
        var pairs = Enumerable.Range(0, c.B).SelectMany(i => Enumerable.Range(0, c.K).Select(j => (i, j))).ToList();
        var winning = pairs.Select(p => paired ? c.Pc[p.i] - c.Pr[p.i, p.j] : c.ChosenLogRatio(p.i)).Order().ToList();
        var losing = pairs.Select(p => paired ? c.Rc[p.i] - c.Rr[p.i, p.j] : c.RejectedLogRatio(p.i, p.j)).Order().ToList();
        return winning.Zip(losing).Average(x => Smoothed(beta * (x.First - x.Second), eps));
    }

    /// <summary>The fixed batch with every margin and log-ratio distinct (K=3 has ties), so sorting is differentiable
    /// around it.</summary>
    private static LossCase Untied(LossCase c)
    {
        var pr = (double[,])c.Pr.Clone();
        var rr = (double[,])c.Rr.Clone();
        for (int i = 0; i < c.B; i++)
            for (int j = 0; j < c.K; j++) { pr[i, j] += 0.01 * (c.K * i + j); rr[i, j] += 0.03 * (c.K * i + j); }
        return c with { Pr = pr, Rr = rr };
    }

    /// <summary>Each (example, negative) pair as an example of its own: chosen values repeated K times.</summary>
    private static LossCase Flattened(LossCase c)
    {
        var rows = Enumerable.Range(0, c.B).SelectMany(i => Enumerable.Range(0, c.K).Select(j => (i, j))).ToList();
        return LossCase.Pairs(rows.Select(r => c.Pc[r.i]).ToArray(), rows.Select(r => c.Pr[r.i, r.j]).ToArray(),
            rows.Select(r => c.Rc[r.i]).ToArray(), rows.Select(r => c.Rr[r.i, r.j]).ToArray());
    }

    [Theory]
    [InlineData(true, 1, 0.5, 0.0)]
    [InlineData(true, 3, 0.5, 0.0)]
    [InlineData(true, 3, 0.1, 0.2)]
    [InlineData(false, 1, 0.5, 0.0)]
    [InlineData(false, 3, 0.5, 0.0)]
    [InlineData(false, 3, 0.1, 0.2)]
    public void MatchesHandComputedValue(bool paired, int k, double beta, double eps)
    {
        var c = LossCase.Fixed(k);
        PreferenceLossAssert.Close(Expected(c, beta, eps, paired), PreferenceLossAssert.Value(new AotLoss(paired, beta, eps), c.ToBatch()));
    }

    [Fact]
    public void PairedWorkedExample()
    {
        // A: u = 0 − (−1) = 1, v = 0 − (−4) = 4 (DPO's h = −3); B: u = 0 − (−3) = 3, v = 0 − 0 = 0 (h = 3).
        // Sorted u = [1, 3], sorted v = [0, 4]: d = [1, −1], β = 1: (softplus(−1) + softplus(1))/2 = (0.3132617 + 1.3132617)/2
        // = 0.8132617, where DPO would give (softplus(3) + softplus(−3))/2 = 1.5485874.
        var c = LossCase.Pairs([0.0, 0.0], [-1.0, -3.0], [0.0, 0.0], [-4.0, 0.0]);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var output = new AotLoss(paired: true, beta: 1.0).Compute(c.ToBatch());
        PreferenceLossAssert.Close(0.8132617, output.Loss.item<double>(), 1e-7);
        // Each loss term goes to the pair whose policy margin holds its rank: A has u = 1 (rank 0), B has u = 3 (rank 1).
        var per = output.PerExample.data<double>().ToArray();
        PreferenceLossAssert.Close(0.3132617, per[0], 1e-7);
        PreferenceLossAssert.Close(1.3132617, per[1], 1e-7);
    }

    [Fact]
    public void UnpairedWorkedExample()
    {
        // Reference 0, chosen log-ratios [2, −1], rejected [−3, 3] (DPO's h = 5 and −4). Sorted: [−1, 2] against [−3, 3]:
        // d = [2, −1], β = 1: (softplus(−2) + softplus(1))/2 = (0.1269280 + 1.3132617)/2 = 0.7200948.
        var c = LossCase.Pairs([2.0, -1.0], [-3.0, 3.0], [0.0, 0.0], [0.0, 0.0]);
        PreferenceLossAssert.Close(0.7200948, PreferenceLossAssert.Value(new AotLoss(paired: false, beta: 1.0), c.ToBatch()), 1e-7);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void SinglePairIsConservativeDpo(bool paired)
    {
        var batch = LossCase.WorkedPair().ToBatch();
        PreferenceLossAssert.Close(PreferenceLossAssert.Value(new DpoLoss(0.5, 0.1), batch), PreferenceLossAssert.Value(new AotLoss(paired, 0.5, 0.1), batch));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void KNegativesAreTheBkPairsAsExamples(bool paired)
    {
        // K negatives: the B·K pairs are the samples that get sorted; the same as B·K single-negative examples.
        var c = LossCase.Fixed(3);
        PreferenceLossAssert.Close(PreferenceLossAssert.Value(new AotLoss(paired, 0.5), Flattened(c).ToBatch()),
            PreferenceLossAssert.Value(new AotLoss(paired, 0.5), c.ToBatch()));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void DoesNotDependOnTheOrderOfExamples(bool paired)
    {
        var c = LossCase.Fixed(3);
        int[] order = [2, 0, 1];
        double[,] Rows(double[,] m) { var r = new double[3, 3]; for (int i = 0; i < 3; i++) for (int j = 0; j < 3; j++) r[i, j] = m[order[i], j]; return r; }
        var shuffled = new LossCase(order.Select(i => c.Pc[i]).ToArray(), Rows(c.Pr), order.Select(i => c.Rc[i]).ToArray(), Rows(c.Rr),
            order.Select(i => c.Lc[i]).ToArray(), Rows(c.Lr));
        PreferenceLossAssert.Close(PreferenceLossAssert.Value(new AotLoss(paired, 0.5), c.ToBatch()), PreferenceLossAssert.Value(new AotLoss(paired, 0.5), shuffled.ToBatch()));
    }

    [Theory]
    [InlineData(true, 1)]
    [InlineData(true, 3)]
    [InlineData(false, 1)]
    [InlineData(false, 3)]
    public void GradientsMatchFiniteDifferences(bool paired, int k) =>
        PreferenceLossAssert.GradientsMatchFiniteDifferences(new AotLoss(paired, 0.5, 0.1), Untied(LossCase.Fixed(k)));

    [Theory]
    [InlineData(true, 1)]
    [InlineData(false, 3)]
    public void StableAtExtremeMargins(bool paired, int k)
    {
        var c = LossCase.Extreme(k);
        PreferenceLossAssert.Close(Expected(c, 1.0, 0.1, paired), PreferenceLossAssert.FiniteAtExtremes(new AotLoss(paired, 1.0, 0.1), c));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void StatisticsAndPerExample(bool paired)
    {
        using var scope = NewDisposeScope();
        var c = LossCase.Fixed(3);
        var output = new AotLoss(paired, 0.5).Compute(c.ToBatch());
        PreferenceLossAssert.StatsMatch(output, c, i => 0.5 * c.ChosenLogRatio(i), (i, j) => 0.5 * c.RejectedLogRatio(i, j));
        Assert.Equal([c.B], output.PerExample.shape);
        PreferenceLossAssert.Close(output.PerExample.mean().item<double>(), output.Loss.item<double>());
    }

    [Fact]
    public void RefusesPerExampleWeights()
    {
        var batch = LossCase.Fixed(3).ToBatch() with { Weights = tensor(new[] { 1.0, 2.0, 0.5 }, ScalarType.Float64) };
        var e = Assert.Throws<ArgumentException>(() => new AotLoss().Compute(batch));
        Assert.Contains("weights", e.Message);
        Assert.Contains("aot", e.Message);
    }

    [Fact]
    public void NamesFollowThePairing()
    {
        Assert.Equal("aot", new AotLoss(paired: true).Name);
        Assert.Equal("aot_unpaired", new AotLoss(paired: false).Name);
    }
}
