using System.Text.Json.Nodes;
using RecAlign.Evaluation;
using RecAlign.Tests.Data;
using Xunit.Abstractions;

namespace RecAlign.Tests.Cli;

/// <summary><c>recalign eval</c> over several evaluation sets side by side (candidate files, dataset split settings),
/// catalog-mode grounding options, and CausalDPO's released MovieLens OOD files end to end.</summary>
public sealed class EvalSettingsTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "recalign-eval-settings-" + Guid.NewGuid().ToString("N"));
    private string P(string name) => Path.Combine(_root, name);

    public void Dispose()
    {
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { }
    }

    private CliResult Cli(params string[] args)
    {
        Directory.CreateDirectory(_root);
        var result = CliRunner.Run(_root, TimeSpan.FromMinutes(4), args);
        output.WriteLine(result.Out);
        return result;
    }

    private static JsonObject Json(string path) => JsonNode.Parse(File.ReadAllText(path))!.AsObject();

    private const string OtherCandidates = """
        [{"historyList": "Band 3::Band 4", "itemList": ["Band 5", "Band 0", "Band 1"], "trueSelection": "Band 5"},
         {"historyList": "Band 4::Band 5", "itemList": ["Band 0", "Band 2", "Band 9"], "trueSelection": "Band 9"}]
        """;

    [Fact]
    public void SeveralCandidateSets_OneJsonWithASectionEach_AndAMarkdownTable()
    {
        Directory.CreateDirectory(_root);
        File.WriteAllText(P("a.json"), CliFuzzTests.CandidateJson);
        File.WriteAllText(P("b.json"), OtherCandidates);
        // The second file's target "Band 9" is not in the first's titles: a miss, counted over all samples, with a warning.
        File.WriteAllText(P("names.txt"), string.Join("\n", Enumerable.Range(0, 6).Select(i => $"{i}::Band {i}")) + "\n");
        var r = Cli("eval", "--model", CliFuzzTests.BaseLm, "--candidates", $"ID={P("a.json")}", "--candidates", $"OOD={P("b.json")}",
            "--mode", "catalog", "--catalog", P("names.txt"), "--out", P("r.json"));
        Assert.True(r.ExitCode == 0, r.Error);
        Assert.Contains("1 of 2 target titles are not in the catalog", r.Error);
        var json = Json(P("r.json"));
        Assert.Equal("catalog", (string?)json["evaluated"]!["mode"]);
        var settings = json["settings"]!.AsObject();
        Assert.Equal(["ID", "OOD"], settings.Select(kv => kv.Key));
        Assert.Equal(3, (int)settings["ID"]!["n"]!);
        Assert.Equal(2, (int)settings["OOD"]!["n"]!);
        Assert.Equal(1, (int)settings["OOD"]!["evaluated"]!["targets_not_in_catalog"]!);
        // MiniLM is the default grounding and runs here (the package ships the model).
        Assert.Equal("minilm", (string?)settings["ID"]!["evaluated"]!["grounding"]!["similarity"]);
        Assert.True(settings["OOD"]!["catalog_hr@20"]!.GetValue<double>() <= 0.5); // the missing target can never be hit
        Assert.NotNull(settings["ID"]!["catalog_orratio@10"]);
        var md = File.ReadAllLines(P("r.md"));
        Assert.Equal(SettingsComparison.Marker, md[0]);
        Assert.Contains("catalog_hr@10", md[1]);
        Assert.Contains("catalog_orratio@20", md[1]);
        Assert.StartsWith("| ID | 3 |", md[3]);
        Assert.StartsWith("| OOD | 2 |", md[4]);

        // A markdown file we did not write is never replaced; grounding names are checked.
        File.WriteAllText(P("mine.md"), "my notes\n");
        var refused = Cli("eval", "--model", CliFuzzTests.BaseLm, "--candidates", $"ID={P("a.json")}", "--candidates", $"OOD={P("b.json")}",
            "--mode", "catalog", "--out", P("mine.json"));
        Assert.Equal(2, refused.ExitCode);
        Assert.Contains("mine.md", refused.Error);
        Assert.Equal("my notes\n", File.ReadAllText(P("mine.md")));
        var twice = Cli("eval", "--model", CliFuzzTests.BaseLm, "--candidates", P("a.json"), "--candidates", P("a.json"));
        Assert.Equal(2, twice.ExitCode);
        Assert.Contains("given twice", twice.Error);
        var rankGrounding = Cli("eval", "--model", CliFuzzTests.BaseLm, "--candidates", P("a.json"), "--grounding", "tfidf");
        Assert.Equal(2, rankGrounding.ExitCode);
        Assert.Contains("--grounding applies to --mode catalog", rankGrounding.Error);
    }

    [Fact]
    public void DatasetSplitSettings_SideBySide_ForASequentialModel()
    {
        var train = Cli("train", "sasrec", "--dataset", CliFuzzTests.BaseDataset, "--out", P("sasrec"), "--runs-dir", P("runs"), "--set", "training.epochs=1");
        Assert.True(train.ExitCode == 0, train.Error);
        var r = Cli("eval", "--model", P("sasrec"), "--dataset", CliFuzzTests.BaseDataset,
            "--splits", "leave_one_out,temporal_shift,popularity_shift,attribute_shift", "--out", P("splits.json"));
        Assert.True(r.ExitCode == 0, r.Error);
        var settings = Json(P("splits.json"))["settings"]!.AsObject();
        Assert.Equal(["leave_one_out", "temporal_shift", "popularity_shift", "attribute_shift"], settings.Select(kv => kv.Key));
        Assert.Equal("popularity_shift/test", (string?)settings["popularity_shift"]!["evaluated"]!["split"]);
        // The popularity shift keeps the leave-one-out test targets outside the head: fewer examples.
        Assert.True((int)settings["popularity_shift"]!["n"]! < (int)settings["leave_one_out"]!["n"]!);
        foreach (var (_, s) in settings) Assert.NotNull(s!["catalog_orratio@20"]);
        Assert.Contains("| attribute_shift |", File.ReadAllText(P("splits.md")));
        // One setting keeps the single-result format.
        var single = Cli("eval", "--model", P("sasrec"), "--dataset", CliFuzzTests.BaseDataset, "--splits", "temporal_shift", "--out", P("one.json"));
        Assert.True(single.ExitCode == 0, single.Error);
        Assert.Equal("temporal_shift/test", (string?)Json(P("one.json"))["evaluated"]!["split"]);
        var unknown = Cli("eval", "--model", P("sasrec"), "--dataset", CliFuzzTests.BaseDataset, "--splits", "leave_one_out,sideways");
        Assert.Equal(2, unknown.ExitCode);
        Assert.Contains("unknown setting 'sideways'", unknown.Error);
    }

    private const string MlVal = "causaldpo/ml-1m/ml-val.json";
    private const string MlOod = "causaldpo/ml-1m/ml-ood_test.json";
    private const string MlNames = "causaldpo/ml-1m/ood_id2name.txt";

    [SharedDataFact(MlVal, MlOod, MlNames)]
    public void CausalDpoReleasedFiles_CatalogAndRankMode_EndToEnd()
    {
        // A tiny untrained LM (its figures mean nothing): generation, MiniLM grounding over the 3,471-title
        // universe, and the 10-item lists ranked, on a few records of each file.
        var catalog = Cli("eval", "--model", CliFuzzTests.BaseLm, "--candidates", $"ID={SharedData.PathOf(MlVal)}", "--candidates", $"OOD={SharedData.PathOf(MlOod)}",
            "--mode", "catalog", "--catalog", SharedData.PathOf(MlNames), "--limit", "4", "--batch-size", "4", "--out", P("causaldpo.json"));
        Assert.True(catalog.ExitCode == 0, catalog.Error);
        var ood = Json(P("causaldpo.json"))["settings"]!["OOD"]!;
        Assert.Equal(4, (int)ood["n"]!);
        Assert.Equal(3471, (int)ood["evaluated"]!["catalog_items"]!);
        Assert.Equal(0, (int)ood["evaluated"]!["targets_not_in_catalog"]!);
        Assert.Equal("minilm", (string?)ood["evaluated"]!["grounding"]!["similarity"]);
        // ORRatio@10 lies between its floor (all 40 slots on distinct items: 3/40) and 3/10 (the same ten everywhere).
        Assert.InRange(ood["catalog_orratio@10"]!.GetValue<double>(), 3 / 40.0, 0.3);
        // Batch size 1: batched likelihood scoring of prompts truncated to this toy model's 256 positions overruns them
        // by one (position 256) when a batch mixes prompt lengths, a known issue of ContinuationScorer's batching.
        var rank = Cli("eval", "--model", CliFuzzTests.BaseLm, "--candidates", SharedData.PathOf(MlOod), "--limit", "4", "--batch-size", "1", "--out", P("rank.json"));
        Assert.True(rank.ExitCode == 0, rank.Error);
        var r = Json(P("rank.json"));
        Assert.Equal(4, (int)r["n"]!);
        Assert.InRange(r["hr1"]!.GetValue<double>(), 0, 1);
    }
}
