using System.Text.Json.Nodes;
using RecAlign.Runs;

namespace RecAlign.Tests.Runs;

public class RunComparisonTests
{
    [Fact]
    public void FlattenUsesDottedPaths()
    {
        var cfg = JsonNode.Parse("""{"lr": 0.001, "name": "x", "lora": {"rank": 8, "targets": ["q", "v"]}, "stages": [{"beta": 1}], "empty": {}}""");
        var flat = RunComparison.Flatten(cfg);
        Assert.Equal(["empty", "lora.rank", "lora.targets", "lr", "name", "stages[0].beta"], flat.Keys.ToArray());
        Assert.Equal("x", flat["name"]);
        Assert.Equal("[\"q\",\"v\"]", flat["lora.targets"]);
        Assert.Equal("{}", flat["empty"]);
    }

    [Fact]
    public void ConfigDifferencesListOnlyChangedKeys()
    {
        var a = JsonNode.Parse("""{"beta": 1, "lora": {"rank": 8}, "seed": 1}""");
        var b = JsonNode.Parse("""{"beta": 0.5, "lora": {"rank": 8}, "extra": true}""");
        var d = RunComparison.ConfigDifferences(a, b);
        Assert.Equal([("beta", "1", "0.5"), ("extra", null, "true"), ("seed", "1", null)], d.ToArray());
    }

    [Fact]
    public void MetricsSideBySideAndDelta()
    {
        var rows = RunComparison.MetricsSideBySide(
            new Dictionary<string, double> { ["hr1"] = 0.4, ["n"] = 10 },
            new Dictionary<string, double> { ["hr1"] = 0.45, ["mrr"] = 0.5 });
        Assert.Equal([("hr1", 0.4, 0.45), ("n", 10, null), ("mrr", null, 0.5)], rows.Select(r => (r.Metric, r.A, r.B)).ToArray());
        Assert.Equal("+0.0500", RunComparison.FormatDelta(0.4, 0.45));
        Assert.Equal("-2", RunComparison.FormatDelta(3, 1));
        Assert.Equal("", RunComparison.FormatDelta(null, 1));
    }

    [Fact]
    public void ResolveFindsRunsByPathIdAndShortId()
    {
        using var tmp = new TempDir();
        string id, path;
        using (var run = RunDirectory.Create(tmp.Path, "sft", new JsonObject { ["seed"] = 1 })) { id = run.Id; path = run.Path; }
        var reg = RunRegistry.ForRunsDir(tmp.Path);
        var (byPath, rec0) = reg.Resolve(path);
        Assert.Equal(id, byPath.Id);
        Assert.Null(rec0); // not registered yet
        var (byShort, rec) = reg.Resolve(id[^6..], tmp.Path); // discovers the folder first
        Assert.Equal(id, byShort.Id);
        Assert.NotNull(rec);
        Assert.Throws<KeyNotFoundException>(() => reg.Resolve("nothing", tmp.Path));
    }
}
