using RecAlign.Alignment;
using static RecAlign.Tests.Alignment.LossMath;
using static TorchSharp.torch;

namespace RecAlign.Tests.Alignment;

public class BcoPairLossTests
{
    private static double Expected(LossCase c, double beta, double delta) => MeanPairs(c, (i, j) =>
        -LogSigmoid(beta * c.ChosenLogRatio(i) - delta) - LogSigmoid(-(beta * c.RejectedLogRatio(i, j) - delta)));

    /// <summary>The batch's mean reward TRL folds into δ: the mean of the 2B rewards for K=1; with K negatives each
    /// example's (r+ + mean_k r−)/2.</summary>
    private static double BatchMeanReward(LossCase c, double beta) =>
        Enumerable.Range(0, c.B).Average(i => beta * (c.ChosenLogRatio(i) + Enumerable.Range(0, c.K).Average(j => c.RejectedLogRatio(i, j))) / 2);

    [Fact]
    public void SinglePairWorkedExample()
    {
        // β = 0.5: r+ = 0.5, r− = −0.25; the first step's δ is their mean, 0.125.
        // L = −log σ(0.5 − 0.125) − log σ(−(−0.25 − 0.125)) = 2·log(1 + e^−0.375) = 2·0.5231233 = 1.0462465.
        using var scope = NewDisposeScope();
        using var loss = new BcoPairLoss(0.5);
        var output = loss.Compute(LossCase.WorkedPair().ToBatch());
        PreferenceLossAssert.Close(1.0462465, output.Loss.item<double>(), 1e-7);
        PreferenceLossAssert.Close(0.125, output.Stats[BcoPairLoss.RewardShiftStat].item<double>());
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void RunningMeanOfBatchRewardsOverSteps(int k)
    {
        // δ_n is the mean of the batches' mean rewards so far (TRL's RunningMoments), updated before use.
        using var scope = NewDisposeScope();
        using var loss = new BcoPairLoss(0.5);
        LossCase[] batches = [LossCase.Fixed(k), LossCase.WorkedPair(), LossCase.Fixed(k)];
        var means = new List<double>();
        foreach (var c in batches)
        {
            means.Add(BatchMeanReward(c, 0.5));
            var output = loss.Compute(c.ToBatch());
            PreferenceLossAssert.Close(means.Average(), output.Stats[BcoPairLoss.RewardShiftStat].item<double>());
            PreferenceLossAssert.Close(Expected(c, 0.5, means.Average()), output.Loss.item<double>());
            PreferenceLossAssert.StatsMatch(output, c, i => 0.5 * c.ChosenLogRatio(i), (i, j) => 0.5 * c.RejectedLogRatio(i, j));
        }
        Assert.Equal(3, loss.Steps);
    }

    [Theory]
    [InlineData(1, 0.5)]
    [InlineData(3, 0.5)]
    [InlineData(3, 0.1)]
    public void WithoutRunningMeanIsTrlsShiftFreeLoss(int k, double beta)
    {
        var c = LossCase.Fixed(k);
        PreferenceLossAssert.Close(Expected(c, beta, 0.0), PreferenceLossAssert.Value(new BcoPairLoss(beta, runningMean: false), c.ToBatch()));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void GradientsMatchFiniteDifferences(int k) =>
        PreferenceLossAssert.GradientsMatchFiniteDifferences(new BcoPairLoss(0.5, runningMean: false), LossCase.Fixed(k));

    [Fact]
    public void GradientTreatsTheRewardShiftAsConstant()
    {
        using var scope = NewDisposeScope();
        var c = LossCase.Fixed(3);
        using var loss = new BcoPairLoss(0.5);
        var batch = c.Build(c.Inputs(), requiresGrad: true, out var leaves);
        var output = loss.Compute(batch);
        output.Loss.backward();
        double delta = output.Stats[BcoPairLoss.RewardShiftStat].item<double>();
        PreferenceLossAssert.Close(BatchMeanReward(c, 0.5), delta);
        // Central differences of the loss at the frozen δ (TRL's detach()).
        var inputs = c.Inputs();
        double F(double[][] x) => Expected(c with { Pc = x[0], Rc = x[2], Pr = Reshape(x[1], c.B, c.K), Rr = Reshape(x[3], c.B, c.K) }, 0.5, delta);
        for (int a = 0; a < 4; a++)
        {
            var grad = leaves[a].grad!.data<double>().ToArray();
            for (int e = 0; e < inputs[a].Length; e++)
            {
                var plus = inputs.Select(x => (double[])x.Clone()).ToArray();
                var minus = inputs.Select(x => (double[])x.Clone()).ToArray();
                plus[a][e] += 1e-5;
                minus[a][e] -= 1e-5;
                double fd = (F(plus) - F(minus)) / 2e-5;
                Assert.True(Math.Abs(fd - grad[e]) <= 1e-7, $"input{a}[{e}]: autograd {grad[e]}, finite difference {fd}");
            }
        }
    }

    private static double[,] Reshape(double[] flat, int b, int k)
    {
        var m = new double[b, k];
        for (int i = 0; i < b; i++) for (int j = 0; j < k; j++) m[i, j] = flat[i * k + j];
        return m;
    }

    [Fact]
    public void SavedStateContinuesIdentically()
    {
        using var scope = NewDisposeScope();
        using var a = new BcoPairLoss(0.5);
        a.Compute(LossCase.Fixed(3).ToBatch());
        a.Compute(LossCase.WorkedPair().ToBatch());
        var state = a.SaveState();
        Assert.Equal("bco_pair", state["loss"]!.GetValue<string>());
        Assert.Equal(2L, state["steps"]!.GetValue<long>());
        double next = a.Compute(LossCase.Fixed(1).ToBatch()).Loss.item<double>();
        using var b = new BcoPairLoss(0.5);
        b.LoadState(System.Text.Json.Nodes.JsonNode.Parse(state.ToJsonString())!.AsObject());
        Assert.Equal(next, b.Compute(LossCase.Fixed(1).ToBatch()).Loss.item<double>());
        using var fresh = new BcoPairLoss(0.5);
        Assert.NotEqual(next, fresh.Compute(LossCase.Fixed(1).ToBatch()).Loss.item<double>());
    }

    [Fact]
    public void RefusesAnotherLossesState()
    {
        using var loss = new BcoPairLoss();
        var e = Assert.Throws<FormatException>(() => loss.LoadState(new() { ["loss"] = "betadpo", ["gap_mean"] = 0.0 }));
        Assert.Contains("betadpo", e.Message);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void StableAtExtremeMargins(int k)
    {
        using var loss = new BcoPairLoss(1.0);
        var c = LossCase.Extreme(k);
        PreferenceLossAssert.Close(Expected(c, 1.0, BatchMeanReward(c, 1.0)), PreferenceLossAssert.FiniteAtExtremes(loss, c));
    }
}
