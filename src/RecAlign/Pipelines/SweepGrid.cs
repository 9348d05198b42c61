using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using RecAlign.Configuration;
using RecAlign.IO;

namespace RecAlign.Pipelines;

/// <summary>Which pipeline a sweep's cells run.</summary>
public enum SweepJobKind
{
    /// <summary><see cref="Quickstart"/>: the synthetic world (<c>recalign quickstart</c>).</summary>
    Quickstart,
    /// <summary><see cref="SequenceTablePipeline"/> or, with <see cref="SweepGrid.Dataset"/>, <see cref="DatasetPipeline"/>
    /// (<c>recalign pipeline</c>).</summary>
    Pipeline,
}

/// <summary>
/// A sweep's grid file (<c>recalign sweep --config GRID.yaml</c>), as written: the base job (the <c>quickstart</c> or
/// <c>pipeline</c> command's arguments as fields; paths relative to the grid file), the seeds, base <c>set</c>
/// overrides, named <c>settings</c> (each a list of <c>key=value</c> overrides, applied as <c>--set</c> is) and an
/// optional <c>grid</c> whose cartesian product becomes further settings. A cell is one setting at one seed: one
/// pipeline run, whose every enabled <c>pipeline.methods</c> entry is a row of the report.
/// </summary>
public sealed record SweepGrid
{
    public SweepJobKind Job { get; init; } = SweepJobKind.Quickstart;
    /// <summary>The base config file every cell starts from (the command's <c>--config</c>).</summary>
    public string? Config { get; init; }
    /// <summary><c>pipeline</c>: sequence tables (<c>--train</c>, <c>--validation</c>, <c>--test</c>, <c>--items</c>).</summary>
    public string? Train { get; init; }
    public string? Validation { get; init; }
    public string? Test { get; init; }
    public string? Items { get; init; }
    /// <summary><c>pipeline</c>: a canonical dataset folder instead of tables (<c>--dataset</c>), reporting <see cref="Report"/>.</summary>
    public string? Dataset { get; init; }
    /// <summary><c>test</c> or <c>validation</c> (<c>--report</c>, with <see cref="Dataset"/> only).</summary>
    public string? Report { get; init; }
    /// <summary>NAME → candidate file (<c>--extra-eval NAME=FILE</c>), with sequence tables only.</summary>
    public Dictionary<string, string>? ExtraEval { get; init; }
    /// <summary>Every setting runs once per seed (<c>pipeline.seed</c>, which seeds data, sampling and training).</summary>
    public List<ulong> Seeds { get; init; } = [42];
    /// <summary>Overrides every cell gets, before its setting's.</summary>
    public List<string> Set { get; init; } = [];
    /// <summary>Named settings, in order: name → overrides.</summary>
    public Dictionary<string, List<string>>? Settings { get; init; }
    /// <summary>key → values: every combination is a setting (crossed with <see cref="Settings"/> when both are given),
    /// named <c>key=value,...</c> by the keys' last segments.</summary>
    public Dictionary<string, List<JsonNode?>>? Grid { get; init; }
    /// <summary>The report's tables: set name → metric keys (summary.json's per-method names); default
    /// <see cref="SweepReport.DefaultMetricSets"/>. The first key of a table is the one its plot draws.</summary>
    public Dictionary<string, List<string>>? Metrics { get; init; }
}

/// <summary>The job every cell runs, with its paths made absolute.</summary>
public sealed record SweepJob(SweepJobKind Kind, string? ConfigFile, string? Train, string? Validation, string? Test, string? Items,
    string? Dataset, bool ReportValidation, IReadOnlyList<(string Name, string Path)> ExtraEval)
{
    /// <summary>The job's inputs that are not config fields (what a cell's fingerprint and <see cref="OutputGuard"/> see).</summary>
    public IEnumerable<(string Label, string? Path)> Inputs() =>
        new (string, string?)[] { ("config", ConfigFile), ("train", Train), ("validation", Validation), ("test", Test), ("items", Items), ("dataset", Dataset) }
            .Concat(ExtraEval.Select(e => ($"extra_eval.{e.Name}", (string?)e.Path)));
}

/// <summary>One cell of a sweep: a setting at a seed, with the overrides and the resolved config its run gets.</summary>
/// <param name="Fingerprint">SHA-256 of the job's inputs and the resolved config: equal fingerprints run the same
/// pipeline, so a resumed sweep can tell whether a stored cell is still the one the grid asks for.</param>
public sealed record SweepCell(int Index, string Setting, ulong Seed, IReadOnlyList<string> Overrides, object Config, string Fingerprint)
{
    public string Id => CellId(Setting, Seed);
    public static string CellId(string setting, ulong seed) => $"{setting}/seed={seed.ToString(CultureInfo.InvariantCulture)}";
}

/// <summary>A grid file resolved into its cells (validated: every cell's config loads and passes the pipeline's checks).</summary>
public sealed record SweepPlan(string GridFile, SweepGrid Grid, SweepJob Job, IReadOnlyList<string> Settings, IReadOnlyList<ulong> Seeds,
    IReadOnlyList<SweepCell> Cells)
{
    /// <summary>Hash of the cells (ids and fingerprints, in order): equal hashes are the same sweep.</summary>
    public string GridHash => SweepGridFile.Hash(string.Join("\n", Cells.Select(c => c.Id + " " + c.Fingerprint)));
}

/// <summary>Reads, expands and validates grid files.</summary>
public static class SweepGridFile
{
    /// <summary>Cells one grid may hold (a typo in a grid's value lists should not plan a million runs).</summary>
    public const int MaxCells = 10_000;

    /// <summary>ConfigLoader's rules (snake_case, enums by name, no unknown fields), with a resolver so the field list can be read up front.</summary>
    private static readonly JsonSerializerOptions GridJson = new(ConfigLoader.Json) { TypeInfoResolver = new System.Text.Json.Serialization.Metadata.DefaultJsonTypeInfoResolver() };

    /// <summary>Reads <paramref name="path"/> and plans its cells; bad input is a <see cref="FormatException"/> or
    /// <see cref="ArgumentException"/> naming the grid file and the field or setting.</summary>
    public static SweepPlan Load(string path)
    {
        var node = ConfigLoader.ReadFile(path);
        var known = GridJson.GetTypeInfo(typeof(SweepGrid)).Properties.Select(p => p.Name).ToList();
        foreach (var (key, _) in node)
            if (!known.Contains(key))
                throw new FormatException($"{path}: unknown key '{key}' (known: {string.Join(", ", known)})");
        SweepGrid grid;
        try { grid = node.Deserialize<SweepGrid>(GridJson) ?? throw new FormatException($"{path}: empty grid"); }
        catch (JsonException e)
        {
            var field = (e.Path ?? "$").TrimStart('$').TrimStart('.');
            // A top-level field says what it expects in the grid's words (an enum's names), not .NET's type name.
            var property = GridJson.GetTypeInfo(typeof(SweepGrid)).Properties.FirstOrDefault(p => p.Name == field);
            throw new FormatException($"{path}: '{field}': {(property is null ? JsonErrors.Reason(e) : "expected " + JsonErrors.Expected(property.PropertyType))}", e);
        }
        return Plan(grid, path);
    }

    /// <summary>Expands <paramref name="grid"/> (read from <paramref name="gridFile"/>, which relative paths and messages
    /// refer to) into cells, seed-major (every setting at the first seed, then the next...: a sweep stopped early
    /// still compares every setting), and checks each cell's config as the pipeline will.</summary>
    public static SweepPlan Plan(SweepGrid grid, string gridFile)
    {
        var job = Job(grid, gridFile);
        var seeds = grid.Seeds ?? [];
        if (seeds.Count == 0) throw new FormatException($"{gridFile}: 'seeds': give at least one seed");
        if (seeds.Distinct().Count() != seeds.Count) throw new FormatException($"{gridFile}: 'seeds': {string.Join(", ", seeds)} repeats a seed");
        var baseSet = grid.Set ?? [];
        CheckOverrides(gridFile, "set", baseSet);
        var settings = Settings(grid, gridFile);
        if (settings.Count * seeds.Count > MaxCells)
            throw new FormatException($"{gridFile}: {settings.Count} settings × {seeds.Count} seeds = {settings.Count * seeds.Count} cells; a sweep holds at most {MaxCells}");

        // The base alone first, so a broken base override is named as such rather than as the first setting's.
        Resolve(job, baseSet, gridFile, "set", seeds[0]);
        var resolved = settings.Select(s => (s.Name, Overrides: (IReadOnlyList<string>)[.. baseSet, .. s.Overrides])).ToList();
        var cells = new List<SweepCell>();
        foreach (var seed in seeds)
            foreach (var (name, overrides) in resolved)
            {
                var config = Resolve(job, overrides, gridFile, $"setting '{name}'", seed);
                cells.Add(new SweepCell(cells.Count, name, seed, overrides, config, Fingerprint(job, config)));
            }
        return new SweepPlan(Path.GetFullPath(gridFile), grid, job, settings.Select(s => s.Name).ToList(), seeds, cells);
    }

    /// <summary>The job's fields checked against its kind, with paths resolved against the grid file's folder.</summary>
    private static SweepJob Job(SweepGrid grid, string gridFile)
    {
        var folder = Path.GetDirectoryName(Path.GetFullPath(gridFile))!;
        string? Resolve(string field, string? value, bool folderExpected = false)
        {
            if (value is null) return null;
            if (string.IsNullOrWhiteSpace(value)) throw new FormatException($"{gridFile}: '{field}': empty path");
            var full = Path.GetFullPath(value, folder);
            if (folderExpected ? !Directory.Exists(full) : !File.Exists(full))
                throw new FormatException($"{gridFile}: '{field}': {(folderExpected ? "folder" : "file")} not found: {full}");
            return full;
        }
        var extra = (grid.ExtraEval ?? []).Select(e => (e.Key, Resolve($"extra_eval.{e.Key}", e.Value)!)).ToList();
        var job = new SweepJob(grid.Job, Resolve("config", grid.Config), Resolve("train", grid.Train), Resolve("validation", grid.Validation),
            Resolve("test", grid.Test), Resolve("items", grid.Items), Resolve("dataset", grid.Dataset, folderExpected: true),
            grid.Report == "validation", extra);
        if (grid.Report is not null and not "test" and not "validation")
            throw new FormatException($"{gridFile}: 'report': '{grid.Report}' is not one of test, validation");
        if (job.Kind == SweepJobKind.Quickstart)
        {
            var given = job.Inputs().Where(i => i.Label != "config" && i.Path is not null).Select(i => i.Label).Concat(grid.Report is null ? [] : ["report"]).ToList();
            if (given.Count > 0)
                throw new FormatException($"{gridFile}: {string.Join(", ", given.Select(g => $"'{g}'"))}: the quickstart makes its own data; these fields belong to job: pipeline");
            return job;
        }
        if (job.Dataset is not null)
        {
            if (job.Train is not null || job.Validation is not null || job.Test is not null || job.Items is not null || extra.Count > 0)
                throw new FormatException($"{gridFile}: 'dataset' replaces 'train', 'validation', 'test', 'items' and 'extra_eval'; give one or the other");
        }
        else
        {
            if (job.Train is null || job.Validation is null)
                throw new FormatException($"{gridFile}: job: pipeline needs 'train' and 'validation' (sequence tables) or 'dataset'");
            if (grid.Report is not null)
                throw new FormatException($"{gridFile}: 'report' applies to 'dataset'; with sequence tables, leave out 'test' and the validation table is reported");
            if (extra.Any(e => e.Key == SequenceTablePipeline.ValidationSetName))
                throw new FormatException($"{gridFile}: 'extra_eval.{SequenceTablePipeline.ValidationSetName}': that name is reserved (the validation table's columns)");
        }
        return job;
    }

    /// <summary>The named settings, then the grid's product (crossed with them when both are given); one unnamed
    /// <c>base</c> setting when neither is.</summary>
    private static List<(string Name, List<string> Overrides)> Settings(SweepGrid grid, string gridFile)
    {
        var named = new List<(string Name, List<string> Overrides)>();
        foreach (var (name, overrides) in grid.Settings ?? [])
        {
            CheckName(gridFile, name);
            CheckOverrides(gridFile, $"settings.{name}", overrides ?? []);
            named.Add((name, overrides ?? []));
        }
        var points = GridPoints(grid, gridFile);
        List<(string, List<string>)> all = points.Count == 0 ? named
            : named.Count == 0 ? points
            : [.. named.SelectMany(s => points.Select(p => ($"{s.Name},{p.Name}", (List<string>)[.. s.Overrides, .. p.Overrides])))];
        if (all.Count == 0) all = [("base", [])];
        var repeated = all.GroupBy(s => s.Item1).FirstOrDefault(g => g.Count() > 1);
        if (repeated is not null)
            throw new FormatException($"{gridFile}: two settings are named '{repeated.Key}' (a named setting and a grid point?); rename one");
        return all;
    }

    /// <summary>The grid's cartesian product in key order, the last key varying fastest; each point named
    /// <c>k1=v1,k2=v2</c> by the keys' last segments (whole keys when two keys end alike).</summary>
    private static List<(string Name, List<string> Overrides)> GridPoints(SweepGrid grid, string gridFile)
    {
        var axes = (grid.Grid ?? []).ToList();
        if (axes.Count == 0) return [];
        long size = 1;
        foreach (var (key, values) in axes)
        {
            if (values is null || values.Count == 0) throw new FormatException($"{gridFile}: 'grid.{key}': give a list of at least one value");
            if (values.Any(v => v is JsonObject)) throw new FormatException($"{gridFile}: 'grid.{key}': values are scalars or lists, not objects");
            CheckOverrides(gridFile, $"grid.{key}", values.Select(v => $"{key}={Text(v)}").ToList());
            size *= values.Count;
            if (size > MaxCells) throw new FormatException($"{gridFile}: 'grid': more than {MaxCells} combinations");
        }
        var last = axes.Select(a => a.Key.Split('.')[^1]).ToList();
        var labels = axes.Select((a, i) => last.Count(l => l == last[i]) > 1 ? a.Key : last[i]).ToList();
        var points = new List<(string, List<string>)> { ("", []) };
        for (int i = 0; i < axes.Count; i++)
        {
            var (key, values) = axes[i];
            points = [.. points.SelectMany(p => values.Select(v =>
                (p.Item1.Length == 0 ? $"{labels[i]}={Text(v)}" : $"{p.Item1},{labels[i]}={Text(v)}", (List<string>)[.. p.Item2, $"{key}={Text(v)}"])))];
        }
        return points;
    }

    /// <summary>A grid value as an override writes it: strings as they are (an override reads non-JSON text as a
    /// string), anything else as JSON.</summary>
    private static string Text(JsonNode? value) =>
        value is JsonValue v && v.TryGetValue<string>(out var s) ? s : value?.ToJsonString() ?? "null";

    private static void CheckName(string gridFile, string name)
    {
        if (string.IsNullOrWhiteSpace(name) || name != name.Trim() || name.Any(char.IsControl) || name.Length > 200)
            throw new FormatException($"{gridFile}: setting '{name}': a setting name is 1 to 200 characters without control characters or surrounding spaces");
    }

    /// <summary>Overrides look like <c>key=value</c>, and none sets the seed (the grid's <c>seeds</c> do).</summary>
    private static void CheckOverrides(string gridFile, string where, IReadOnlyList<string> overrides)
    {
        foreach (var o in overrides)
        {
            if (o is null || o.IndexOf('=') <= 0) throw new FormatException($"{gridFile}: {where}: '{o}' must look like key=value");
            if (o[..o.IndexOf('=')].Trim() == "pipeline.seed")
                throw new FormatException($"{gridFile}: {where}: '{o}': the seeds come from 'seeds' (each setting runs once per seed)");
        }
    }

    /// <summary>The cell's config as the command would resolve it: defaults ← config file ← overrides ← the seed; then
    /// the pipeline's own checks, so an invalid value stops the sweep before anything runs.</summary>
    private static object Resolve(SweepJob job, IReadOnlyList<string> overrides, string gridFile, string where, ulong seed)
    {
        IReadOnlyList<string> all = [.. overrides, $"pipeline.seed={seed.ToString(CultureInfo.InvariantCulture)}"];
        try
        {
            if (job.Kind == SweepJobKind.Quickstart)
            {
                var q = ConfigLoader.Load(new QuickstartConfig(), job.ConfigFile, all);
                q.Pipeline.WithStageSeeds().Validate();
                return q;
            }
            var p = ConfigLoader.Load(new SequenceTablePipelineConfig(), job.ConfigFile, all);
            p.Pipeline.WithStageSeeds().Validate();
            return p;
        }
        catch (Exception e) when (e is FormatException or ArgumentException or FileNotFoundException)
        {
            throw new FormatException($"{gridFile}: {where}: {(e is ArgumentException a ? ArgumentErrors.Plain(a) : e.Message)}", e);
        }
    }

    /// <summary>SHA-256 over the job's kind and inputs and the cell's resolved config.</summary>
    private static string Fingerprint(SweepJob job, object config)
    {
        var node = new JsonObject
        {
            ["job"] = JsonNamingPolicy.SnakeCaseLower.ConvertName(job.Kind.ToString()),
            ["report"] = job.ReportValidation ? "validation" : "test",
            ["inputs"] = new JsonObject(job.Inputs().Select(i => KeyValuePair.Create(i.Label, (JsonNode?)i.Path))),
            ["config"] = JsonSerializer.SerializeToNode(config, config.GetType(), ConfigLoader.Json),
        };
        return Hash(node.ToJsonString());
    }

    internal static string Hash(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
}
