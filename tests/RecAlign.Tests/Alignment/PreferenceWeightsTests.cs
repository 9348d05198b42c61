using RecAlign.Alignment;
using static TorchSharp.torch;

namespace RecAlign.Tests.Alignment;

/// <summary>Per-example weights in the batch (TRL's use_weighting shape): mean_i w_i·ℓ_i for every loss.</summary>
public class PreferenceWeightsTests
{
    private static PreferenceBatchLogps Weighted(LossCase c, double[] w) => c.ToBatch() with { Weights = tensor(w, ScalarType.Float64) };

    // aot and aot_unpaired refuse weights (AotLossTests.RefusesPerExampleWeights).
    public static TheoryData<string> Losses => new(["dpo", "sdpo", "ipo", "hinge", "robust", "simpo", "alphadpo", "betadpo", "drdpo", "rpo",
        "exo_pair", "nca_pair", "bco_pair", "sppo_hard", "apo_zero", "apo_down", "discopop", "sft", "combined"]);

    // β-DPO, α-DPO and BCO keep running state: each value is taken from a fresh instance, so both see the same state.
    private static IPreferenceLoss Create(string name) => name switch
    {
        "drdpo" => new DrDpoLoss(new DpoLoss(0.5), 0.7),
        "rpo" => new RpoLoss(new SoftmaxDpoLoss(1.0), 0.5),
        "exo_pair" => new ExoPairLoss(0.1, 1e-3),
        "combined" => PreferenceLosses.Create(new PreferenceLossConfig { LossType = "sigmoid,bco_pair,sft", LossWeights = [0.8, 0.2, 1.0] }),
        _ => PreferenceLosses.Create(new PreferenceLossConfig { LossType = name }),
    };

    [Theory]
    [MemberData(nameof(Losses))]
    public void UnitWeights_GiveTheUnweightedLoss(string name)
    {
        var c = LossCase.Fixed(3);
        PreferenceLossAssert.Close(PreferenceLossAssert.Value(Create(name), c.ToBatch()), PreferenceLossAssert.Value(Create(name), Weighted(c, [1, 1, 1])));
    }

    [Theory]
    [InlineData("dpo")]
    [InlineData("sdpo")]
    [InlineData("ipo")]
    [InlineData("simpo")]
    [InlineData("exo_pair")]
    [InlineData("nca_pair")]
    [InlineData("bco_pair")]
    [InlineData("sppo_hard")]
    [InlineData("apo_zero")]
    [InlineData("apo_down")]
    [InlineData("discopop")]
    [InlineData("sft")]
    [InlineData("combined")]
    public void Weights_ScaleEachExamplesOwnLoss(string name)
    {
        var c = LossCase.Fixed(3);
        var loss = Create(name);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var per = loss.Compute(c.ToBatch()).PerExample.data<double>().ToArray();
        double[] w = [2.0, 0.25, 0.75];
        double expected = (w[0] * per[0] + w[1] * per[1] + w[2] * per[2]) / 3;
        PreferenceLossAssert.Close(expected, PreferenceLossAssert.Value(loss, Weighted(c, w)));
    }

    [Fact]
    public void DrDpo_AveragesInsideTheLogOverTheWeightedBatch()
    {
        var c = LossCase.Fixed(2);
        var inner = new DpoLoss(0.5);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var per = inner.Compute(c.ToBatch()).PerExample.data<double>().ToArray();
        double[] w = [1.5, 0.5, 1.0];
        double beta = 0.7;
        double expected = -beta * Math.Log(Enumerable.Range(0, 3).Sum(i => w[i] * Math.Exp(-per[i] / beta)) / w.Sum());
        PreferenceLossAssert.Close(expected, PreferenceLossAssert.Value(new DrDpoLoss(inner, beta), Weighted(c, w)));
    }

    [Fact]
    public void WeightedLoss_GradientsMatchFiniteDifferences()
    {
        // The kit's gradient check runs on the batch it builds; wrap the loss so every batch carries the weights.
        var c = LossCase.Fixed(3);
        PreferenceLossAssert.GradientsMatchFiniteDifferences(new WithWeights(new SoftmaxDpoLoss(1.0), [2.0, 0.25, 0.75]), c);
        PreferenceLossAssert.GradientsMatchFiniteDifferences(new WithWeights(new DrDpoLoss(new DpoLoss(0.5), 0.7), [2.0, 0.25, 0.75]), c);
    }

    [Fact]
    public void WrongShapedWeights_AreRefused()
    {
        var c = LossCase.Fixed(2);
        var e = Assert.Throws<ArgumentException>(() => new DpoLoss().Compute(Weighted(c, [1, 2])));
        Assert.Contains("Weights", e.Message);
    }

    private sealed class WithWeights(IPreferenceLoss inner, double[] weights) : IPreferenceLoss
    {
        public string Name => inner.Name;
        public bool RequiresReference => inner.RequiresReference;
        public bool RequiresLengths => inner.RequiresLengths;
        public PreferenceLossOutput Compute(PreferenceBatchLogps batch) => inner.Compute(batch with { Weights = tensor(weights, ScalarType.Float64) });
    }
}
