using RecAlign.Alignment;
using RecAlign.Configuration;
using static RecAlign.Tests.Alignment.LossMath;
using static TorchSharp.torch;

namespace RecAlign.Tests.Alignment;

/// <summary>TRL's <c>loss_type</c> list with <c>loss_weights</c>: Σ_c w_c·L_c in one run.</summary>
public class CombinedLossTests
{
    private static PreferenceLossConfig Mpo(double? beta = 0.5) => new() { LossType = "sigmoid,bco_pair,sft", LossWeights = [0.8, 0.2, 1.0], Beta = beta };

    [Fact]
    public void MpoWorkedExample()
    {
        // The worked pair at β = 0.5 (h+ = 1, h− = −0.5; one token each): DPO −log σ(0.75) = 0.3868715;
        // BCO (first step, δ = (0.5 − 0.25)/2 = 0.125) 2·log(1 + e^−0.375) = 1.0462465; SFT −log πθ(y+)/|y+| = 12/1.
        // 0.8·0.3868715 + 0.2·1.0462465 + 1.0·12 = 0.3094972 + 0.2092493 + 12 = 12.5187465 (12.51874611 unrounded).
        using var loss = (CombinedLoss)PreferenceLosses.Create(Mpo());
        PreferenceLossAssert.Close(12.51874611, PreferenceLossAssert.Value(loss, LossCase.WorkedPair().ToBatch()), 1e-8);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void IsTheWeightedSumOfItsComponents(int k)
    {
        var c = LossCase.Fixed(k);
        double dpo = MeanPairs(c, (i, j) => -LogSigmoid(0.5 * (c.ChosenLogRatio(i) - c.RejectedLogRatio(i, j))));
        double nca = MeanPairs(c, (i, j) => -LogSigmoid(0.5 * c.ChosenLogRatio(i)) - 0.5 * LogSigmoid(-0.5 * c.ChosenLogRatio(i)) - 0.5 * LogSigmoid(-0.5 * c.RejectedLogRatio(i, j)));
        double sft = -c.Pc.Sum() / c.Lc.Sum();
        var loss = PreferenceLosses.Create(new PreferenceLossConfig { LossType = "dpo,nca_pair,sft", LossWeights = [0.7, 1.5, 0.25], Beta = 0.5 });
        PreferenceLossAssert.Close(0.7 * dpo + 1.5 * nca + 0.25 * sft, PreferenceLossAssert.Value(loss, c.ToBatch()));
        // The same as computing each component on its own.
        var batch = c.ToBatch();
        double separately = 0.7 * PreferenceLossAssert.Value(new DpoLoss(0.5), batch) + 1.5 * PreferenceLossAssert.Value(new NcaPairLoss(0.5), batch)
            + 0.25 * PreferenceLossAssert.Value(new SftLoss(0.5), batch);
        PreferenceLossAssert.Close(separately, PreferenceLossAssert.Value(loss, batch));
    }

    [Fact]
    public void WeightsDefaultToOne()
    {
        var batch = LossCase.Fixed(3).ToBatch();
        var loss = PreferenceLosses.Create(new PreferenceLossConfig { LossType = "hinge,ipo", Beta = 0.5 });
        var combined = Assert.IsType<CombinedLoss>(loss);
        Assert.Equal([1.0, 1.0], combined.Components.Select(c => c.Weight));
        PreferenceLossAssert.Close(PreferenceLossAssert.Value(new HingeLoss(0.5), batch) + PreferenceLossAssert.Value(new IpoLoss(0.5), batch),
            PreferenceLossAssert.Value(loss, batch));
        Assert.True(loss.RequiresReference);
        Assert.True(loss.RequiresLengths); // IPO needs them
    }

    [Fact]
    public void OneLossTypeWithAWeightIsScaled()
    {
        var batch = LossCase.Fixed(3).ToBatch();
        var loss = PreferenceLosses.Create(new PreferenceLossConfig { LossType = "dpo", LossWeights = [2.5], Beta = 0.5 });
        PreferenceLossAssert.Close(2.5 * PreferenceLossAssert.Value(new DpoLoss(0.5), batch), PreferenceLossAssert.Value(loss, batch));
    }

    [Fact]
    public void StatisticsArePrefixedPerComponent()
    {
        using var scope = NewDisposeScope();
        var c = LossCase.Fixed(3);
        using var loss = (CombinedLoss)PreferenceLosses.Create(Mpo());
        var output = loss.Compute(c.ToBatch());
        var s = output.Stats;
        PreferenceLossAssert.Close(PreferenceLossAssert.Value(new DpoLoss(0.5), c.ToBatch()), s["dpo/loss"].item<double>());
        PreferenceLossAssert.Close(-c.Pc.Sum() / c.Lc.Sum(), s["sft/loss"].item<double>());
        Assert.Contains("bco_pair/loss", s.Keys);
        Assert.Contains(BcoPairLoss.RewardShiftStat, s.Keys); // already named: not bco_pair/bco_pair/...
        Assert.DoesNotContain("bco_pair/bco_pair/reward_shift", s.Keys);
        foreach (var name in new[] { "dpo", "bco_pair", "sft" })
            Assert.Contains($"{name}/{PreferenceStatistics.RewardsMargins}", s.Keys);
        // The first component's TRL statistics also unprefixed, as for a single loss.
        PreferenceLossAssert.StatsMatch(output, c, i => 0.5 * c.ChosenLogRatio(i), (i, j) => 0.5 * c.RejectedLogRatio(i, j));
        Assert.All(s.Values, t => { Assert.False(t.requires_grad); Assert.Equal(0, t.dim()); });
        // Per-example losses are the weighted sum too, and (no Dr.DPO inside) average to the loss.
        PreferenceLossAssert.Close(output.Loss.item<double>(), output.PerExample.mean().item<double>());
    }

    [Fact]
    public void RpoAlphaAddsItsNllOnTop()
    {
        var batch = LossCase.Fixed(3).ToBatch();
        var config = new PreferenceLossConfig { LossType = "dpo,hinge", LossWeights = [1.0, 0.5], Beta = 0.5 };
        var rpo = Assert.IsType<RpoLoss>(PreferenceLosses.Create(config with { RpoAlpha = 0.3 }));
        Assert.IsType<CombinedLoss>(rpo.Inner);
        // chosen NLL 39.75 / 16 = 2.484375
        PreferenceLossAssert.Close(PreferenceLossAssert.Value(PreferenceLosses.Create(config), batch) + 0.3 * 2.484375, PreferenceLossAssert.Value(rpo, batch));
    }

    [Fact]
    public void GradientsMatchFiniteDifferences() =>
        PreferenceLossAssert.GradientsMatchFiniteDifferences(
            PreferenceLosses.Create(new PreferenceLossConfig { LossType = "dpo,nca_pair,sppo_hard,sft", LossWeights = [0.7, 1.5, 0.1, 0.25], Beta = 0.5 }),
            LossCase.Fixed(3));

    [Fact]
    public void PerExampleWeightsReachEveryComponent()
    {
        var c = LossCase.Fixed(3);
        double[] w = [2.0, 0.25, 0.75];
        var weighted = c.ToBatch() with { Weights = tensor(w, ScalarType.Float64) };
        var loss = PreferenceLosses.Create(new PreferenceLossConfig { LossType = "dpo,sft", LossWeights = [0.8, 1.0], Beta = 0.5 });
        double dpo = Enumerable.Range(0, 3).Average(i => w[i] * Enumerable.Range(0, 3).Average(j => -LogSigmoid(0.5 * (c.ChosenLogRatio(i) - c.RejectedLogRatio(i, j)))));
        double sft = -Enumerable.Range(0, 3).Sum(i => w[i] * c.Pc[i]) / c.Lc.Sum();
        PreferenceLossAssert.Close(0.8 * dpo + sft, PreferenceLossAssert.Value(loss, weighted));
    }

    [Fact]
    public void StatefulComponentsAreCheckpointedThroughRpo()
    {
        using var scope = NewDisposeScope();
        var config = Mpo() with { RpoAlpha = 1.0 };
        Assert.Null(CheckpointStates.Of(PreferenceLosses.Create(new PreferenceLossConfig { LossType = "dpo,sft" })));
        var a = PreferenceLosses.Create(config);
        a.Compute(LossCase.Fixed(3).ToBatch());
        a.Compute(LossCase.WorkedPair().ToBatch());
        var state = CheckpointStates.Of(a)!.SaveState();
        Assert.Equal("dpo,bco_pair,sft", state["loss"]!.GetValue<string>());
        Assert.Equal(2L, state["components"]!["bco_pair"]!["steps"]!.GetValue<long>());
        double next = PreferenceLossAssert.Value(a, LossCase.Fixed(1).ToBatch());
        var b = PreferenceLosses.Create(config);
        CheckpointStates.Of(b)!.LoadState(System.Text.Json.Nodes.JsonNode.Parse(state.ToJsonString())!.AsObject());
        Assert.Equal(next, PreferenceLossAssert.Value(b, LossCase.Fixed(1).ToBatch()));
        var other = PreferenceLosses.Create(new PreferenceLossConfig { LossType = "dpo,bco_pair" });
        Assert.Contains("dpo,bco_pair,sft", Assert.Throws<FormatException>(() => CheckpointStates.Of(other)!.LoadState(state)).Message);
    }

    [Fact]
    public void RpoAroundAStatefulLossKeepsItsState()
    {
        using var beta = new BetaDpoLoss();
        Assert.Same(beta, CheckpointStates.Of(new RpoLoss(beta, 1.0)));
    }

    [Fact]
    public void LoadsAsTrlsListFromOverridesAndFiles()
    {
        var fromOverrides = ConfigLoader.Load(new PreferenceLossConfig(), overrides: ["loss_type=[\"sigmoid\", \"bco_pair\", \"sft\"]", "loss_weights=[0.8, 0.2, 1.0]"]);
        var fromString = ConfigLoader.Load(new PreferenceLossConfig(), overrides: ["loss_type=sigmoid, bco_pair,sft", "loss_weights=[0.8, 0.2, 1.0]"]);
        using var dir = new RecAlign.Tests.Runs.TempDir();
        var yaml = Path.Combine(dir.Path, "loss.yaml");
        File.WriteAllText(yaml, "loss_type: [sigmoid, bco_pair, sft]\nloss_weights: [0.8, 0.2, 1.0]\nbeta: 0.1\n");
        var fromYaml = ConfigLoader.Load(new PreferenceLossConfig(), yaml);
        foreach (var config in new[] { fromOverrides, fromString, fromYaml })
        {
            var resolved = config.Resolve();
            Assert.Equal("dpo,bco_pair,sft", resolved.LossType);
            Assert.Equal(0.1, resolved.Beta);
            Assert.Equal([0.8, 0.2, 1.0], resolved.LossWeights!);
            using var loss = (IDisposable)PreferenceLosses.Create(config);
            var combined = Assert.IsType<CombinedLoss>(loss);
            Assert.Equal(["dpo", "bco_pair", "sft"], combined.Components.Select(c => c.Loss.Name));
            Assert.Equal([0.8, 0.2, 1.0], combined.Components.Select(c => c.Weight));
        }
        // A resolved list is written back as a list and reads back the same.
        var json = ConfigLoader.ToJson(fromYaml.Resolve());
        Assert.Contains("\"loss_type\": [", json);
        var file = Path.Combine(dir.Path, "resolved.json");
        File.WriteAllText(file, json);
        Assert.Equal("dpo,bco_pair,sft", ConfigLoader.Load(new PreferenceLossConfig(), file).LossType);
        // A single loss type stays a string.
        Assert.Contains("\"loss_type\": \"dpo\"", ConfigLoader.ToJson(new PreferenceLossConfig()));
    }

    [Theory]
    [InlineData("loss_type=null")]
    [InlineData("loss_type=[\"dpo\", 1]")]
    [InlineData("loss_type={\"dpo\": 1}")]
    public void LoaderRefusesLossTypesThatAreNotNames(string assignment)
    {
        var e = Assert.Throws<FormatException>(() => ConfigLoader.Load(new PreferenceLossConfig(), overrides: [assignment]));
        Assert.Contains("loss_type", e.Message);
    }

    [Fact]
    public void MismatchedWeightsNameLossWeights()
    {
        var e = Assert.Throws<ArgumentException>(() => PreferenceLosses.Create(new PreferenceLossConfig { LossType = "dpo,sft", LossWeights = [1.0] }));
        Assert.Contains("loss_weights", e.Message);
        Assert.Contains("1 weight for 2 loss types", e.Message);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(-0.5)]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    public void NonPositiveWeightsNameLossWeights(double weight)
    {
        var e = Assert.Throws<ArgumentException>(() => PreferenceLosses.Create(new PreferenceLossConfig { LossType = "dpo,sft", LossWeights = [1.0, weight] }));
        Assert.Contains("loss_weights", e.Message);
        Assert.Contains("'sft'", e.Message);
    }

    [Theory]
    [InlineData("sigmoid,dpo")]
    [InlineData("dpo, hinge ,DPO")]
    public void RepeatedLossTypesAreRefused(string lossType)
    {
        var e = Assert.Throws<ArgumentException>(() => PreferenceLosses.Create(new PreferenceLossConfig { LossType = lossType }));
        Assert.Contains("loss_type", e.Message);
        Assert.Contains("'dpo'", e.Message);
    }

    [Fact]
    public void EmptyEntriesAreRefused() =>
        Assert.Contains("loss_type", Assert.Throws<ArgumentException>(() => PreferenceLosses.Create(new PreferenceLossConfig { LossType = "dpo," })).Message);

    [Fact]
    public void OneBetaForAllAndDefaultsMustAgree()
    {
        // TRL shares one β. dpo and sft (which has no β) default to TRL's 0.1; dpo and simpo disagree (0.1 vs 2).
        Assert.Equal(0.1, new PreferenceLossConfig { LossType = "dpo,sft" }.EffectiveBeta);
        Assert.Equal(1.0, new PreferenceLossConfig { LossType = "sdpo,sft" }.EffectiveBeta);
        var e = Assert.Throws<ArgumentException>(() => PreferenceLosses.Create(new PreferenceLossConfig { LossType = "dpo,simpo" }));
        Assert.Contains("beta", e.Message);
        var combined = Assert.IsType<CombinedLoss>(PreferenceLosses.Create(new PreferenceLossConfig { LossType = "dpo,simpo", Beta = 0.7 }));
        Assert.Equal(0.7, Assert.IsType<DpoLoss>(combined.Components[0].Loss).Beta);
        Assert.Equal(0.7, Assert.IsType<SimPoLoss>(combined.Components[1].Loss).Beta);
    }
}
