using RecAlign.Runs;

namespace RecAlign.Tests.Runs;

public class ReportTests
{
    private sealed record Cfg(double Beta = 1.0);

    internal static RunDirectory MakeRun(string root)
    {
        var run = RunDirectory.Create(root, "align", new Cfg());
        for (int s = 1; s <= 20; s++)
            run.LogMetrics(s, new Dictionary<string, double> { ["loss"] = 2.0 / s, ["lr"] = 1e-4 }, "sft");
        for (int s = 1; s <= 20; s++)
            run.LogMetrics(s, new Dictionary<string, double> { ["loss"] = 0.7 - 0.01 * s, ["reward_margin"] = 0.05 * s }, "dpo");
        run.LogMetrics(20, new Dictionary<string, double> { ["val_hr1"] = 0.4 }, "dpo");
        run.WriteSummary(new RunSummary
        {
            FinalMetrics = new Dictionary<string, double> { ["hr1"] = 0.4125, ["valid_ratio"] = 0.97, ["n"] = 400 },
            Stages = [new("sft") { WallSeconds = 75.5, Steps = 20, Tokens = 123456 }, new("dpo") { WallSeconds = 3700, Steps = 20 }],
            WallSeconds = 3775.5,
        });
        return run;
    }

    [Fact]
    public void WritesMarkdownAndPlotsForLoggedMetricsOnly()
    {
        using var tmp = new TempDir();
        using var run = MakeRun(tmp.Path);
        var result = Report.Write(run, 640, 360);

        Assert.Equal(["loss.png", "reward_margin.png", "val_hr1.png"], result.PlotPaths.Select(p => Path.GetFileName(p)).ToArray());
        foreach (var png in result.PlotPaths)
        {
            var bytes = File.ReadAllBytes(png);
            Assert.True(bytes.Length > 1000);
            Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, bytes[..4]);
        }
        var md = File.ReadAllText(result.MarkdownPath);
        Assert.Contains($"# Run `{run.Id}`", md);
        Assert.Contains("| status | completed |", md);
        Assert.Contains("| hr1 | 0.4125 |", md);
        Assert.Contains("| n | 400 |", md);
        Assert.Contains("| sft | 1m 16s | 20 | 123,456 |", md);
        Assert.Contains("| dpo | 1h 01m 40s | 20 |  |", md);
        Assert.Contains("![Training loss](plots/loss.png)", md);
        Assert.Contains("| metric | sft | dpo |", md);
        Assert.Contains("| *last step* | 20 | 20 |", md);
        Assert.Contains("| reward_margin |  | 1 |", md);
        Assert.Contains("![Reward margin](plots/reward_margin.png)", md);
    }

    [Fact]
    public void RunWithoutMetricsOrSummaryStillGetsAReport()
    {
        using var tmp = new TempDir();
        using var run = RunDirectory.Create(tmp.Path, "eval", new Cfg());
        var result = Report.Write(run);
        Assert.Empty(result.PlotPaths);
        Assert.Contains("No final metrics recorded", File.ReadAllText(result.MarkdownPath));
    }

    [Fact]
    public void MethodsSummaryBecomesAComparisonTable()
    {
        using var tmp = new TempDir();
        using var run = RunDirectory.Create(tmp.Path, "quickstart", new Cfg());
        run.WriteSummary(new RunSummary
        {
            Methods = new Dictionary<string, MethodSummary>
            {
                ["sft"] = new(new Dictionary<string, double> { ["hr1"] = 0.25, ["valid_ratio"] = 1 }) { WallSeconds = 30 },
                ["sdpo"] = new(new Dictionary<string, double> { ["hr1"] = 0.3125, ["ndcg@5"] = 0.5 }),
            },
            WallSeconds = 95, Evaluation = new System.Text.Json.Nodes.JsonObject { ["note"] = "no test table: validation picked the checkpoints" },
        });
        var md = File.ReadAllText(Report.Write(run).MarkdownPath);
        Assert.Contains("| method | hr1 | valid_ratio | ndcg@5 | wall time |", md);
        Assert.Contains("| sft | 0.2500 | 1 |  | 30.0 s |", md);
        Assert.Contains("| sdpo | 0.3125 |  | 0.5000 |  |", md);
        Assert.Contains("| wall time | 1m 35s |", md);
        Assert.DoesNotContain("No final metrics", md);
        Assert.Contains("Evaluation: no test table: validation picked the checkpoints.", md);
    }

    [Fact]
    public void SeriesSplitsByStageAndDropsNonFinite()
    {
        var records = new List<MetricsRecord>
        {
            new(1, "a", new Dictionary<string, double> { ["loss"] = 1 }, null),
            new(1, "b", new Dictionary<string, double> { ["loss"] = 5 }, null),
            new(2, "a", new Dictionary<string, double> { ["loss"] = double.NaN }, null),
            new(3, "a", new Dictionary<string, double> { ["loss"] = 0.5 }, null),
        };
        var s = Report.Series(records, "loss");
        Assert.Equal(["a", "b"], s.Select(x => x.Stage).ToArray());
        Assert.Equal([1.0, 3.0], s[0].Steps);
        Assert.Equal([1.0, 0.5], s[0].Values);
    }
}
