using RecAlign.Data;
using RecAlign.Evaluation;
using RecAlign.Models;
using RecAlign.Models.Baselines;
using RecAlign.Prompts;
using static TorchSharp.torch;

namespace RecAlign.Tests.Models;

public class ExposureRerankerTests
{
    private static ItemCatalog Catalog(int n) => new(Enumerable.Range(0, n).Select(i => new Item(i, $"e{i}", $"Item {i}")));

    /// <summary>Items 0-2 are "niche", 3-5 "popular".</summary>
    private static ItemGroups TwoGroups() => new("test", ["niche", "popular"], [[0], [0], [0], [1], [1], [1]]);

    private static List<CandidateQuestion> Questions(ItemCatalog catalog) =>
        CandidateQuestions.From(new PromptBuilder(catalog, PromptTemplates.NamedOrFile("item"), new PromptConfig { Seed = 1 }), catalog,
            [new CandidateExample(0, [0, 1], 2, [2, 4, 5]), new CandidateExample(1, [3], 1, [1, 3, 0])]);

    [Fact]
    public void LambdaZero_IsTheIdentity()
    {
        var catalog = Catalog(6);
        using var popular = new PopularityRecommender(catalog, [1, 2, 3, 10, 11, 12]);
        using var reranker = new ExposureReranker(popular, TwoGroups(), [0, 0.5], 0);
        var questions = Questions(catalog);
        using var a = popular.ScoreCandidates(questions);
        using var b = reranker.ScoreCandidates(questions);
        Assert.True(a.equal(b).all().item<bool>());
        IReadOnlyList<IReadOnlyList<int>> histories = [[0], [5, 1]];
        using var c = popular.ScoreCatalog(histories);
        using var d = reranker.ScoreCatalog(histories);
        Assert.True(c.equal(d).all().item<bool>());
    }

    [Fact]
    public void RerankAtLambdaZero_KeepsEveryRowsOrder()
    {
        using var g = new TorchSharp.torch.Generator(3);
        using var scores = randn([4, 50], generator: g) * 7 - 3;
        scores[1, 5] = float.NegativeInfinity;
        using var penalty = rand([1, 50], generator: g);
        using var r = ExposureReranker.Rerank(scores, penalty, 0);
        Assert.True(scores.argsort(1).equal(r.argsort(1)).all().item<bool>());
        Assert.True(float.IsNegativeInfinity(r[1, 5].item<float>()));
        using var nan = tensor(new float[] { 1, float.NaN, float.PositiveInfinity, 0 }, [1, 4]);
        var v = ExposureReranker.Rerank(nan, zeros(1, 4), 1).data<float>().ToArray();
        Assert.True(float.IsNegativeInfinity(v[1]) && float.IsPositiveInfinity(v[2]));
    }

    [Fact]
    public void Rerank_StandardisesEachRow_PenalisesAndKeepsNegativeInfinity()
    {
        using var scores = tensor(new float[] { 1, 3, float.NegativeInfinity, 10, 20, 30 }, [2, 3]);
        using var penalty = tensor(new float[] { 0, 1, 0, 0, 0, 1 }, [2, 3]);
        using var r = ExposureReranker.Rerank(scores, penalty, 0.5);
        var v = r.data<float>().ToArray();
        // Row 0 over its finite entries (1, 3): z = (−1, 1); row 1: (10, 20, 30) → z = (−1.2247, 0, 1.2247).
        Assert.Equal(-1f, v[0], 5);
        Assert.Equal(1f - 0.5f, v[1], 5);
        Assert.True(float.IsNegativeInfinity(v[2]));
        Assert.Equal(-(float)Math.Sqrt(1.5), v[3], 4);
        Assert.Equal((float)Math.Sqrt(1.5) - 0.5f, v[5], 4);
    }

    [Fact]
    public void AStrongPenalty_MovesTheOverExposedGroupDown()
    {
        var catalog = Catalog(6);
        using var popular = new PopularityRecommender(catalog, [1, 2, 3, 10, 11, 12]);
        using var reranker = new ExposureReranker(popular, TwoGroups(), [0, 1], 10);
        var (ids, _) = reranker.TopK([[5]], 2);
        Assert.True(ids[0, 0] < 3 && ids[0, 1] < 3, "both top items are niche after the penalty");
    }

    /// <summary>12 items: 0-5 niche, 6-11 popular; score = popularity (the id) + 6 for the item after the last one seen.</summary>
    private sealed class NextOrPopular(ItemCatalog catalog) : IRecommender
    {
        public string Name => "next-or-popular";
        public ItemCatalog? Catalog => catalog;
        public Tensor ScoreCandidates(IReadOnlyList<CandidateQuestion> questions) => throw new NotSupportedException();
        public Tensor ScoreCatalog(IReadOnlyList<IReadOnlyList<int>> histories)
        {
            var s = new float[histories.Count * 12];
            for (int b = 0; b < histories.Count; b++)
            {
                for (int i = 0; i < 12; i++) s[b * 12 + i] = i;
                s[b * 12 + (histories[b][^1] + 1) % 12] += 5.5f; // no ties: a niche next item (≤ 10.5) stays below item 11
            }
            return tensor(s, [histories.Count, 12]);
        }
        public void Dispose() { }
    }

    [Fact]
    public void Fit_TunesOnValidation_AndNeverLosesMoreAccuracyThanAllowed()
    {
        // Every user's top item is popular (the popular items outscore a niche next item), while histories are half niche.
        var catalog = Catalog(12);
        var groups = new ItemGroups("test", ["niche", "popular"], Enumerable.Range(0, 12).Select(i => (IReadOnlyList<int>)[i < 6 ? 0 : 1]).ToList());
        using var model = new NextOrPopular(catalog);
        var validation = Enumerable.Range(0, 36).Select(u => new SequenceExample(u, [u % 12], (u + 1) % 12, 0)).ToList();
        var free = ExposureRerankerTuning.Fit(model, groups, validation, [], [0, 1, 4, 16], maxAccuracyDrop: 1, k: 1);
        Assert.Equal("catalog", free.Protocol);
        Assert.Equal(0, free.GroupPenalty[0]); // the niche group is under-exposed: no penalty
        Assert.Equal(1.0, free.GroupPenalty[1], 12); // GU = 0.5, the largest: it pays λ in full
        var unchanged = free.Trials.Single(t => t.Lambda == 0);
        Assert.Equal(0.5, unchanged.Mgu, 12);
        Assert.True(free.Lambda > 0);
        Assert.True(free.Trials.Single(t => t.Lambda == free.Lambda).Mgu < unchanged.Mgu);
        // With no accuracy to spare, only a λ that keeps NDCG@10 may be chosen.
        var strict = ExposureRerankerTuning.Fit(model, groups, validation, [], [0, 1, 4, 16], maxAccuracyDrop: 0, k: 1);
        Assert.True(strict.Trials.Single(t => t.Lambda == strict.Lambda).Accuracy >= unchanged.Accuracy);
        using var applied = strict.Apply(model, groups);
        Assert.Equal(strict.Lambda, applied.Lambda);
    }

    [Fact]
    public void PenaltyOf_ScalesTheMostOverExposedGroupToOne()
    {
        Assert.Equal([0, 1, 0.5], ExposureReranker.PenaltyOf([-0.3, 0.2, 0.1]));
        Assert.Equal([0, 0], ExposureReranker.PenaltyOf([-0.1, 0]));
    }

    [Fact]
    public void Fit_WithoutACatalog_TunesOnCandidateLists()
    {
        var catalog = Catalog(6);
        using var popular = new PopularityRecommender(catalog, [1, 2, 3, 10, 11, 12]);
        var tuning = ExposureRerankerTuning.Fit(popular, TwoGroups(), [], Questions(catalog), [0, 2], maxAccuracyDrop: 1, k: 1);
        Assert.Equal("candidates", tuning.Protocol);
        Assert.Equal(2, tuning.Trials.Count);
    }
}
