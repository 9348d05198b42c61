using RecAlign.Models.Language;
using static TorchSharp.torch;

namespace RecAlign.Tests.Models;

public class DropoutSwitchTests
{
    /// <summary>SetDropout(0) makes a train-mode forward deterministic and equal to eval mode's, without changing the
    /// config that gets saved (TRL's disable_dropout).</summary>
    [Fact]
    public void SetDropoutTurnsTrainingDropoutOffWithoutChangingTheConfig()
    {
        using var lm = LanguageModel.Create(LanguageModelTests.TinyConfig() with { HiddenDropout = 0.5, AttentionDropout = 0.3 }, seed: 3);
        using var ids = tensor(new long[] { 1, 5, 7, 9, 2 }, [1, 5]);
        using var _ = no_grad();
        lm.eval();
        using var reference = lm.Forward(ids);
        lm.train();
        using var a = lm.Forward(ids);
        using var b = lm.Forward(ids);
        Assert.False(a.allclose(b), "dropout 0.5 in train mode");
        lm.SetDropout(0, 0.3);
        using var attentionOnly1 = lm.Forward(ids);
        using var attentionOnly2 = lm.Forward(ids);
        Assert.False(attentionOnly1.allclose(attentionOnly2), "attention dropout 0.3 in train mode");
        lm.SetDropout(0, 0);
        using var c = lm.Forward(ids);
        Assert.True(c.allclose(reference, 1e-5, 1e-5));
        Assert.Equal((0.5, 0.3, 0.0, 0.0), (lm.Config.HiddenDropout, lm.Config.AttentionDropout, lm.DropoutRate, lm.AttentionDropoutRate));
        Assert.Throws<ArgumentOutOfRangeException>(() => lm.SetDropout(1, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => lm.SetDropout(0, 1));
    }
}
