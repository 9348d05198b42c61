using RecAlign.Data;
using RecAlign.Evaluation;
using RecAlign.Models;
using RecAlign.Models.Baselines;
using RecAlign.Prompts;
using static TorchSharp.torch;

namespace RecAlign.Tests.Evaluation;

public class RecommenderEvaluatorTests
{
    /// <summary>A recommender with fixed scores, whatever the history.</summary>
    private sealed class Fixed(float[,] scores) : IRecommender
    {
        public string Name => "fixed";
        public ItemCatalog? Catalog { get; } = new(Enumerable.Range(0, scores.GetLength(1)).Select(i => new Item(i, $"{i}", $"t{i}")));
        public Tensor ScoreCandidates(IReadOnlyList<CandidateQuestion> questions) => throw new NotSupportedException();
        public Tensor ScoreCatalog(IReadOnlyList<IReadOnlyList<int>> histories) => tensor(scores).narrow(0, 0, histories.Count).clone();
        public void Dispose() { }
    }

    [Fact]
    public void FullSortMetricsMatchRecBolesDefinitionsWithMaskedHistory()
    {
        // User 0: scores .9 .8 .7 .6 .5, history {0} masked, target 2: items 1 (.8) outranks it → rank 2.
        // User 1: scores .5 .5 .5 .1 .1, no history, target 1: ties count against it (RecBole's full sort does not
        //   promise an order among ties; pessimistic is the conservative reading) → rank 3.
        // User 2: target 0 is also in its history (repeat consumption): never masked → rank 1.
        using var r = new Fixed(new float[,] { { .9f, .8f, .7f, .6f, .5f }, { .5f, .5f, .5f, .1f, .1f }, { .9f, .1f, .2f, .3f, .4f } });
        var examples = new[] { new SequenceExample(0, [0], 2, 0), new SequenceExample(1, [], 1, 0), new SequenceExample(2, [0, 4], 0, 0) };
        var m = RecommenderEvaluator.Catalog(r, examples, [1, 2, 5]).Metrics;
        Assert.Equal(1 / 3.0, m["catalog_hr@1"], 1e-9);
        Assert.Equal(2 / 3.0, m["catalog_hr@2"], 1e-9);
        Assert.Equal(1.0, m["catalog_hr@5"], 1e-9);
        Assert.Equal((1 / Math.Log2(3) + 1 / Math.Log2(4) + 1) / 3, m["catalog_ndcg@5"], 1e-9);
        Assert.Equal((0.5 + 1 / 3.0 + 1) / 3, m["catalog_mrr"], 1e-9);
        // Without masking user 0's target falls to rank 3.
        var unmasked = RecommenderEvaluator.Catalog(r, examples, [5], excludeHistory: false).Metrics;
        Assert.Equal((1 / 3.0 + 1 / 3.0 + 1) / 3, unmasked["catalog_mrr"], 1e-9);
    }

    [Fact]
    public void CatalogReportsOverRecommendationOfTheMaskedTopK()
    {
        // Users' top 2 after masking: user 0 (history {0}) → [1, 2]; user 1 → [0, 1]; user 2 (history {1}) → [0, 2].
        using var r = new Fixed(new float[,] { { .9f, .8f, .7f, .6f, .5f }, { .9f, .8f, .7f, .6f, .5f }, { .9f, .8f, .7f, .6f, .5f }, { .9f, .8f, .7f, .6f, .5f } });
        var examples = new[] { new SequenceExample(0, [0], 3, 0), new SequenceExample(1, [], 3, 0), new SequenceExample(2, [1], 3, 0) };
        var m = RecommenderEvaluator.Catalog(r, examples, [1, 2]).Metrics;
        Assert.Equal(3 / 3.0, m["catalog_orratio@1"], 1e-9); // 1, 0, 0: items 0 and 1 fill all three slots
        Assert.Equal(6 / 6.0, m["catalog_orratio@2"], 1e-9); // 1:2, 2:2, 0:2 → three items, all six slots
        var wide = RecommenderEvaluator.Catalog(r, [.. examples, new SequenceExample(3, [0, 1, 2], 3, 0)], [2]).Metrics;
        Assert.Equal(6 / 8.0, wide["catalog_orratio@2"], 1e-9); // user 3 sees [3, 4]: counts 2,2,2,1,1 → 6 of 8
    }

    [Fact]
    public void TopKSkipsTheHistoryAndReturnsBestFirst()
    {
        using var r = new Fixed(new float[,] { { .9f, .8f, .7f, .6f, .5f } });
        var (ids, scores) = r.TopK([new[] { 0, 2 }], 2);
        Assert.Equal(new long[] { 1, 3 }, new[] { ids[0, 0], ids[0, 1] });
        Assert.Equal(.8f, scores[0, 0]);
        var (all, _) = r.TopK([new[] { 0, 2 }], 2, excludeHistory: false);
        Assert.Equal(0, all[0, 0]);
    }

    [Fact]
    public void TransitionBaselineCountsFollowersAndBreaksTiesByPopularity()
    {
        var catalog = new ItemCatalog(Enumerable.Range(0, 4).Select(i => new Item(i, $"{i}", $"t{i}")));
        // After 0: 1 twice, 2 once. Popularity (targets): 1 ×2, 2 ×1, 3 ×3.
        var train = new[]
        {
            new SequenceExample(0, [0], 1, 0), new SequenceExample(1, [5 % 4, 0], 1, 0), new SequenceExample(2, [0], 2, 0),
            new SequenceExample(3, [2], 3, 0), new SequenceExample(4, [2], 3, 0), new SequenceExample(5, [1], 3, 0),
        };
        using var markov = TransitionRecommender.FromTraining(catalog, train);
        using var scores = markov.ScoreCatalog([new[] { 3, 0 }, new[] { 3 }, Array.Empty<int>()]);
        var s = scores.data<float>().ToArray();
        // Row 0 (last item 0): 1 (2 + 2/4) > 2 (1 + 1/4) > 3 (3/4) > 0 (0).
        Assert.Equal(new[] { 0f, 2.5f, 1.25f, 0.75f }, s[..4]);
        // Rows 1 and 2 (never followed / empty): popularity alone.
        Assert.Equal(new[] { 0f, 0.5f, 0.25f, 0.75f }, s[4..8]);
        Assert.Equal(s[4..8], s[8..12]);
    }

    /// <summary>Ranks candidates by item id, highest first (reads the question's ids).</summary>
    private sealed class ById : IRecommender
    {
        public string Name => "by-id";
        public ItemCatalog? Catalog => null;
        public Tensor ScoreCandidates(IReadOnlyList<CandidateQuestion> questions) =>
            tensor(questions.SelectMany(q => q.Items!.Candidates.Select(c => (float)c)).ToArray(), [questions.Count, questions[0].Candidates.Count]);
        public Tensor ScoreCatalog(IReadOnlyList<IReadOnlyList<int>> histories) => throw new NotSupportedException();
        public void Dispose() { }
    }

    [Fact]
    public void RetrieveThenRerankPutsTheRerankedTopFirstInTheRerankersOrder()
    {
        // Retriever: .9 .8 .7 .6 .5 .4; history {0}; depth 3 retrieves {1, 2, 3}; the re-ranker prefers high ids: 3, 2, 1;
        // the rest follow in the retriever's order (4, 5), the masked history item last.
        using var retriever = new Fixed(new float[,] { { .9f, .8f, .7f, .6f, .5f, .4f } });
        using var reranker = new ById();
        var catalog = retriever.Catalog!;
        using var hybrid = new RetrieveThenRerank(retriever, reranker, 3,
            (history, ids) => new CandidateQuestion("p", ids.Select(catalog.Title).ToList(), 0) { Items = new QuestionItems(catalog, history, ids) });
        var (top, _) = hybrid.TopK([new[] { 0 }], 5);
        Assert.Equal(new long[] { 3, 2, 1, 4, 5 }, Enumerable.Range(0, 5).Select(j => top[0, j]).ToArray());
        var m = RecommenderEvaluator.Catalog(hybrid, [new SequenceExample(0, [0], 1, 0)], [1, 5]).Metrics;
        Assert.Equal(1 / 3.0, m["catalog_mrr"], 1e-9);
    }
}
