using RecAlign.Runs;

namespace RecAlign.Tests.Runs;

public class RunRegistryTests
{
    private sealed record Cfg(int Seed = 1);

    private static RunRecord Record(string id, string kind, int minute, RunStatus status = RunStatus.Created, string? parent = null) =>
        new(id, kind, new DateTimeOffset(2026, 11, 23, 1, minute, 0, TimeSpan.Zero), status, "/runs/" + id, "{\"seed\":1}", null, parent);

    [Fact]
    public void RegisterUpdateListAndGet()
    {
        using var tmp = new TempDir();
        var reg = RunRegistry.ForRunsDir(tmp.Path);
        Assert.Equal(Path.Combine(tmp.Path, "registry.sqlite"), reg.Path);
        reg.Register(Record("20261123-010000-sft-aaaaaa", "sft", 0));
        reg.Register(Record("20261123-010500-align-bbbbbb", "align", 5, parent: "20261123-010000-sft-aaaaaa"));
        reg.Register(Record("20261123-011000-eval-abcdef", "eval", 10));

        reg.UpdateStatus("20261123-010500-align-bbbbbb", RunStatus.Completed);
        reg.SetFinalMetrics("20261123-010500-align-bbbbbb", new Dictionary<string, double> { ["hr1"] = 0.61, ["valid_ratio"] = 0.98 });

        Assert.Equal(["20261123-011000-eval-abcdef", "20261123-010500-align-bbbbbb", "20261123-010000-sft-aaaaaa"],
            reg.List().Select(r => r.Id).ToArray());
        Assert.Equal("align", Assert.Single(reg.List(new RunFilter(Status: RunStatus.Completed))).Kind);
        Assert.Single(reg.List(new RunFilter(Kind: "sft")));
        Assert.Single(reg.List(new RunFilter(Parent: "20261123-010000-sft-aaaaaa")));
        Assert.Equal(2, reg.List(new RunFilter(Since: new DateTimeOffset(2026, 11, 23, 1, 5, 0, TimeSpan.Zero))).Count);
        Assert.Single(reg.List(new RunFilter(Limit: 1)));

        var align = reg.Get("20261123-0105"); // id prefix
        Assert.Equal(RunStatus.Completed, align.Status);
        Assert.Equal(0.61, align.FinalMetrics["hr1"]);
        Assert.Equal("20261123-010000-sft-aaaaaa", align.Parent);
        Assert.Equal("eval", reg.Get("abcdef").Kind); // short id
        Assert.Throws<ArgumentException>(() => reg.Get("20261123")); // ambiguous
        Assert.Throws<KeyNotFoundException>(() => reg.Get("zzz"));
        Assert.Throws<KeyNotFoundException>(() => reg.UpdateStatus("zzz", RunStatus.Failed));
        Assert.Null(reg.TryGet("2026112_")); // LIKE wildcards are escaped
    }

    [Fact]
    public void ReRegisteringKeepsMetricsAndParent()
    {
        using var tmp = new TempDir();
        var reg = new RunRegistry(Path.Combine(tmp.Path, "sub", "r.sqlite"));
        reg.Register(Record("20261123-010000-sft-aaaaaa", "sft", 0, parent: "p"));
        reg.SetFinalMetrics("20261123-010000-sft-aaaaaa", new Dictionary<string, double> { ["loss"] = 1 });
        reg.Register(Record("20261123-010000-sft-aaaaaa", "sft", 0, RunStatus.Running));
        var r = reg.Get("20261123-010000-sft-aaaaaa");
        Assert.Equal(RunStatus.Running, r.Status);
        Assert.Equal("p", r.Parent);
        Assert.Equal(1.0, r.FinalMetrics["loss"]);
    }

    [Fact]
    public async Task UsesWalAndSurvivesConcurrentReadersAndWriters()
    {
        using var tmp = new TempDir();
        var reg = RunRegistry.ForRunsDir(tmp.Path);
        var writers = Enumerable.Range(0, 4).Select(w => Task.Run(() =>
        {
            var mine = new RunRegistry(reg.Path); // separate instance, as a second process would have
            for (int i = 0; i < 5; i++)
            {
                var id = $"20261123-01{w:00}{i:00}-sft-{w}{i:00000}";
                mine.Register(Record(id, "sft", w));
                mine.UpdateStatus(id, RunStatus.Running);
            }
        })).ToList();
        var readers = Enumerable.Range(0, 2).Select(_ => Task.Run(() =>
        {
            for (int i = 0; i < 10; i++) Assert.NotNull(new RunRegistry(reg.Path).List());
        })).ToList();
        await Task.WhenAll([.. writers, .. readers]);
        Assert.Equal(20, reg.List(new RunFilter(Status: RunStatus.Running)).Count);

        using var c = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={reg.Path};Pooling=False");
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "PRAGMA journal_mode;";
        Assert.Equal("wal", (string)cmd.ExecuteScalar()!);
    }

    [Fact]
    public void DiscoverRegistersRunFoldersFromDisk()
    {
        using var tmp = new TempDir();
        using (var run = RunDirectory.Create(tmp.Path, "sft", new Cfg()))
            run.WriteSummary(new RunSummary { Status = RunStatus.Failed, FinalMetrics = new Dictionary<string, double> { ["loss"] = 2 } });
        using (RunDirectory.Create(tmp.Path, "eval", new Cfg())) { }
        Directory.CreateDirectory(Path.Combine(tmp.Path, "not-a-run"));
        var reg = RunRegistry.ForRunsDir(tmp.Path);
        Assert.Equal(2, reg.Discover(tmp.Path));
        Assert.Equal(0, reg.Discover(tmp.Path));
        var sft = Assert.Single(reg.List(new RunFilter(Kind: "sft")));
        Assert.Equal(RunStatus.Failed, sft.Status);
        Assert.Equal(2.0, sft.FinalMetrics["loss"]);
        Assert.Contains("\"seed\"", sft.ConfigJson);
    }
}
