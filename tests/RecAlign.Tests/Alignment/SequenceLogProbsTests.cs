using RecAlign.Alignment;
using TorchSharp;
using static TorchSharp.torch;

namespace RecAlign.Tests.Alignment;

public class SequenceLogProbsTests
{
    private const int N = 2, T = 5, V = 7;

    private static Tensor Logits(ScalarType dtype = ScalarType.Float64)
    {
        using var g = new Generator(17);
        return (randn([N, T, V], ScalarType.Float64, generator: g) * 3).to(dtype);
    }

    /// <summary>log softmax(logits[n,t])[target], by loops over plain doubles.</summary>
    private static double NaiveLogProb(double[] flat, int n, int t, long target)
    {
        int off = (n * T + t) * V;
        double max = double.NegativeInfinity;
        for (int v = 0; v < V; v++) max = Math.Max(max, flat[off + v]);
        double sum = 0;
        for (int v = 0; v < V; v++) sum += Math.Exp(flat[off + v] - max);
        return flat[off + target] - max - Math.Log(sum);
    }

    private static readonly long[,] Ids = { { 1, 4, 6, 0, 3 }, { 2, 2, 5, 1, 6 } };

    [Theory]
    [InlineData(SequenceLogProbs.DefaultChunkElements)]
    [InlineData(7)] // one row per chunk
    [InlineData(20)] // slices of 2 positions, the last one short
    [InlineData(35)] // one sequence per chunk
    [InlineData(70)] // both sequences in one chunk
    public void TokenLogProbsMatchNaiveLoop(long chunkElements)
    {
        using var scope = NewDisposeScope();
        var logits = Logits();
        var targets = tensor(Ids);
        var got = SequenceLogProbs.TokenLogProbs(logits, targets, chunkElements).data<double>().ToArray();
        var flat = logits.data<double>().ToArray();
        for (int n = 0; n < N; n++)
            for (int t = 0; t < T; t++)
                Assert.Equal(NaiveLogProb(flat, n, t, Ids[n, t]), got[n * T + t], 12);
    }

    [Fact]
    public void IgnoreIndexGivesZero()
    {
        using var scope = NewDisposeScope();
        var targets = tensor(new long[,] { { 1, -100, 6, -100, 3 }, { -100, 2, 5, 1, 6 } });
        var got = SequenceLogProbs.TokenLogProbs(Logits(), targets).data<double>().ToArray();
        Assert.Equal(0.0, got[1]);
        Assert.Equal(0.0, got[3]);
        Assert.Equal(0.0, got[5]);
        Assert.True(got[0] < 0);
    }

    [Fact]
    public void Bf16LogitsGiveFp32AndAgreeWithFp32()
    {
        using var scope = NewDisposeScope();
        var bf16 = Logits(ScalarType.BFloat16);
        var got = SequenceLogProbs.TokenLogProbs(bf16, tensor(Ids), chunkElements: 14);
        Assert.Equal(ScalarType.Float32, got.dtype);
        var reference = SequenceLogProbs.TokenLogProbs(bf16.to(ScalarType.Float32), tensor(Ids));
        Assert.True(got.allclose(reference, 1e-6, 1e-6));
    }

    [Fact]
    public void SumResponseLogProbsMatchesNaiveLoop()
    {
        using var scope = NewDisposeScope();
        var values = new double[,] { { -1, -2, double.NegativeInfinity, -4 }, { -0.5, -0.25, -8, double.NaN } };
        var mask = new long[,] { { 1, 1, 0, 1 }, { 0, 1, 1, 0 } };
        var (sum, count) = SequenceLogProbs.SumResponseLogProbs(tensor(values), tensor(mask));
        Assert.Equal(new[] { -7.0, -8.25 }, sum.data<double>().ToArray());
        Assert.Equal(new long[] { 3, 2 }, count.data<long>().ToArray());
        Assert.Equal(ScalarType.Int64, count.dtype);
        var (boolSum, _) = SequenceLogProbs.SumResponseLogProbs(tensor(values), tensor(mask) != 0);
        Assert.True(boolSum.allclose(sum));
    }

    [Fact]
    public void ResponseLogProbsShiftByOnePosition()
    {
        using var scope = NewDisposeScope();
        var logits = Logits();
        // Prompt of 2 tokens in row 0 (response = tokens 2..4); row 1: prompt 1 token, response 1..3, token 4 is padding.
        var response = new long[,] { { 0, 0, 1, 1, 1 }, { 0, 1, 1, 1, 0 } };
        var (sum, count) = SequenceLogProbs.ResponseLogProbs(logits, tensor(Ids), tensor(response));
        var flat = logits.data<double>().ToArray();
        var sums = sum.data<double>().ToArray();
        for (int n = 0; n < N; n++)
        {
            double expected = 0;
            for (int t = 1; t < T; t++)
                if (response[n, t] == 1) expected += NaiveLogProb(flat, n, t - 1, Ids[n, t]); // logits at t−1 score token t
            Assert.Equal(expected, sums[n], 12);
        }
        Assert.Equal(new long[] { 3, 3 }, count.data<long>().ToArray());
    }

    [Fact]
    public void GradientFlowsToLogits()
    {
        using var scope = NewDisposeScope();
        var logits = Logits().requires_grad_(true);
        var (sum, _) = SequenceLogProbs.ResponseLogProbs(logits, tensor(Ids), ones(N, T, ScalarType.Int64), chunkElements: 7);
        sum.sum().backward();
        // d/dlogits of log softmax at the scored positions sums to zero over the vocabulary; the last position is unused.
        var grad = logits.grad!;
        Assert.True(grad.sum(2).abs().max().item<double>() < 1e-12);
        Assert.Equal(0.0, grad.select(1, T - 1).abs().sum().item<double>());
        Assert.True(grad.select(1, 0).abs().sum().item<double>() > 0);
    }

    [Fact]
    public void ShapeErrorsNameTheArgument()
    {
        using var scope = NewDisposeScope();
        Assert.Contains("targets", Assert.Throws<ArgumentException>(() => SequenceLogProbs.TokenLogProbs(Logits(), tensor(new long[,] { { 1, 2 } }))).Message);
        Assert.Contains("responseMask", Assert.Throws<ArgumentException>(() =>
            SequenceLogProbs.ResponseLogProbs(Logits(), tensor(Ids), ones(N, T - 1))).Message);
    }
}
