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
    public void CreatesEachLossByNameWithItsDefaultBeta(string name, Type type, double beta)
    {
        var loss = PreferenceLosses.Create(new PreferenceLossConfig { LossType = name });
        Assert.IsType(type, loss);
        Assert.Equal(name, loss.Name);
        Assert.Equal(beta, PreferenceLosses.DefaultBeta(name));
        Assert.Equal(beta, new PreferenceLossConfig { LossType = name }.Resolve().Beta);
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
    public void AliasesResolveToCanonicalNames(string alias, string name)
    {
        Assert.Equal(name, PreferenceLosses.Canonical(alias));
        Assert.Equal(name, PreferenceLosses.Create(new PreferenceLossConfig { LossType = alias }).Name);
        Assert.Equal(name, new PreferenceLossConfig { LossType = alias }.Resolve().LossType);
    }

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
