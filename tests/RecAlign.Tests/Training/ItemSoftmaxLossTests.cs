using RecAlign.Models.Language;
using RecAlign.Tests.Models;
using RecAlign.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace RecAlign.Tests.Training;

public class ItemSoftmaxLossTests
{
    private const long Ignore = NextTokenLoss.IgnoreIndex;

    /// <summary>Items are ids 20..39 of the 50-token vocabulary: an item target's loss is −log softmax over those 20 logits
    /// alone, a text target's (here EOS = 2) over all 50; the mean runs over every trained position.</summary>
    [Fact]
    public void ItemTargetsAreScoredOverTheItemTokensAlone_TextTargetsOverTheVocabulary()
    {
        using var lm = LanguageModel.Create(LanguageModelTests.TinyConfig(), seed: 7);
        using var ids = tensor(new long[,] { { 1, 21, 25, 33, 2 }, { 1, 30, 22, 0, 0 } });
        using var targets = tensor(new long[,] { { 21, 25, 33, 2, Ignore }, { 30, 22, 2, Ignore, Ignore } });
        using var loss = NextTokenLoss.Compute(lm, ids, targets, itemTokens: (20, 20));
        using var chunked = NextTokenLoss.Compute(lm, ids, targets, chunkLogitElements: 60, itemTokens: (20, 20));

        using var logits = lm.Forward(ids).to(ScalarType.Float64);
        double sum = 0; int n = 0;
        var t = targets.data<long>().ToArray();
        for (int b = 0; b < 2; b++)
            for (int p = 0; p < 5; p++)
            {
                long y = t[b * 5 + p];
                if (y == Ignore) continue;
                var row = logits[b, p];
                bool item = y >= 20 && y < 40;
                var scope = item ? row.narrow(0, 20, 20) : row;
                double logZ = scope.logsumexp(0).item<double>();
                sum += logZ - row[y].item<double>();
                n++;
            }
        Assert.Equal(sum / n, loss.to(ScalarType.Float64).item<double>(), 4);
        Assert.Equal(loss.item<float>(), chunked.item<float>(), 5);
        // Restricting the softmax can only raise an item target's probability: the loss is below the full-vocabulary one.
        using var full = NextTokenLoss.Compute(lm, ids, targets);
        Assert.True(loss.item<float>() < full.item<float>());
    }

    [Fact]
    public void GradientMatchesFiniteDifferences()
    {
        using var lm = LanguageModel.Create(LanguageModelTests.TinyConfig(), seed: 8);
        using var ids = tensor(new long[,] { { 1, 21, 25, 2 } });
        using var targets = tensor(new long[,] { { 21, 25, 2, Ignore } });
        var w = lm.OutputWeight;
        lm.zero_grad();
        using (var loss = NextTokenLoss.Compute(lm, ids, targets, itemTokens: (20, 20))) loss.backward();
        using var grad = w.grad!.clone();
        const float h = 1e-2f; // the loss is computed in fp32
        foreach (var (r, c) in new[] { (21, 3), (25, 0), (2, 5), (7, 1) })
        {
            double at(double delta)
            {
                using var _ = no_grad();
                w[r, c] = w[r, c] + (float)delta;
                using var l = NextTokenLoss.Compute(lm, ids, targets, itemTokens: (20, 20));
                w[r, c] = w[r, c] - (float)delta;
                return l.to(ScalarType.Float64).item<double>();
            }
            double numeric = (at(h) - at(-h)) / (2 * h);
            Assert.InRange(Math.Abs(numeric - grad[r, c].to(ScalarType.Float64).item<double>()), 0, 2e-3 + 1e-2 * Math.Abs(numeric));
            Assert.NotEqual(0.0, numeric, 4); // every probed weight moves the loss
        }
    }
}
