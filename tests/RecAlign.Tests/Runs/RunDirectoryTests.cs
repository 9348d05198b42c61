using System.Text.Json.Nodes;
using RecAlign.Runs;

namespace RecAlign.Tests.Runs;

public sealed class TempDir : IDisposable
{
    public TempDir() => Directory.CreateDirectory(Path);
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "recalign-tests-" + Guid.NewGuid().ToString("N"));
    public void Dispose() { try { Directory.Delete(Path, recursive: true); } catch (IOException) { } }
}

public class RunDirectoryTests
{
    private sealed record LoraConfig(int Rank = 8, double Alpha = 16);
    private sealed record TrainConfig(double LearningRate = 3e-4, int BatchSize = 4, LoraConfig? Lora = null);

    private static readonly DateTimeOffset Now = new(2026, 11, 23, 1, 2, 3, 456, TimeSpan.Zero);

    [Fact]
    public void CreateLaysOutTheFolder()
    {
        using var tmp = new TempDir();
        using var run = RunDirectory.Create(tmp.Path, "sft", new TrainConfig(Lora: new LoraConfig()),
            givenConfig: new JsonObject { ["learning_rate"] = 3e-4 }, now: Now);
        Assert.Matches(@"^20261123-010203-sft-[0-9a-f]{6}$", run.Id);
        Assert.Equal(Path.Combine(tmp.Path, run.Id), run.Path);
        Assert.True(Directory.Exists(run.CheckpointsPath));
        Assert.True(Directory.Exists(run.PlotsPath));
        Assert.Equal(new DateTimeOffset(2026, 11, 23, 1, 2, 3, TimeSpan.Zero), run.Created);
        var resolved = run.ReadResolvedConfig()!;
        Assert.Equal(4, (int)resolved["batch_size"]!);
        Assert.Equal(8, (int)resolved["lora"]!["rank"]!);
        Assert.Single(run.ReadConfig()!); // as given: only the user's key
        Assert.Contains("created run", File.ReadAllText(run.LogPath));
        Assert.Empty(Directory.GetFiles(run.Path, "*.tmp", SearchOption.AllDirectories));
    }

    [Fact]
    public void SameSecondRunsGetDistinctIds()
    {
        using var tmp = new TempDir();
        var ids = Enumerable.Range(0, 5).Select(_ => { using var r = RunDirectory.Create(tmp.Path, "eval", new TrainConfig(), now: Now); return r.Id; }).ToList();
        Assert.Equal(5, ids.Distinct().Count());
    }

    [Fact]
    public void MetricsAreAppendedAndReadBack()
    {
        using var tmp = new TempDir();
        using var run = RunDirectory.Create(tmp.Path, "align", new TrainConfig());
        run.LogMetrics(1, new Dictionary<string, double> { ["loss"] = 0.5, ["reward_margin"] = 0.1 }, "dpo");
        run.LogMetrics(2, new Dictionary<string, double> { ["loss"] = double.NaN }, "dpo");
        run.LogMetrics(3, new Dictionary<string, double> { ["val_hr1"] = 0.25 });
        // Readable while the writer still holds the file open.
        var records = run.ReadMetrics();
        Assert.Equal([1L, 2, 3], records.Select(r => r.Step).ToArray());
        Assert.Equal("dpo", records[0].Stage);
        Assert.Null(records[2].Stage);
        Assert.Equal(0.1, records[0].Values["reward_margin"]);
        Assert.True(double.IsNaN(records[1].Values["loss"]));
        Assert.NotNull(records[0].Time);
        var firstLine = File.ReadLines(run.MetricsPath).First();
        Assert.Matches("\"time\":\"\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z\"", firstLine); // readable: no unicode escapes
        var first = JsonNode.Parse(firstLine)!.AsObject();
        Assert.Equal(["step", "stage", "time", "loss", "reward_margin"], first.Select(p => p.Key).ToArray());
    }

    [Fact]
    public void ReadMetricsSkipsACrashTruncatedLastLineButRejectsCorruptLines()
    {
        using var tmp = new TempDir();
        var path = Path.Combine(tmp.Path, "metrics.jsonl");
        File.WriteAllText(path, "{\"step\":1,\"loss\":2}\n{\"step\":2,\"lo");
        Assert.Single(RunDirectory.ReadMetrics(path));
        File.WriteAllText(path, "{\"step\":1,\"loss\":2}\nnot json\n{\"step\":3}\n");
        var e = Assert.Throws<FormatException>(() => RunDirectory.ReadMetrics(path));
        Assert.Contains("metrics.jsonl:2", e.Message);
        File.WriteAllText(path, "{\"loss\":2}\n");
        Assert.Contains("'step'", Assert.Throws<FormatException>(() => RunDirectory.ReadMetrics(path)).Message);
    }

    [Fact]
    public void SummaryIsWrittenWholeAndOpenFindsTheRun()
    {
        using var tmp = new TempDir();
        string path;
        using (var run = RunDirectory.Create(tmp.Path, "sft-lora", new TrainConfig()))
        {
            run.WriteSummary(new RunSummary { Status = RunStatus.Completed, FinalMetrics = new Dictionary<string, double> { ["hr1"] = 0.5 } });
            run.WriteSummary(new RunSummary { Status = RunStatus.Completed, FinalMetrics = new Dictionary<string, double> { ["hr1"] = 0.6 } });
            path = run.Path;
        }
        var opened = RunDirectory.Open(path + "/");
        Assert.Equal("sft-lora", opened.Kind);
        Assert.Equal(0.6, opened.ReadSummary()!.FinalMetrics["hr1"]);
        Assert.Throws<DirectoryNotFoundException>(() => RunDirectory.Open(Path.Combine(tmp.Path, "nope")));
        Directory.CreateDirectory(Path.Combine(tmp.Path, "not-a-run"));
        Assert.Throws<FormatException>(() => RunDirectory.Open(Path.Combine(tmp.Path, "not-a-run")));
        Assert.Throws<ArgumentException>(() => RunDirectory.Create(tmp.Path, "bad kind", new TrainConfig()));
        Assert.Throws<ArgumentException>(() => opened.WriteFile("../escape.txt", "x"));
    }

    [Fact]
    public void GivenConfigRecordsFileContentAndOverrides()
    {
        using var tmp = new TempDir();
        var yaml = Path.Combine(tmp.Path, "sft.yaml");
        File.WriteAllText(yaml, "learning_rate: 0.0003\nlora:\n  rank: 16\nname: demo\n");
        var given = RunDirectory.GivenConfig(yaml, ["batch_size=8"]);
        Assert.Equal(yaml, (string)given["file"]!);
        Assert.Equal(0.0003, (double)given["config"]!["learning_rate"]!);
        Assert.Equal(16, (long)given["config"]!["lora"]!["rank"]!);
        Assert.Equal("demo", (string)given["config"]!["name"]!);
        Assert.Equal("batch_size=8", (string)given["overrides"]![0]!);
        var none = RunDirectory.GivenConfig(null);
        Assert.Null(none["config"]);
        File.WriteAllText(Path.Combine(tmp.Path, "bad.json"), "{ nope");
        Assert.Contains("bad.json", Assert.Throws<FormatException>(() => RunDirectory.GivenConfig(Path.Combine(tmp.Path, "bad.json"))).Message);
    }
}
