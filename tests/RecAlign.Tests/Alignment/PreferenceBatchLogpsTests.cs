using RecAlign.Alignment;
using static TorchSharp.torch;

namespace RecAlign.Tests.Alignment;

public class PreferenceBatchLogpsTests
{
    [Fact]
    public void OneDimensionalRejectedIsOneNegative()
    {
        using var scope = NewDisposeScope();
        var b = LossCase.Fixed(1).ToBatch();
        var flat = b with { PolicyRejected = b.PolicyRejected.squeeze(1), RefRejected = b.RefRejected!.squeeze(1) };
        Assert.Equal(1, flat.NegativeCount);
        PreferenceLossAssert.Close(PreferenceLossAssert.Value(new DpoLoss(0.5), b), PreferenceLossAssert.Value(new DpoLoss(0.5), flat));
    }

    [Fact]
    public void MissingReferenceIsNamed()
    {
        var b = LossCase.Fixed(3).ToBatch() with { RefRejected = null };
        var e = Assert.Throws<ArgumentException>(() => new SoftmaxDpoLoss().Compute(b));
        Assert.Contains("RefRejected", e.Message);
        Assert.Contains("sdpo", e.Message);
    }

    [Fact]
    public void ShapeMismatchNamesTheField()
    {
        using var scope = NewDisposeScope();
        var b = LossCase.Fixed(3).ToBatch();
        var e = Assert.Throws<ArgumentException>(() => new DpoLoss().Compute(b with { RefRejected = b.RefRejected!.narrow(1, 0, 2) }));
        Assert.Contains("RefRejected", e.Message);
        Assert.Contains("[3, 3]", e.Message);
        e = Assert.Throws<ArgumentException>(() => new DpoLoss().Compute(b with { PolicyRejected = b.PolicyRejected.narrow(0, 0, 2) }));
        Assert.Contains("PolicyRejected", e.Message);
        e = Assert.Throws<ArgumentException>(() => new SimPoLoss().Compute(b with { RejectedLengths = b.ChosenLengths }));
        Assert.Contains("RejectedLengths", e.Message);
    }

    [Fact]
    public void IntegerLogProbsAreRejected()
    {
        using var scope = NewDisposeScope();
        var b = LossCase.Fixed(1).ToBatch();
        var e = Assert.Throws<ArgumentException>(() => new DpoLoss().Compute(b with { PolicyChosen = b.PolicyChosen.to(ScalarType.Int64) }));
        Assert.Contains("PolicyChosen", e.Message);
    }

    [Fact]
    public void ComputeLeavesNothingBehindButItsOutputs()
    {
        var b = LossCase.Fixed(3).ToBatch();
        using var scope = NewDisposeScope();
        long before = scope.DisposablesCount;
        var output = new SoftmaxDpoLoss().Compute(b);
        // Loss, per-example losses and seven statistics join the caller's scope; intermediates are already freed.
        Assert.Equal(before + 9, scope.DisposablesCount);
    }
}
