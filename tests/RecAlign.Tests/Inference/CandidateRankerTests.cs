using RecAlign.Inference;
using RecAlign.Tests.Models.Generation;
using TorchSharp;
using static TorchSharp.torch;

namespace RecAlign.Tests.Inference;

public class CandidateRankerTests
{
    private const int Eos = 2;
    private static readonly int[][] Prompts = [[5, 9, 13, 7, 21, 33, 4], [30, 4], [17, 8, 44, 3]];

    // Candidates of 1 to 5 tokens (each ending in EOS); prompt 1 has fewer candidates than the others.
    private static readonly IReadOnlyList<int[]>[] Candidates =
    [
        [[11, 12, 13, Eos], [Eos], [40, Eos], [7, 7, 7, 7, Eos], [25, 26, Eos]],
        [[3, Eos], [19, 20, 21, Eos], [44, Eos]],
        [[8, 9, Eos], [10, Eos], [1, 2, 3, 4, Eos], [48, Eos], [12, 13, 14, Eos]],
    ];

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(8)]
    public void SharedPromptKvEqualsSeparateFullForwards(int promptBatchSize)
    {
        using var lm = GeneratorTests.Model(seed: 21);
        var ranker = new CandidateRanker(lm, promptBatchSize);
        var shared = ranker.Score(Prompts, Candidates);
        var separate = ranker.ScoreSeparately(Prompts, Candidates);
        Assert.True(shared.MaxAbsDifference(separate) < 1e-4, $"sum diff {shared.MaxAbsDifference(separate)}");
        Assert.True(shared.MaxAbsDifference(separate, lengthNormalized: true) < 1e-4);
        // Batched reference path (several right-padded sequences per forward) agrees too.
        Assert.True(ranker.ScoreSeparately(Prompts, Candidates, sequencesPerForward: 3).MaxAbsDifference(separate) < 1e-4);
        // And an independent computation of one score: Σ log p by a plain full forward.
        Assert.Equal(GeneratorTests.FullLogProb(lm, Prompts[2], Candidates[2][2]), shared.Sum[2, 2], 1e-4);
    }

    [Fact]
    public void ScoresShapesLengthsAndMeans()
    {
        using var lm = GeneratorTests.Model(seed: 22);
        var scores = new CandidateRanker(lm).Score(Prompts, Candidates);
        Assert.Equal(3, scores.PromptCount);
        Assert.Equal(5, scores.MaxCandidates);
        Assert.Equal([5, 3, 5], scores.CandidateCounts);
        Assert.Equal(float.NegativeInfinity, scores.Sum[1, 4]);
        Assert.Equal(5, scores.Lengths[0, 3]);
        Assert.Equal(scores.Sum[0, 3] / 5, scores.Mean[0, 3], 1e-6);
        Assert.All(Enumerable.Range(0, 5), c => Assert.True(scores.Sum[0, c] < 0));
        using var t = scores.ToTensor(lengthNormalized: true);
        Assert.Equal(new long[] { 3, 5 }, t.shape);
        Assert.Equal(scores.Mean[2, 1], t[2, 1].item<float>());
    }

    [Fact]
    public void RankingIsSortedByScore()
    {
        using var lm = GeneratorTests.Model(seed: 23);
        var scores = new CandidateRanker(lm).Score(Prompts, Candidates);
        foreach (bool normalized in new[] { false, true })
        {
            var rankings = scores.Rankings(normalized);
            for (int p = 0; p < Prompts.Length; p++)
            {
                Assert.Equal(Enumerable.Range(0, scores.CandidateCounts[p]), rankings[p].Order());
                for (int i = 1; i < rankings[p].Length; i++)
                    Assert.True(scores.Score(p, rankings[p][i - 1], normalized) >= scores.Score(p, rankings[p][i], normalized));
            }
        }
    }

    [Fact]
    public void RankingBreaksTiesByInputOrder()
    {
        var scores = new CandidateScores(new float[,] { { -1f, -3f, -1f, -0.5f } }, new int[,] { { 1, 1, 1, 1 } }, [4]);
        Assert.Equal([3, 0, 2, 1], scores.Ranking(0));
    }

    [Fact]
    public void SharedCandidateListAndChunkedLogitsGiveTheSameScores()
    {
        using var lm = GeneratorTests.Model(seed: 24);
        var list = Candidates[0];
        var full = new CandidateRanker(lm).Score(Prompts, list);
        // Chunks of 3 rows of logits at a time.
        var chunked = new CandidateRanker(lm, promptBatchSize: 2, maxLogitElements: 3 * lm.Config.VocabSize).Score(Prompts, list);
        Assert.True(full.MaxAbsDifference(chunked) < 1e-5);
        Assert.Equal(full.Sum[1, 2], new CandidateRanker(lm).Score([Prompts[1]], list).Sum[0, 2], 1e-5);
    }

    [Fact]
    public void BFloat16SharedScoresTrackSeparateOnes()
    {
        using var lm = GeneratorTests.Model(seed: 25);
        lm.to(ScalarType.BFloat16);
        var ranker = new CandidateRanker(lm, promptBatchSize: 3);
        var shared = ranker.Score(Prompts, Candidates);
        var separate = ranker.ScoreSeparately(Prompts, Candidates);
        Assert.True(shared.MaxAbsDifference(separate) < 0.5, $"bf16 diff {shared.MaxAbsDifference(separate)}");
    }

    [Fact]
    public void BadInputsThrowClearErrors()
    {
        using var lm = GeneratorTests.Model();
        var ranker = new CandidateRanker(lm);
        Assert.Contains("candidate 1 of prompt 0 is empty", Assert.Throws<ArgumentException>(() => ranker.Score([[1, 2]], [[[3], []]])).Message);
        Assert.Contains("prompt 0 has no candidates", Assert.Throws<ArgumentException>(() => ranker.Score([[1, 2]], [Array.Empty<int[]>()])).Message);
        Assert.Contains("outside the vocabulary", Assert.Throws<ArgumentException>(() => ranker.Score([[1, 2]], [[[3, 77]]])).Message);
        Assert.Contains("2 candidate lists for 1 prompts", Assert.Throws<ArgumentException>(() => ranker.Score([[1]], [[[3]], [[4]]])).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new CandidateRanker(lm, promptBatchSize: 0));
    }
}
