using RecAlign.Models.Language;
using TorchSharp;
using static TorchSharp.torch;

namespace RecAlign.Tests.Models;

public class ContinuationScorerTests
{
    private static double SeparateLogProb(LanguageModel lm, int[] prompt, int[] continuation)
    {
        using var scope = NewDisposeScope();
        var ids = tensor(prompt.Concat(continuation).Select(i => (long)i).ToArray()).unsqueeze(0);
        var logp = lm.Forward(ids).log_softmax(-1)[0];
        double sum = 0;
        for (int j = 0; j < continuation.Length; j++)
            sum += logp[prompt.Length - 1 + j, continuation[j]].item<float>();
        return sum;
    }

    [Fact]
    public void SharedPromptScoresEqualSeparateForwards()
    {
        using var lm = LanguageModel.Create(LanguageModelTests.TinyConfig(), seed: 21);
        int[][] prompts = [[1, 5, 6, 7, 8], [1, 9]];
        int[][][] conts = [[[10, 11, 2], [12, 2], [13, 14, 15, 2]], [[16, 2], [17, 18, 2]]];
        using var _ = no_grad();
        using var scores = ContinuationScorer.Score(lm, prompts, conts.Select(c => (IReadOnlyList<int[]>)c).ToList(), padId: 0);
        var sums = scores.Sums.data<float>().ToArray();
        Assert.Equal(new long[] { 3, 2, 4, 2, 3 }, scores.Lengths.data<long>().ToArray());
        Assert.Equal(new long[] { 0, 0, 0, 1, 1 }, scores.Owner.data<long>().ToArray());
        int k = 0;
        for (int p = 0; p < prompts.Length; p++)
            foreach (var c in conts[p])
                Assert.Equal(SeparateLogProb(lm, prompts[p], c), sums[k++], 4);
    }

    /// <summary>Soft tokens in the prompts (injected vectors at given positions, left padding and all): the shared-prompt
    /// scores equal separate full forwards of prompt + continuation with the same vectors at the same positions, and
    /// they differ from the scores without them (the vectors are read).</summary>
    [Fact]
    public void SharedPromptScoresWithInjectedVectorsEqualSeparateForwards()
    {
        using var lm = LanguageModel.Create(LanguageModelTests.TinyConfig(), seed: 24);
        int[][] prompts = [[1, 5, 6, 7, 8], [1, 9, 3]];
        int[][][] conts = [[[10, 11, 2], [12, 2]], [[16, 2], [17, 18, 2]]];
        var g = new TorchSharp.torch.Generator(5);
        SoftTokens?[] soft = [new SoftTokens([1, 3], randn([2, lm.Config.HiddenSize], generator: g)), new SoftTokens([2], randn([1, lm.Config.HiddenSize], generator: g))];
        using var _ = no_grad();
        var list = conts.Select(c => (IReadOnlyList<int[]>)c).ToList();
        using var scores = ContinuationScorer.Score(lm, prompts, list, padId: 0, promptSoft: soft);
        using var plain = ContinuationScorer.Score(lm, prompts, list, padId: 0);
        var sums = scores.Sums.data<float>().ToArray();
        int k = 0;
        for (int p = 0; p < prompts.Length; p++)
            foreach (var c in conts[p])
            {
                using var scope = NewDisposeScope();
                var ids = tensor(prompts[p].Concat(c).Select(i => (long)i).ToArray()).unsqueeze(0);
                var injected = InjectedEmbeddings.ForRows([soft[p]], [0], 1, ids.shape[1], CPU)!;
                var logp = lm.Forward(ids, injected: injected).log_softmax(-1)[0];
                double separate = 0;
                for (int j = 0; j < c.Length; j++) separate += logp[prompts[p].Length - 1 + j, c[j]].item<float>();
                Assert.Equal(separate, sums[k++], 4);
            }
        Assert.False(scores.Sums.allclose(plain.Sums, 1e-3, 1e-3));
        Assert.Contains("1 soft-token entries for 2 prompts", Assert.Throws<ArgumentException>(() => ContinuationScorer.Score(lm, prompts, list, 0, promptSoft: [soft[0]])).Message);
    }

    [Fact]
    public void GradientsFlowThroughTheSharedPrompt()
    {
        using var lm = LanguageModel.Create(LanguageModelTests.TinyConfig(), seed: 22);
        using var scores = ContinuationScorer.Score(lm, [[1, 3, 4]], [[[5, 2], [6, 7, 2]]], padId: 0);
        (scores.Sums[0] - scores.Sums[1]).backward();
        var q = lm.named_parameters().First(p => p.name == "model.layers.0.self_attn.q_proj.weight").parameter;
        using var grad = q.grad!;
        Assert.True(grad.abs().sum().item<float>() > 0);
    }

    [Fact]
    public void BadInputIsAClearError()
    {
        using var lm = LanguageModel.Create(LanguageModelTests.TinyConfig(), seed: 23);
        Assert.Contains("candidate 1 of prompt 0 is empty", Assert.Throws<ArgumentException>(() => ContinuationScorer.Score(lm, [[1, 2]], [[[3], []]], 0)).Message);
        Assert.Contains("prompt 0 has no candidates", Assert.Throws<ArgumentException>(() => ContinuationScorer.Score(lm, [[1, 2]], [Array.Empty<int[]>()], 0)).Message);
        Assert.Contains("outside the vocabulary", Assert.Throws<ArgumentException>(() => ContinuationScorer.Score(lm, [[1, 2]], [[[3, 1 << 20]]], 0)).Message);
        var longPrompt = Enumerable.Repeat(1, lm.Config.MaxPositionEmbeddings).ToArray();
        Assert.Contains("exceeds max_position_embeddings", Assert.Throws<ArgumentException>(() => ContinuationScorer.Score(lm, [longPrompt], [[[3, 2]]], 0)).Message);
    }
}
