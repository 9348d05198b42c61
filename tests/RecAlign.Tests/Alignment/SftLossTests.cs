using RecAlign.Alignment;
using static TorchSharp.torch;

namespace RecAlign.Tests.Alignment;

public class SftLossTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void IsTheTokenMeanNllOfTheChosenResponses(int k)
    {
        // chosen log-probs −12, −20.5, −7.25 over 4 + 9 + 3 tokens: NLL = 39.75 / 16 = 2.484375, whatever the negatives.
        PreferenceLossAssert.Close(2.484375, PreferenceLossAssert.Value(new SftLoss(), LossCase.Fixed(k).ToBatch()));
    }

    [Fact]
    public void WeightsScaleEachChosenResponse()
    {
        // (2·12 + 0.5·20.5 + 1·7.25) / 16 = 41.5 / 16 = 2.59375
        var batch = LossCase.Fixed(1).ToBatch() with { Weights = tensor(new[] { 2.0, 0.5, 1.0 }, ScalarType.Float64) };
        PreferenceLossAssert.Close(2.59375, PreferenceLossAssert.Value(new SftLoss(), batch));
    }

    [Fact]
    public void NeedsNoReference()
    {
        var sft = new SftLoss();
        Assert.False(sft.RequiresReference);
        var batch = LossCase.Fixed(1).ToBatch() with { RefChosen = null, RefRejected = null };
        PreferenceLossAssert.Close(2.484375, PreferenceLossAssert.Value(sft, batch));
    }

    [Fact]
    public void GradientsMatchFiniteDifferences() =>
        PreferenceLossAssert.GradientsMatchFiniteDifferences(new SftLoss(), LossCase.Fixed(3));
}
