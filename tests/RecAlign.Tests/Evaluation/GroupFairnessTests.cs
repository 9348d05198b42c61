using RecAlign.Data;
using RecAlign.Evaluation;
using RecAlign.Models;
using RecAlign.Models.Baselines;
using RecAlign.Prompts;
using static TorchSharp.torch;

namespace RecAlign.Tests.Evaluation;

public class GroupFairnessTests
{
    /// <summary>Six items in three groups: 0,1 → A; 2,3 → B; 4,5 → C.</summary>
    private static ItemGroups Abc() => new("test", ["A", "B", "C"], [[0], [0], [1], [1], [2], [2]]);

    private static ItemCatalog Catalog(int n) => new(Enumerable.Range(0, n).Select(i => new Item(i, $"e{i}", $"Item {i}")));

    [Fact]
    public void FromTopK_MatchesHandComputedExample()
    {
        // Histories: A A B | A C → P_hist = (3, 1, 1)/5. Top-2 lists: [3, 0] and [3, 2].
        using var top = tensor(new long[] { 3, 0, 3, 2 }, [2, 2]);
        var r = GroupFairness.FromTopK(top, [[0, 1, 2], [0, 4]], Abc(), [1, 2]);
        Assert.Equal(0.6, r["p_hist/A"], 12);
        Assert.Equal(0.2, r["p_hist/C"], 12);
        // K=1: items 3, 3 → P_rec = (0, 1, 0); GU = (−0.6, 0.8, −0.2).
        Assert.Equal(1.0, r["p_rec@1/B"], 12);
        Assert.Equal(1.6 / 3, r["mgu@1"], 12);
        Assert.Equal(1.4, r["dgu@1"], 12);
        Assert.Equal(1.0 / 6, r["coverage@1"], 12);
        Assert.Equal(10.0 / 12, r["gini@1"], 12); // counts sorted (0,0,0,0,0,2): (2·6−7)·2 / (6·2)
        // K=2: items 3,0,3,2 → P_rec = (0.25, 0.75, 0); GU = (−0.35, 0.55, −0.2).
        Assert.Equal(0.25, r["p_rec@2/A"], 12);
        Assert.Equal(1.1 / 3, r["mgu@2"], 12);
        Assert.Equal(0.9, r["dgu@2"], 12);
        Assert.Equal(0.5, r["coverage@2"], 12);
        Assert.Equal(14.0 / 24, r["gini@2"], 12); // sorted (0,0,0,1,1,2), coefficients −5,−3,−1,1,3,5
    }

    [Fact]
    public void FromTopK_CountsEveryGroupOfAMultiLabelItem_AndSkipsPadding()
    {
        var groups = new ItemGroups("genre", ["X", "Y"], [[0, 1], [1], []]);
        using var top = tensor(new long[] { 0, -1, 2, 1 }, [2, 2]); // item 2 has no group; −1 is an empty slot
        var r = GroupFairness.FromTopK(top, [[1], [0]], groups, [2]);
        Assert.Equal(1.0 / 3, r["p_hist/X"], 12); // memberships: Y (item 1), X and Y (item 0)
        Assert.Equal(1.0 / 3, r["p_rec@2/X"], 12); // recommended 0 (X, Y) and 1 (Y)
        Assert.Equal(0.0, r["mgu@2"], 12);
        Assert.Equal(1.0, r["coverage@2"], 12);
    }

    [Fact]
    public void Gini_IsZeroForEqualExposureAndNearOneForOneItem()
    {
        using var equal = tensor(new double[] { 3, 3, 3, 3 });
        using var one = tensor(new double[] { 0, 0, 0, 0, 0, 0, 0, 0, 0, 10 });
        Assert.Equal(0, GroupFairness.Gini(equal), 12);
        Assert.Equal(0.9, GroupFairness.Gini(one), 12); // (n − 1)/n for one item of n
        Assert.Equal(0, GroupFairness.Gini(zeros(5)), 12);
    }

    [Fact]
    public void TopIds_MapsColumnsAndDropsNegativeInfinity()
    {
        using var scores = tensor(new float[] { 1, 3, float.NegativeInfinity, 2, 0, 5 }, [2, 3]);
        using var items = tensor(new long[] { 10, 11, 12, 20, 21, 22 }, [2, 3]);
        using var top = GroupFairness.TopIds(scores, 3, items);
        Assert.Equal(new long[] { 11, 10, -1, 22, 20, 21 }, top.data<long>().ToArray());
    }

    [Fact]
    public void ByPopularity_CutsEqualSizeGroupsByCountThenId()
    {
        var g = ItemGroups.ByPopularity([5, 1, 3, 0, 2, 4], 3);
        Assert.Equal(["pop1", "pop2", "pop3"], g.Names);
        // Ascending: item 3 (0), 1 (1), 4 (2), 2 (3), 5 (4), 0 (5).
        Assert.Equal([2, 0, 1, 0, 1, 2], Enumerable.Range(0, 6).Select(i => g.GroupsOf(i).Single()).ToArray());
        Assert.Equal([2, 2, 2], g.Sizes());
        var ties = ItemGroups.ByPopularity([1, 1, 1, 1, 1], 2);
        Assert.Equal([0, 0, 0, 1, 1], Enumerable.Range(0, 5).Select(i => ties.GroupsOf(i).Single()).ToArray());
        Assert.Throws<ArgumentException>(() => ItemGroups.ByPopularity([1, 2], 3));
    }

    [Fact]
    public void ByGenre_GroupsByTheCatalogsGenres_AndRefusesACatalogWithout()
    {
        var catalog = new ItemCatalog([
            new Item(0, "a", "A") { Genres = ["Drama", "Comedy"] },
            new Item(1, "b", "B") { Genres = ["Comedy"] },
            new Item(2, "c", "C"),
        ]);
        var g = ItemGroups.ByGenre(catalog);
        Assert.Equal(["Drama", "Comedy"], g.Names);
        Assert.Equal([1, 2], g.Sizes());
        Assert.Empty(g.GroupsOf(2));
        var e = Assert.Throws<ArgumentException>(() => ItemGroups.ByGenre(Catalog(3)));
        Assert.Contains("no genres", e.Message);
    }

    [Fact]
    public void Reindexed_CarriesGroupsToAnotherCatalogsIds()
    {
        var g = Abc().Reindexed([5, 4, -1, 3, 2, 1], 7);
        Assert.Equal([0], g.GroupsOf(5));
        Assert.Equal([2], g.GroupsOf(1));
        Assert.Empty(g.GroupsOf(0));
        Assert.Empty(g.GroupsOf(6));
    }

    [Fact]
    public void EvaluatorAddsFairness_OnCandidateListsAndTheCatalog()
    {
        var catalog = Catalog(6);
        var groups = Abc();
        // Popularity ranks 5 > 4 > ... > 0: group C first.
        using var popular = new PopularityRecommender(catalog, [0, 1, 2, 3, 4, 5]);
        var builder = new PromptBuilder(catalog, PromptTemplates.NamedOrFile("item"), new PromptConfig { Seed = 1 });
        var questions = CandidateQuestions.From(builder, catalog, [new CandidateExample(0, [0, 1], 2, [2, 4, 0]), new CandidateExample(1, [1], 3, [1, 3, 5])]);
        var lists = RecommenderEvaluator.Candidates(popular, questions, groups: groups);
        // Top-1 of each list: 4 (C) and 5 (C); histories A A | A → P_hist A = 1.
        Assert.Equal(1.0, lists["p_rec@1/C"], 12);
        Assert.Equal(2.0 / 3, lists["mgu@1"], 12);
        Assert.Equal(1.0 / 3, lists["coverage@1"], 12);
        Assert.Equal(lists["hr1"], RecommenderEvaluator.Candidates(popular, questions)["hr1"]);

        var users = new List<SequenceExample> { new(0, [5, 0], 1, 0), new(1, [4], 3, 0) };
        var full = RecommenderEvaluator.Catalog(popular, users, groups: groups);
        // History masked: user 0's top-1 is 4, user 1's is 5; both C. Histories: C A | C → P_hist = (1/3, 0, 2/3).
        Assert.Equal(1.0, full["catalog_p_rec@1/C"], 12);
        Assert.Equal((1.0 / 3 + 0 + 1.0 / 3) / 3, full["catalog_mgu@1"], 12);
        Assert.Equal(RecommenderEvaluator.Catalog(popular, users)["catalog_ndcg@10"], full["catalog_ndcg@10"]);
        Assert.Throws<ArgumentException>(() => RecommenderEvaluator.Catalog(popular, users, groups: ItemGroups.ByPopularity([1, 2, 3], 3)));
    }

    [Fact]
    public void CatalogFromScores_EqualsScoringThroughTheRecommender()
    {
        var catalog = Catalog(6);
        using var popular = new PopularityRecommender(catalog, [3, 1, 4, 1, 5, 9]);
        var users = new List<SequenceExample> { new(0, [5, 0], 1, 0), new(1, [4], 3, 0), new(2, [], 2, 0) };
        using var scores = popular.ScoreCatalog(users.Select(u => u.History).ToList());
        var a = RecommenderEvaluator.Catalog(popular, users, groups: Abc(), batchSize: 2);
        var b = RecommenderEvaluator.CatalogFromScores(scores, users, groups: Abc(), batchSize: 2);
        Assert.Equal(a.Metrics, b.Metrics);
    }
}
