using RecAlign.Alignment;
using RecAlign.Configuration;

namespace RecAlign.Tests.Alignment;

public class PreferenceLossesTests
{
    [Theory]
    [InlineData("dpo", typeof(DpoLoss), 0.1)]
    [InlineData("sdpo", typeof(SoftmaxDpoLoss), 1.0)]
    [InlineData("hinge", typeof(HingeLoss), 0.1)]
    [InlineData("ipo", typeof(IpoLoss), 0.1)]
    [InlineData("robust", typeof(RobustDpoLoss), 0.1)]
    [InlineData("simpo", typeof(SimPoLoss), 2.0)]
    [InlineData("drdpo", typeof(DrDpoLoss), 0.1)]
    [InlineData("betadpo", typeof(BetaDpoLoss), 0.1)]
    [InlineData("alphadpo", typeof(AlphaDpoLoss), 2.5)]
    [InlineData("nca_pair", typeof(NcaPairLoss), 0.1)]
    [InlineData("bco_pair", typeof(BcoPairLoss), 0.1)]
    [InlineData("sppo_hard", typeof(SppoHardLoss), 0.1)]
    [InlineData("apo_zero", typeof(ApoLoss), 0.1)]
    [InlineData("apo_down", typeof(ApoLoss), 0.1)]
    [InlineData("discopop", typeof(DiscoPopLoss), 0.1)]
    [InlineData("aot", typeof(AotLoss), 0.1)]
    [InlineData("aot_unpaired", typeof(AotLoss), 0.1)]
    [InlineData("sft", typeof(SftLoss), 0.1)]
    public void CreatesEachLossByNameWithItsDefaultBeta(string name, Type type, double beta)
    {
        var loss = PreferenceLosses.Create(new PreferenceLossConfig { LossType = name });
        Assert.IsType(type, loss);
        Assert.Equal(name, loss.Name);
        Assert.Equal(beta, PreferenceLosses.DefaultBeta(name));
        Assert.Equal(beta, new PreferenceLossConfig { LossType = name }.Resolve().Beta);
    }

    [Fact]
    public void ExoPairNeedsLabelSmoothingAsTrl()
    {
        // TRL refuses exo_pair at its default label_smoothing 0 (log ε); the EXO paper recommends 1e-3.
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => PreferenceLosses.Create(new PreferenceLossConfig { LossType = "exo_pair" }));
        Assert.Contains("label_smoothing", e.Message);
        var exo = Assert.IsType<ExoPairLoss>(PreferenceLosses.Create(new PreferenceLossConfig { LossType = "exo_pair", LabelSmoothing = 1e-3 }));
        Assert.Equal(("exo_pair", 0.1, 1e-3), (exo.Name, exo.Beta, exo.LabelSmoothing));
        Assert.Equal(0.1, PreferenceLosses.DefaultBeta("exo_pair"));
    }

    [Fact]
    public void PassesTrlLossParametersThrough()
    {
        var disco = Assert.IsType<DiscoPopLoss>(PreferenceLosses.Create(new PreferenceLossConfig { LossType = "discopop", Beta = 0.3, DiscopopTau = 0.2 }));
        Assert.Equal((0.3, 0.2), (disco.Beta, disco.Tau));
        Assert.Equal(0.05, new PreferenceLossConfig().DiscopopTau);
        using var bco = Assert.IsType<BcoPairLoss>(PreferenceLosses.Create(new PreferenceLossConfig { LossType = "bco_pair", BcoRunningMean = false }));
        Assert.False(bco.RunningMean);
        Assert.True(new PreferenceLossConfig().BcoRunningMean);
        var aot = Assert.IsType<AotLoss>(PreferenceLosses.Create(new PreferenceLossConfig { LossType = "aot_unpaired", LabelSmoothing = 0.1 }));
        Assert.Equal((false, 0.1), (aot.Paired, aot.LabelSmoothing));
        Assert.Equal(ApoLoss.Anchor.Down, Assert.IsType<ApoLoss>(PreferenceLosses.Create(new PreferenceLossConfig { LossType = "apo_down" })).Mode);
        Assert.Contains("discopop_tau", Assert.Throws<ArgumentOutOfRangeException>(() =>
            PreferenceLosses.Create(new PreferenceLossConfig { LossType = "discopop", DiscopopTau = -1 })).Message);
    }

    [Fact]
    public void PassesParametersThrough()
    {
        var config = new PreferenceLossConfig { LossType = "SimPO", Beta = 2.5, SimpoGamma = 1.4, LabelSmoothing = 0.1 };
        var simpo = Assert.IsType<SimPoLoss>(PreferenceLosses.Create(config));
        Assert.Equal((2.5, 1.4, 0.1), (simpo.Beta, simpo.Gamma, simpo.LabelSmoothing));
        var dr = Assert.IsType<DrDpoLoss>(PreferenceLosses.Create(new PreferenceLossConfig { LossType = "drdpo", Beta = 0.2, DrdpoBetaPrime = 0.5 }));
        Assert.Equal(0.5, dr.BetaPrime);
        Assert.Equal(0.2, Assert.IsType<DpoLoss>(dr.Inner).Beta);
        using var beta = Assert.IsType<BetaDpoLoss>(PreferenceLosses.Create(
            new PreferenceLossConfig { LossType = "betadpo", BetaDpoAlpha = 0.4, BetaDpoFilterRatio = 0.1, BetaDpoMomentum = 0.8 }, seed: 7));
        Assert.Equal((0.4, 0.1, 0.8, 7L), (beta.Alpha, beta.FilterRatio, beta.Momentum, beta.Seed));
    }

    [Theory]
    [InlineData("sigmoid", "dpo")]
    [InlineData("Softmax_DPO", "sdpo")]
    [InlineData(" beta-dpo ", "betadpo")]
    [InlineData("alpha_dpo", "alphadpo")]
    [InlineData("dr_dpo", "drdpo")]
    [InlineData("EXO-pair", "exo_pair")]
    [InlineData("nca-pair", "nca_pair")]
    [InlineData("bco-pair", "bco_pair")]
    [InlineData("sppo-hard", "sppo_hard")]
    [InlineData("apo-zero", "apo_zero")]
    [InlineData("apo-down", "apo_down")]
    [InlineData("lrml", "discopop")]
    [InlineData("aot_paired", "aot")]
    [InlineData("aot-unpaired", "aot_unpaired")]
    [InlineData("nll", "sft")]
    public void AliasesResolveToCanonicalNames(string alias, string name)
    {
        // exo_pair refuses the default label_smoothing 0 (see ExoPairNeedsLabelSmoothingAsTrl).
        var config = new PreferenceLossConfig { LossType = alias, LabelSmoothing = name == "exo_pair" ? 1e-3 : 0 };
        Assert.Equal(name, PreferenceLosses.Canonical(alias));
        Assert.Equal(name, PreferenceLosses.Create(config).Name);
        Assert.Equal(name, config.Resolve().LossType);
    }

    [Fact]
    public void ListsResolveEachEntry() =>
        Assert.Equal("dpo,bco_pair,sft", PreferenceLosses.Canonical(" sigmoid , BCO-pair,nll"));

    [Fact]
    public void UnknownNameListsTheKnownOnes()
    {
        var e = Assert.Throws<ArgumentException>(() => PreferenceLosses.Create(new PreferenceLossConfig { LossType = "kto" }));
        Assert.Contains("loss_type", e.Message);
        Assert.Contains("sdpo", e.Message);
    }

    [Fact]
    public void InvalidParametersNameTheirKey()
    {
        Assert.Contains("beta", Assert.Throws<ArgumentOutOfRangeException>(() => PreferenceLosses.Create(new PreferenceLossConfig { Beta = 0 })).Message);
        Assert.Contains("label_smoothing", Assert.Throws<ArgumentOutOfRangeException>(() =>
            PreferenceLosses.Create(new PreferenceLossConfig { LossType = "robust", LabelSmoothing = 0.5 })).Message);
    }

    [Fact]
    public void LoadsThroughConfigLoaderWithSnakeCaseOverrides()
    {
        var config = ConfigLoader.Load(new PreferenceLossConfig(), overrides: ["loss_type=simpo", "simpo_gamma=1.0"]).Resolve();
        Assert.Equal(("simpo", 2.0, 1.0), (config.LossType, config.Beta!.Value, config.SimpoGamma));
        var json = ConfigLoader.ToJson(config);
        Assert.Contains("\"beta\": 2", json);
        Assert.Contains("\"drdpo_beta_prime\"", json);
        Assert.DoesNotContain("effective_beta", json);
        Assert.Equal(config, ConfigLoader.Load(new PreferenceLossConfig(), overrides: ["loss_type=simpo", "beta=2.0", "simpo_gamma=1.0"]));
    }
}
