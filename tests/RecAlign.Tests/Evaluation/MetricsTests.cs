using System.Text.Json.Nodes;
using RecAlign.Evaluation;
using static TorchSharp.torch;

namespace RecAlign.Tests.Evaluation;

public class MetricsTests
{
    private const double Tol = 1e-12;

    // Worked example: row 0 target score 0.5 beaten by 0.9 → rank 2; row 1 three-way tie at 0.2 → pessimistic rank 3,
    // optimistic rank 1; row 2 target is the maximum → rank 1.
    private static Tensor Scores() => tensor(new float[,] { { 0.1f, 0.9f, 0.5f, 0.3f }, { 0.2f, 0.2f, 0.2f, 0.1f }, { 0.8f, 0.1f, 0.3f, 0.4f } });
    private static Tensor Targets() => tensor(new long[] { 2, 0, 0 });

    [Fact]
    public void OverRecommendationRatio_WorkedExample()
    {
        // Four users' top-3 lists over six items.
        using var top = tensor(new long[,] { { 0, 1, 2 }, { 0, 1, 3 }, { 0, 2, 4 }, { 5, 1, 0 } });
        var r = Metrics.OverRecommendation(top, [1, 2, 3, 5]);
        Assert.Equal(4, r.N);
        // K=1: items 0,0,0,5 → the three most shown cover all 4 slots → 4/(1·4).
        Assert.Equal(1.0, r["orratio@1"], Tol);
        // K=2: counts 0:3, 1:3, 2:1, 5:1 → 3+3+1 = 7 of 2·4 slots.
        Assert.Equal(7 / 8.0, r["orratio@2"], Tol);
        // K=3: counts 0:4, 1:3, 2:2, 3:1, 4:1, 5:1 → 4+3+2 = 9 of 12.
        Assert.Equal(9 / 12.0, r["orratio@3"], Tol);
        // K beyond the lists: the whole lists, still divided by K·N (as evaluate.py's K·total).
        Assert.Equal(9 / 20.0, r["orratio@5"], Tol);
        // Each K counts afresh: the released code's one counter across K = 10 and 20 is not reproduced.
        Assert.Equal(r["orratio@3"], Metrics.OverRecommendation(top, [3])["orratio@3"], Tol);
        // Empty slots (−1) are not items; no lists → 0.
        using var shortList = tensor(new long[,] { { 0, -1 } });
        Assert.Equal(0.5, Metrics.OverRecommendation(shortList, [2])["orratio@2"], Tol);
        using var none = zeros(0, 3, dtype: int64);
        Assert.Equal(0.0, Metrics.OverRecommendation(none, [10])["orratio@10"]);
        Assert.Throws<ArgumentException>(() => Metrics.OverRecommendation(top, [0]));
    }

    [Fact]
    public void RanksArePessimisticByDefault()
    {
        using var s = Scores();
        using var t = Targets();
        using var r = Metrics.Ranks(s, t);
        Assert.Equal(new long[] { 2, 3, 1 }, r.data<long>().ToArray());
        using var ro = Metrics.Ranks(s, t, TieBreak.Optimistic);
        Assert.Equal(new long[] { 2, 1, 1 }, ro.data<long>().ToArray());
    }

    [Fact]
    public void FromScoresWorkedExample()
    {
        using var s = Scores();
        using var t = Targets();
        var r = Metrics.FromScores(s, t, [1, 3]);
        Assert.Equal(3, r.N);
        Assert.Equal(1.0 / 3, r["hr@1"], Tol);
        Assert.Equal(1.0, r["hr@3"], Tol);
        Assert.Equal(1.0 / 3, r["ndcg@1"], Tol);
        Assert.Equal((1 / Math.Log2(3) + 1 / Math.Log2(4) + 1) / 3, r["ndcg@3"], Tol); // 0.71030991785...
        Assert.Equal((0.5 + 1.0 / 3 + 1) / 3, r["mrr"], Tol);
        Assert.Equal(1.0 / 3, r["mrr@1"], Tol);
        Assert.Equal(r["mrr"], r["mrr@3"], Tol);
        Assert.Equal(["hr@1", "ndcg@1", "mrr@1", "hr@3", "ndcg@3", "mrr@3", "mrr"], r.Metrics.Keys.ToArray());

        var opt = Metrics.FromScores(s, t, [1], TieBreak.Optimistic);
        Assert.Equal(2.0 / 3, opt["hr@1"], Tol);
        Assert.Equal((0.5 + 1 + 1) / 3, opt["mrr"], Tol);
    }

    [Fact]
    public void ExclusionMaskRemovesHistoryButNeverTheTarget()
    {
        using var s = Scores();
        using var t = Targets();
        // Row 0's history holds item 1 (the one beating the target) and the target itself (repeat consumption).
        using var mask = RecAlign.Models.RecommenderExtensions.ItemMask([[1, 2], [], [3]], 4);
        Assert.Equal(new[] { false, true, true, false, false, false, false, false, false, false, false, true },
            mask.view(-1).data<bool>().ToArray());
        using var r = Metrics.Ranks(s, t, exclude: mask);
        Assert.Equal(new long[] { 1, 3, 1 }, r.data<long>().ToArray());
    }

    [Fact]
    public void IdListExclusionMatchesTheMask()
    {
        using var s = Scores();
        using var t = Targets();
        // Same histories as the mask test, plus a repeat and the target listed twice.
        using var r = Metrics.Ranks(s, t, [[1, 2, 1, 2], [], [3]]);
        Assert.Equal(new long[] { 1, 3, 1 }, r.data<long>().ToArray());
        // Row 1's three-way tie at 0.2: excluding item 1 lifts the pessimistic rank from 3 to 2.
        using var r2 = Metrics.Ranks(s, t, [[], [1], []]);
        Assert.Equal(new long[] { 2, 2, 1 }, r2.data<long>().ToArray());
        using var o = Metrics.Ranks(s, t, [[], [1], []], TieBreak.Optimistic);
        Assert.Equal(new long[] { 2, 1, 1 }, o.data<long>().ToArray());

        // Random agreement with the mask path.
        var gen = new Random(5);
        using var g = new Generator(5);
        using var big = randn(20, 50, generator: g);
        using var bt = randint(0, 50, [20], dtype: int64, generator: g);
        var lists = Enumerable.Range(0, 20).Select(_ => (IReadOnlyList<int>)Enumerable.Range(0, gen.Next(0, 12)).Select(_ => gen.Next(50)).ToArray()).ToList();
        using var mask = RecAlign.Models.RecommenderExtensions.ItemMask(lists, 50);
        using var viaMask = Metrics.Ranks(big, bt, exclude: mask);
        using var viaIds = Metrics.Ranks(big, bt, lists);
        Assert.Equal(viaMask.data<long>().ToArray(), viaIds.data<long>().ToArray());
        Assert.Throws<ArgumentException>(() => Metrics.Ranks(s, t, [[9], [], []]));
    }

    [Fact]
    public void RanksAreBatchedOverLargeCatalogs()
    {
        // 2 rows × 1000 items: scores = column index, so target j has rank 1000 - j (no ties).
        using var s = arange(1000, dtype: float32).unsqueeze(0).repeat(2, 1);
        using var t = tensor(new long[] { 999, 0 });
        using var r = Metrics.Ranks(s, t);
        Assert.Equal(new long[] { 1, 1000 }, r.data<long>().ToArray());
    }

    [Fact]
    public void RejectsBadInput()
    {
        using var s = Scores();
        Assert.Throws<ArgumentException>(() => Metrics.Ranks(s, tensor(new long[] { 0, 1 })));
        Assert.Throws<ArgumentException>(() => Metrics.Ranks(s, tensor(new long[] { 0, 1, 4 })));
        using var nan = tensor(new float[,] { { float.NaN, 1f } });
        Assert.Throws<ArgumentException>(() => Metrics.Ranks(nan, tensor(new long[] { 0 })));
        using var nanOther = Metrics.Ranks(nan, tensor(new long[] { 1 })); // a NaN competitor never outranks the target
        Assert.Equal(1L, nanOther.item<long>());
        Assert.Throws<ArgumentException>(() => Metrics.FromRanks(tensor(new double[] { 0 }), [1]));
        Assert.Throws<ArgumentException>(() => Metrics.FromRanks(tensor(new double[] { 1 }), [0]));
    }

    [Fact]
    public void FromRankedListsWorkedExample()
    {
        // Ranks: 2 (3 is second), ∞ (4 absent), 1.
        var r = Metrics.FromRankedLists([[5, 3, 7], [1, 2], [9]], [3, 4, 9], [1, 2], keepDetails: true);
        Assert.Equal(1.0 / 3, r["hr@1"], Tol);
        Assert.Equal(2.0 / 3, r["hr@2"], Tol);
        Assert.Equal((1 / Math.Log2(3) + 0 + 1) / 3, r["ndcg@2"], Tol);
        Assert.Equal((0.5 + 0 + 1) / 3, r["mrr"], Tol);
        Assert.Equal([2.0, null, 1.0], r.Details!.Select(d => d.Rank).ToArray());
        Assert.Equal([3, 4, 9], r.Details!.Select(d => d.Target!.Value).ToArray());
    }

    [Fact]
    public void GeneratedAnswersHitRatioAndValidRatio()
    {
        // Matches: hit, invalid (no candidate), wrong candidate, hit → hr1 = 2/4, valid_ratio = 3/4.
        var r = Metrics.FromGeneratedAnswers([3, null, 5, 7], [3, 4, 6, 7]);
        Assert.Equal(0.5, r["hr1"], Tol);
        Assert.Equal(0.75, r["valid_ratio"], Tol);
        Assert.Equal(4, r.N);
    }

    [Fact]
    public void EmptyInputGivesZeroMetrics()
    {
        var r = Metrics.FromGeneratedAnswers([], []);
        Assert.Equal(0, r.N);
        Assert.Equal(0, r["hr1"]);
        var q = Metrics.FromRankedLists([], [], [5]);
        Assert.Equal(0, q["hr@5"]);
    }

    [Fact]
    public void JsonHasRequiredKeysAndRoundTrips()
    {
        var r = Metrics.FromGeneratedAnswers([3, null], [3, 4], ["Song A", "nonsense"], keepDetails: true)
            .Merge(Metrics.FromRankedLists([[3], [1, 4]], [3, 4], [5]));
        var json = r.ToJson();
        var obj = JsonNode.Parse(json)!.AsObject();
        Assert.Equal(2, (int)obj["n"]!);
        Assert.Equal(0.5, (double)obj["hr1"]!);
        Assert.Equal(0.5, (double)obj["valid_ratio"]!);
        Assert.Equal(1.0, (double)obj["hr@5"]!);
        Assert.Equal("nonsense", (string)obj["details"]![1]!["answer"]!);
        Assert.Null(obj["details"]![0]!["rank"]); // nulls are left out

        var back = EvaluationResult.FromJson(json);
        Assert.Equal(r.Metrics.ToArray(), back.Metrics.ToArray());
        Assert.Equal(r.Details, back.Details);
        Assert.Throws<FormatException>(() => EvaluationResult.FromJson("{\"hr1\": 1}", "x.json"));
    }

    [Fact]
    public void NonFiniteValuesSurviveJson()
    {
        var r = new EvaluationResult(1, [KeyValuePair.Create("loss", double.NaN)]);
        Assert.True(double.IsNaN(EvaluationResult.FromJson(r.ToJson())["loss"]));
    }
}
