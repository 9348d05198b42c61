using RecAlign.Prompts;
using System.Text.Json.Nodes;
using RecAlign.Data;
using RecAlign.Data.Formats;
using RecAlign.Evaluation;
using RecAlign.Inference;
using RecAlign.Tests.Data;

namespace RecAlign.Tests.Evaluation;

/// <summary>Catalog-mode evaluation: hr1/valid_ratio over a ranking universe, the universe read from an item list,
/// and the result JSON recording what was evaluated.</summary>
public class CatalogEvaluationTests
{
    private static ItemCatalog Movies() => new(new[] { "Heat (1995)", "Toy Story (1995)", "Toy Story 2 (1999)", "Casino (1995)" }
        .Select((t, i) => new Item(i, $"m{i}", t)));

    [Fact]
    public void FullCatalog_ReportsHr1AndValidRatioFirst()
    {
        var grounder = new CatalogGrounder(Movies());
        // exact target (hit, valid); exact non-target (miss, valid); free text grounded by similarity only (invalid).
        string[] answers = ["toy story (1995)", "Heat (1995)", "Casino Royale"];
        var r = GenerationMetrics.FullCatalog(answers, [1, 2, 3], grounder, [1, 5], keepDetails: true);
        Assert.Equal(["hr1", "valid_ratio"], r.Metrics.Keys.Take(2));
        Assert.Equal(r["hr@1"], r["hr1"], 1e-12);
        Assert.Equal(2.0 / 3, r["valid_ratio"], 1e-12);
        Assert.Equal([true, true, false], r.Details!.Select(d => d.Valid!.Value));
        var empty = GenerationMetrics.FullCatalog([], [], grounder, [1]);
        Assert.Equal((0, 0.0, 0.0), (empty.N, empty["hr1"], empty["valid_ratio"]));
    }

    [Fact]
    public void TargetsInCatalog_NamesHowManyAreMissing()
    {
        var questions = new[]
        {
            new CandidateQuestion("p", ["Heat (1995)", "Alien (1979)"], 0),
            new CandidateQuestion("p", ["Heat (1995)", "Alien (1979)"], 1),
            new CandidateQuestion("p", ["Casino (1995)", "Heat (1995)"], 0),
        };
        // A missing target is −1 (a miss, as CausalDPO counts it) and named in the warning; none found is an error.
        var targets = CandidateEvaluator.TargetsInCatalog(questions, Movies());
        Assert.Equal([0, -1, 3], targets.Ids);
        Assert.Contains("1 of 3 target titles", targets.Warning(3, 4));
        Assert.Contains("'Alien (1979)'", targets.Warning(3, 4));
        Assert.Null(CandidateEvaluator.TargetsInCatalog([questions[0], questions[2]], Movies()).Warning(2, 4));
        var e = Assert.Throws<ArgumentException>(() => CandidateEvaluator.TargetsInCatalog([questions[1]], Movies()));
        Assert.Contains("none of the 1 target titles", e.Message);
    }

    [Fact]
    public void FullCatalog_MissingTargetsAreMissesOverAllSamples_AndLeftOutOfOrRatio()
    {
        var grounder = new CatalogGrounder(Movies(), new NoSimilarity(4));
        // Exact answers: Heat → rank 1 (hit), a missing target (−1), Casino → rank 1 (hit), Toy Story for target 2 → miss.
        string[] answers = ["Heat (1995)", "Heat (1995)", "Casino (1995)", "Toy Story (1995)"];
        var r = GenerationMetrics.FullCatalog(answers, [0, -1, 3, 2], grounder, [1, 2]);
        Assert.Equal(2.0 / 4, r["hr@1"], 1e-12); // divided by all four samples, the missing one a miss
        Assert.Equal(2.0 / 4, r["hr1"], 1e-12);
        // ORRatio@1 over the 3 found samples' top-1 lists: items 0, 3, 1 once each → 3 / (1·3) = 1.
        Assert.Equal(1.0, r["orratio@1"], 1e-12);
        // Top 2 (ties keep id order): [0,1], [3,0], [1,0] → counts 0:3, 1:2, 3:1 → 6 / (2·3) = 1.
        Assert.Equal(1.0, r["orratio@2"], 1e-12);
    }

    [Fact]
    public void ReadCatalog_IdTitleListsAndUItem_RefusesDataStatis()
    {
        using var dir = new TempDir();
        // ids need not be dense for grounding: file order gives the catalog ids
        var list = ReadCatalogOf(dir.Write("ood_id2name.txt", "7::Heat (1995)\n3::Casino (1995)\n"));
        Assert.Equal((2, "Casino (1995)", "3"), (list.Count, list.Title(1), list[1].ExternalId));
        var flags = string.Join('|', Enumerable.Range(0, 19).Select(_ => "0"));
        var uitem = ReadCatalogOf(dir.Write("u.item", $"1|Toy Story (1995)|01-Jan-1995||http://x|{flags}\n"));
        Assert.Equal("Toy Story (1995)", uitem.Title(0));
        var statis = Assert.Throws<DataFormatException>(() => CatalogGrounder.ReadCatalog(dir.Write("data_statis.csv", "seq_size,item_num\n10,5\n")));
        Assert.Contains("no titles", statis.Message);
        Assert.Contains("not found", Assert.Throws<DataFormatException>(() => CatalogGrounder.ReadCatalog(dir.Sub("none.txt"))).Message);
    }

    private static ItemCatalog ReadCatalogOf(string path) => CatalogGrounder.ReadCatalog(path);

    [Fact]
    public void CandidateFileReadIntoAUniverse_KeepsUniverseIds()
    {
        using var dir = new TempDir();
        var universe = CatalogGrounder.ReadCatalog(dir.Write("ood_id2name.txt", "0::Heat (1995)\n1::Casino (1995)\n2::Toy Story (1995)\n"));
        var file = CandidatePromptJson.Read(dir.Write("c.json",
            """[{"historyList": "Old Movie (1950)", "itemList": ["Casino (1995)", "Heat (1995)"], "trueSelection": "Casino (1995)"}]"""), universe);
        Assert.Equal(4, file.Catalog.Count); // the history title is appended for the prompt...
        Assert.Equal(1, file.Examples[0].Target); // ...and universe ids are unchanged
        var q = new CandidateQuestion("p", ["Casino (1995)", "Heat (1995)"], 0);
        Assert.Equal([1], CandidateEvaluator.TargetsInCatalog([q], universe).Ids);
    }

    [Fact]
    public void EvaluatedRecord_RoundTripsThroughJson()
    {
        var r = new EvaluationResult(2, new Dictionary<string, double> { ["hr1"] = 0.5, ["valid_ratio"] = 1.0 })
            .WithEvaluated(new JsonObject { ["model"] = "/m", ["mode"] = "catalog", ["limit"] = null, ["catalog_items"] = 3471 });
        var json = r.ToJson();
        Assert.StartsWith("{\n  \"evaluated\": {", json.Replace("\r\n", "\n"));
        var back = EvaluationResult.FromJson(json);
        Assert.Equal(0.5, back["hr1"]);
        Assert.Equal(["hr1", "valid_ratio"], back.Metrics.Keys);
        Assert.Equal("catalog", (string?)back.Evaluated!["mode"]);
        Assert.Equal(3471, (int)back.Evaluated!["catalog_items"]!);
        Assert.True(back.Evaluated.ContainsKey("limit"));
        Assert.Equal("/m", (string?)r.Merge(back, "x_").Evaluated!["model"]);
        Assert.Throws<ArgumentException>(() => new EvaluationResult(1, new Dictionary<string, double> { [EvaluationResult.EvaluatedKey] = 1 }));
        Assert.Null(EvaluationResult.FromJson("""{"n": 1, "hr1": 1}""").Evaluated);
    }

    [SharedDataFact("causaldpo/ml-1m/ood_id2name.txt", "causaldpo/ml-1m/ml-ood_test.json")]
    public void SharedData_CausalDpoOodUniverse_HoldsEveryTestTarget()
    {
        var universe = CatalogGrounder.ReadCatalog(SharedData.PathOf("causaldpo/ml-1m/ood_id2name.txt"));
        Assert.Equal(3471, universe.Count);
        var file = CandidatePromptJson.Read(SharedData.PathOf("causaldpo/ml-1m/ml-ood_test.json"), universe);
        Assert.Equal(3436, file.Examples.Count);
        Assert.All(file.Examples, e => Assert.InRange(e.Target, 0, universe.Count - 1));
    }
}
