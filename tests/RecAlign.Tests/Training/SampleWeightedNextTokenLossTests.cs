using RecAlign.Data;
using RecAlign.Models.Language;
using RecAlign.Tests.Models;
using RecAlign.Text;
using RecAlign.Training;
using static TorchSharp.torch;

namespace RecAlign.Tests.Training;

public class SampleWeightedNextTokenLossTests
{
    private const long Ignore = NextTokenLoss.IgnoreIndex;

    [Fact]
    public void Reduce_IsTheWeightedMeanOfEachSamplesTokenMean()
    {
        using var losses = tensor(new double[] { 1, 2, 3, 4, 5 }, requires_grad: true);
        using var rows = tensor(new long[] { 0, 0, 1, 1, 1 });
        using var weights = tensor(new double[] { 2, 0.5 });
        using var loss = SampleWeightedNextTokenLoss.Reduce(losses, rows, weights);
        Assert.Equal((2 * 1.5 + 0.5 * 4) / 2, loss.item<double>(), 12); // CE_0 = 1.5, CE_1 = 4
        loss.backward();
        // d L / d ℓ_p = w_b / (B · n_b): 2/(2·2) for row 0's tokens, 0.5/(2·3) for row 1's.
        var expected = new[] { 0.5, 0.5, 0.5 / 6, 0.5 / 6, 0.5 / 6 };
        var grad = losses.grad!.data<double>().ToArray();
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], grad[i], 12);
    }

    [Fact]
    public void Reduce_LeavesOutRowsWithoutTrainedTokens()
    {
        using var losses = tensor(new double[] { 2, 4 });
        using var rows = tensor(new long[] { 0, 2 });
        using var weights = tensor(new double[] { 1, 7, 1 });
        using var loss = SampleWeightedNextTokenLoss.Reduce(losses, rows, weights);
        Assert.Equal(3, loss.item<double>(), 12); // row 1 has no token: B = 2
    }

    [Fact]
    public void Reduce_GradientMatchesFiniteDifferences()
    {
        var values = new double[] { 0.3, 1.7, 2.2, 0.9, 1.1, 3.0 };
        var rowIds = new long[] { 0, 1, 1, 2, 2, 2 };
        var w = new double[] { 0.4, 1.9, 0.7 };
        double Value(double[] v)
        {
            using var l = tensor(v);
            using var r = tensor(rowIds);
            using var ww = tensor(w);
            using var loss = SampleWeightedNextTokenLoss.Reduce(l, r, ww);
            return loss.item<double>();
        }
        using var leaf = tensor(values, requires_grad: true);
        using var rowsT = tensor(rowIds);
        using var wT = tensor(w);
        SampleWeightedNextTokenLoss.Reduce(leaf, rowsT, wT).backward();
        var grad = leaf.grad!.data<double>().ToArray();
        for (int i = 0; i < values.Length; i++)
        {
            var plus = (double[])values.Clone(); plus[i] += 1e-6;
            var minus = (double[])values.Clone(); minus[i] -= 1e-6;
            Assert.Equal((Value(plus) - Value(minus)) / 2e-6, grad[i], 6);
        }
    }

    [Fact]
    public void WithUnitWeightsAndEqualResponseLengths_EqualsTheUnweightedLoss_AndWeightsChangeIt()
    {
        using var lm = LanguageModel.Create(LanguageModelTests.TinyConfig(), seed: 4);
        // Two rows, two trained positions each (as item-token SFT: the item token, then EOS).
        using var ids = tensor(new long[,] { { 1, 5, 7, 9, 2 }, { 1, 6, 8, 0, 0 } });
        using var targets = tensor(new long[,] { { Ignore, Ignore, 9, 2, Ignore }, { Ignore, 8, 2, Ignore, Ignore } });
        using var plain = NextTokenLoss.Compute(lm, ids, targets);
        using var ones = SampleWeightedNextTokenLoss.Compute(lm, ids, targets, tensor(new float[] { 1, 1 }));
        Assert.Equal(plain.item<float>(), ones.item<float>(), 5);
        // Per row: the unweighted loss of that row alone; the weighted loss is then their weighted mean.
        using var row0 = NextTokenLoss.Compute(lm, ids.narrow(0, 0, 1), targets.narrow(0, 0, 1));
        using var row1 = NextTokenLoss.Compute(lm, ids.narrow(0, 1, 1), targets.narrow(0, 1, 1));
        using var weighted = SampleWeightedNextTokenLoss.Compute(lm, ids, targets, tensor(new float[] { 1.5f, 0.5f }));
        Assert.Equal((1.5 * row0.item<float>() + 0.5 * row1.item<float>()) / 2, weighted.item<float>(), 5);
        // Chunked logits give the same value.
        using var chunked = SampleWeightedNextTokenLoss.Compute(lm, ids, targets, tensor(new float[] { 1.5f, 0.5f }), chunkLogitElements: 50);
        Assert.Equal(weighted.item<float>(), chunked.item<float>(), 5);
    }

    [Fact]
    public void Objective_PassesEachExamplesWeight()
    {
        using var lm = LanguageModel.Create(LanguageModelTests.TinyConfig(), seed: 5);
        var examples = new List<TokenizedExample>
        {
            new([1, 5], [7, 2]) { Weight = 3 },
            new([1, 6], [8, 2]) { Weight = 1 },
        };
        var weighted = new NextTokenObjective(lm, examples, padId: 0, maxLength: 16, sampleWeighted: true);
        var plain = new NextTokenObjective(lm, examples, padId: 0, maxLength: 16);
        using var _ = no_grad();
        double w = weighted.Compute([0, 1]).Loss.item<float>();
        double a = plain.Compute([0]).Loss.item<float>(), b = plain.Compute([1]).Loss.item<float>();
        Assert.Equal((3 * a + 1 * b) / 2, w, 4);
        Assert.Equal((a + b) / 2, plain.Compute([0, 1]).Loss.item<float>(), 4); // equal lengths: the token mean
    }
}

public class GroupWeightsTests
{
    private static ItemGroups TwoGroups() => new("test", ["A", "B"], [[0], [0], [1], [1]]);

    [Fact]
    public void PerGroup_IsHistoryShareOverTargetShare()
    {
        // Histories: A A B | A | B → H = (3, 2); targets A | B | B → N = (1, 2).
        IReadOnlyList<IReadOnlyList<int>> histories = [[0, 1, 2], [0], [3]];
        int[] targets = [1, 2, 3];
        var wg = GroupWeights.PerGroup(histories, targets, TwoGroups());
        Assert.Equal(0.6 / (1.0 / 3), wg[0], 12);
        Assert.Equal(0.4 / (2.0 / 3), wg[1], 12);
        var ws = GroupWeights.PerSample(histories, targets, TwoGroups());
        // Raw 1.8, 0.6, 0.6: mean 1 already.
        Assert.Equal([1.8, 0.6, 0.6], ws.Select(w => Math.Round(w, 12)).ToArray());
    }

    [Fact]
    public void PerSample_IsNormalisedToMeanOne_AndAveragesAMultiLabelTargetsGroups()
    {
        var groups = new ItemGroups("genre", ["X", "Y"], [[0], [1], [0, 1], []]);
        IReadOnlyList<IReadOnlyList<int>> histories = [[0, 0, 1], [0], [1, 2], [0]];
        int[] targets = [0, 2, 1, 3];
        var ws = GroupWeights.PerSample(histories, targets, groups);
        Assert.Equal(1.0, ws.Average(), 12);
        var wg = GroupWeights.PerGroup(histories, targets, groups);
        // Sample 1's target is in X and Y: its raw weight is their mean; sample 3's has no group: the grouped mean.
        double raw0 = wg[0], raw1 = (wg[0] + wg[1]) / 2, raw2 = wg[1], raw3 = (raw0 + raw1 + raw2) / 3;
        double mean = (raw0 + raw1 + raw2 + raw3) / 4;
        Assert.Equal(raw1 / mean, ws[1], 12);
        Assert.Equal(raw3 / mean, ws[3], 12);
    }

    [Fact]
    public void EqualSharesGiveUnitWeights()
    {
        IReadOnlyList<IReadOnlyList<int>> histories = [[0, 2], [1, 3]];
        var ws = GroupWeights.PerSample(histories, [0, 2], TwoGroups());
        Assert.All(ws, w => Assert.Equal(1.0, w, 12));
    }
}
