using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using RecAlign.IO;
using RecAlign.Runs;

namespace RecAlign.Pipelines;

/// <summary>A metric over a row's seeds: the mean, the sample standard deviation (n − 1; null for one value) and n.</summary>
public sealed record MetricStats(double Mean, double? Std, int N)
{
    public static MetricStats Of(IReadOnlyList<double> values)
    {
        if (values.Count == 0) throw new ArgumentException("no values to aggregate", nameof(values));
        double mean = values.Average();
        double? std = values.Count < 2 ? null : Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Count - 1));
        return new MetricStats(mean, std, values.Count);
    }
}

/// <summary>One row of a sweep's report: a method under a setting, with its values per seed (completed cells only).</summary>
/// <param name="Values">metric → one value per seed that has it, in <paramref name="Seeds"/> order.</param>
public sealed record SweepRow(string Setting, string Method, IReadOnlyList<ulong> Seeds, IReadOnlyDictionary<string, IReadOnlyList<double>> Values)
{
    public MetricStats? Stats(string key) => Values.TryGetValue(key, out var v) && v.Count > 0 ? MetricStats.Of(v) : null;
}

/// <summary>
/// A sweep's report in its folder: <c>report.md</c> (one table per metric set, rows setting × method, mean ± sample std
/// over seeds with n, the best of each column in bold, and a bar chart with error bars of each table's first metric
/// under <c>plots/</c>), <c>results.csv</c> (one line per cell and method, the per-seed values) and <c>results.json</c>
/// (the same values with the aggregates).
/// </summary>
public static class SweepReport
{
    public const string ReportFile = "report.md", CsvFile = "results.csv", JsonFile = "results.json", PlotsFolder = "plots";

    /// <summary>An aligned row's training values (<see cref="Training.TrainingResult.FinalValuePrefix"/>): its implicit reward
    /// margin (plotted), where its loss started and ended, its chosen reward and log-prob.</summary>
    public static readonly IReadOnlyList<string> TrainingKeys = new[] { Alignment.PreferenceStatistics.RewardsMargins, "first_loss", "loss",
        Alignment.PreferenceStatistics.RewardsChosen, Alignment.PreferenceStatistics.RewardsAccuracies, Alignment.PreferenceStatistics.LogpsChosen }
        .Select(k => Training.TrainingResult.FinalValuePrefix + k).ToList();

    /// <summary>The tables a report shows when the grid names none; each keeps the keys the summaries have.</summary>
    public static readonly IReadOnlyList<(string Name, IReadOnlyList<string> Keys)> DefaultMetricSets =
    [
        ("candidate lists", ["hr1", "ndcg@5", "ndcg@10", "mrr", RecommendationPipeline.GeneratedHr1Key, RecommendationPipeline.Hr1WithoutHistoryKey]),
        ("full catalog", [RecommendationPipeline.CatalogHr10Key, RecommendationPipeline.CatalogNdcg10Key, RecommendationPipeline.CatalogMrrKey]),
        ("preference training (mean over its last 10 % of steps)", TrainingKeys),
    ];

    /// <summary>Training values describe a row; they are not scores, so no column of them has a best.</summary>
    private static bool Unscored(string key) => key.StartsWith(Training.TrainingResult.FinalValuePrefix, StringComparison.Ordinal);

    /// <summary>The ground-truth bounds of a synthetic world: shown, never ranked (they are not methods).</summary>
    public static bool Unranked(string method) => PipelineConfig.GroundTruthRows.Contains(method);

    /// <summary>Item-side unfairness and concentration: lower is better.</summary>
    public static bool LowerIsBetter(string key) => LowerIsBetterPattern.IsMatch(key);
    private static readonly Regex LowerIsBetterPattern = new(@"(^|_|/)(mgu|dgu|gini)@\d+$", RegexOptions.CultureInvariant);
    private static readonly Regex FairnessPattern = new(@"^(catalog_)?(mgu|dgu|coverage|gini)@\d+$", RegexOptions.CultureInvariant);

    /// <summary>The rows of the completed cells: settings in the grid's order, methods in the order the runs list them.</summary>
    public static IReadOnlyList<SweepRow> Rows(SweepState state)
    {
        var done = state.Cells.Where(c => c.Status == SweepCellStatus.Completed && c.Metrics is not null).ToList();
        var methods = done.SelectMany(c => c.Metrics!.Keys).Distinct().ToList();
        var settings = state.Settings.Concat(done.Select(c => c.Setting)).Distinct().ToList();
        var rows = new List<SweepRow>();
        foreach (var setting in settings)
            foreach (var method in methods)
            {
                var cells = done.Where(c => c.Setting == setting && c.Metrics!.ContainsKey(method)).ToList();
                if (cells.Count == 0) continue;
                var keys = cells.SelectMany(c => c.Metrics![method].Keys).Distinct();
                var values = keys.ToDictionary(k => k, k => (IReadOnlyList<double>)cells
                    .Select(c => c.Metrics![method].TryGetValue(k, out var v) ? v : double.NaN).Where(double.IsFinite).ToList());
                rows.Add(new SweepRow(setting, method, cells.Select(c => c.Seed).ToList(), values));
            }
        return rows;
    }

    /// <summary>The report's tables: the grid's <c>metrics</c> when given, else <see cref="DefaultMetricSets"/>, item-side
    /// fairness and one table per extra question set (<c>NAME/hr1</c> ...); only keys some row has, only non-empty tables.</summary>
    public static IReadOnlyList<(string Name, IReadOnlyList<string> Keys)> MetricSets(IReadOnlyList<SweepRow> rows, IReadOnlyDictionary<string, List<string>>? configured = null)
    {
        var present = rows.SelectMany(r => r.Values.Where(v => v.Value.Count > 0).Select(v => v.Key)).Distinct().ToList();
        IEnumerable<(string, IReadOnlyList<string>)> sets;
        if (configured is { Count: > 0 }) sets = configured.Select(c => (c.Key, (IReadOnlyList<string>)c.Value));
        else
        {
            var fairness = new[] { "", Evaluation.Metrics.CatalogPrefix }
                .SelectMany(prefix => new[] { "mgu", "dgu", "coverage", "gini" }.SelectMany(name => present
                    .Where(k => FairnessPattern.IsMatch(k) && k.StartsWith(prefix + name + "@", StringComparison.Ordinal))
                    .OrderBy(k => int.Parse(k.Split('@')[1], CultureInfo.InvariantCulture))))
                .ToList();
            var extras = present.Where(k => k.Contains('/') && !Unscored(k)).Select(k => k[..k.IndexOf('/')]).Distinct()
                .Select(name => ($"{name} (extra evaluation)", (IReadOnlyList<string>)new[] { "hr1", "ndcg@5", "ndcg@10", "mrr" }.Select(k => $"{name}/{k}").ToList()));
            sets = DefaultMetricSets.Append(("item-side fairness", fairness)).Concat(extras);
        }
        return sets.Select(s => (s.Item1, (IReadOnlyList<string>)s.Item2.Where(present.Contains).ToList())).Where(s => s.Item2.Count > 0).ToList();
    }

    /// <summary>A markdown table: one row per setting × method, one column per metric, <c>mean ± std</c> (4 decimals;
    /// the mean alone when one seed has it, with its own n when fewer seeds have it than the row), the best mean of
    /// each column in bold (ties too; the lowest for ↓ metrics; <see cref="Unranked"/> rows never).</summary>
    public static string Table(IReadOnlyList<string> keys, IReadOnlyList<SweepRow> rows)
    {
        var sb = new StringBuilder();
        sb.Append("| setting | method | n | ").Append(string.Join(" | ", keys.Select(k => Cell(k) + (LowerIsBetter(k) ? " ↓" : "")))).Append(" |\n");
        sb.Append("|---|---|---:|").Append(string.Concat(keys.Select(_ => "---:|"))).Append('\n');
        var best = keys.ToDictionary(k => k, k =>
        {
            if (Unscored(k)) return (double?)null;
            var means = rows.Where(r => !Unranked(r.Method)).Select(r => r.Stats(k)).Where(s => s is not null).Select(s => Round(s!.Mean)).ToList();
            return means.Count == 0 ? (double?)null : LowerIsBetter(k) ? means.Min() : means.Max();
        });
        // A row with none of the table's metrics (the oracle has no catalog figures) is left out rather than shown blank.
        foreach (var row in rows.Where(r => keys.Any(k => r.Stats(k) is not null)))
        {
            sb.Append("| ").Append(Cell(row.Setting)).Append(" | ").Append(Cell(row.Method)).Append(" | ").Append(row.Seeds.Count.ToString(CultureInfo.InvariantCulture));
            foreach (var k in keys)
            {
                sb.Append(" | ");
                if (row.Stats(k) is not { } s) continue;
                var text = F(s.Mean) + (s.Std is { } sd ? " ± " + F(sd) : "") + (s.N < row.Seeds.Count ? $" (n={s.N})" : "");
                sb.Append(!Unranked(row.Method) && Round(s.Mean) == best[k] ? $"**{text}**" : text);
            }
            sb.Append(" |\n");
        }
        return sb.ToString();
    }

    /// <summary>Writes report.md, results.csv, results.json and the plots; returns the report's path.</summary>
    public static string Write(string folder, SweepPlan plan, SweepState state, int width = 900)
    {
        var rows = Rows(state);
        var sets = MetricSets(rows, plan.Grid.Metrics);
        var plots = new List<string?>();
        foreach (var (name, keys) in sets)
        {
            var data = rows.Select(r => (Label: $"{r.Setting} · {r.Method}", r.Method, Stats: r.Stats(keys[0]))).Where(r => r.Stats is not null).ToList();
            if (data.Count == 0) { plots.Add(null); continue; }
            var file = $"{PlotsFolder}/{plots.Count + 1}-{Slug(name)}.png"; // numbered: two set names may slug alike
            AtomicFile.WriteAllBytes(Path.Combine(folder, file), RenderBars(data.Select(d => (d.Label, d.Method, d.Stats!)).ToList(),
                $"{keys[0]}{(LowerIsBetter(keys[0]) ? " (lower is better)" : "")}: mean ± std over seeds", keys[0], width));
            plots.Add(file);
        }
        AtomicFile.WriteAllText(Path.Combine(folder, ReportFile), Markdown(plan, state, rows, sets, plots));
        AtomicFile.WriteAllText(Path.Combine(folder, CsvFile), Csv(state));
        AtomicFile.WriteAllText(Path.Combine(folder, JsonFile), Json(plan, state, rows, sets).ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        return Path.Combine(folder, ReportFile);
    }

    /// <summary>Deletes what <see cref="Write"/> writes (a sweep started again with <c>--overwrite</c>), nothing else.</summary>
    internal static void Delete(string folder)
    {
        foreach (var f in new[] { ReportFile, CsvFile, JsonFile }) File.Delete(Path.Combine(folder, f));
        var plots = Path.Combine(folder, PlotsFolder);
        if (Directory.Exists(plots))
            foreach (var png in Directory.EnumerateFiles(plots, "*.png")) File.Delete(png);
    }

    internal static string Markdown(SweepPlan plan, SweepState state, IReadOnlyList<SweepRow> rows,
        IReadOnlyList<(string Name, IReadOnlyList<string> Keys)> sets, IReadOnlyList<string?> plots)
    {
        var sb = new StringBuilder();
        int completed = state.Cells.Count(c => c.Status == SweepCellStatus.Completed);
        var bounds = rows.Select(r => r.Method).Where(Unranked).Distinct().ToList();
        sb.Append("# Sweep `").Append(Cell(Path.GetFileName(plan.GridFile))).Append("`\n\n| | |\n|---|---|\n");
        sb.Append("| grid | `").Append(Cell(plan.GridFile)).Append("` |\n");
        sb.Append("| job | ").Append(JsonNamingPolicy.SnakeCaseLower.ConvertName(plan.Job.Kind.ToString()))
          .Append(plan.Job.Dataset is { } d ? $" on `{Cell(d)}`" : plan.Job.Train is { } t ? $" on `{Cell(t)}`" : "")
          // As the pipeline labels its own tables: figures on the targets that also picked the checkpoints are optimistic.
          .Append(plan.Job.ReportValidation || (plan.Job.Train is not null && plan.Job.Test is null) ? "; VALIDATION metrics (the targets that also picked the checkpoints)" : "")
          .Append(" |\n");
        sb.Append("| cells | ").Append(completed).Append(" of ").Append(state.Cells.Count).Append(" completed");
        foreach (var status in new[] { SweepCellStatus.Running, SweepCellStatus.Failed, SweepCellStatus.Pending })
            if (state.Cells.Count(c => c.Status == status) is > 0 and var n) sb.Append($", {n} {Status(status)}");
        sb.Append(" |\n| seeds | ").Append(string.Join(", ", plan.Seeds)).Append(" |\n");
        sb.Append("| grid hash | `").Append(state.GridHash[..12]).Append("` |\n\n");
        sb.Append("Each cell is one pipeline run (a setting at a seed); every enabled method of the run is a row. Figures are the mean ± ")
          .Append("sample standard deviation over the seeds (n of them; the mean alone for one); the best of each column is in bold")
          .Append(bounds.Count switch { 0 => "", 1 => $" ({bounds[0]}, the ground-truth bound, is not ranked)", _ => $" ({string.Join(", ", bounds)}, the ground-truth bounds, are not ranked)" }).Append("; ↓: lower is better. ")
          .Append($"Per-seed values: `{CsvFile}`, `{JsonFile}`.\n\n");

        sb.Append("## Settings\n\n");
        if (plan.Grid.Set is { Count: > 0 } baseSet) sb.Append("Every cell: `").Append(Cell(string.Join(" ", baseSet))).Append("`.\n\n");
        sb.Append("| setting | overrides |\n|---|---|\n");
        var baseCount = plan.Grid.Set?.Count ?? 0;
        foreach (var setting in plan.Settings)
        {
            var own = plan.Cells.First(c => c.Setting == setting).Overrides.Skip(baseCount).ToList();
            sb.Append("| ").Append(Cell(setting)).Append(" | ").Append(own.Count == 0 ? "(none)" : "`" + Cell(string.Join(" ", own)) + "`").Append(" |\n");
        }
        sb.Append('\n');

        if (rows.Count == 0) sb.Append("No completed cells yet.\n\n");
        for (int i = 0; i < sets.Count; i++)
        {
            sb.Append("## ").Append(Cell(sets[i].Name)).Append("\n\n").Append(Table(sets[i].Keys, rows)).Append('\n');
            if (plots[i] is { } plot) sb.Append("![").Append(Cell(sets[i].Keys[0])).Append("](").Append(plot).Append(")\n\n");
        }
        if (plan.Grid.Metrics is { Count: > 0 } asked && asked.SelectMany(a => a.Value).Except(sets.SelectMany(s => s.Keys)).ToList() is { Count: > 0 } missing && rows.Count > 0)
            sb.Append("Not in any run's summary: ").Append(string.Join(", ", missing.Select(m => $"`{Cell(m)}`"))).Append(".\n\n");

        // A method that diverged in a cell is missing from its row's n, and said here, not averaged as a zero.
        var failed = state.Cells.Where(c => c.Status == SweepCellStatus.Completed && c.Failures is { Count: > 0 }).ToList();
        if (failed.Count > 0)
        {
            sb.Append("## Methods without a result\n\n| cell | method | why |\n|---|---|---|\n");
            foreach (var c in failed)
                foreach (var (method, why) in c.Failures!)
                    sb.Append("| ").Append(Cell(c.Id)).Append(" | ").Append(Cell(method)).Append(" | ").Append(Cell(why)).Append(" |\n");
            sb.Append('\n');
        }

        sb.Append("## Cells\n\n| cell | status | wall time | run |\n|---|---|---:|---|\n");
        foreach (var c in state.Cells)
            sb.Append("| ").Append(Cell(c.Id)).Append(" | ").Append(Status(c.Status)).Append(c.Error is { } e && c.Status == SweepCellStatus.Failed ? ": " + Cell(e) : "")
              .Append(" | ").Append(c.WallSeconds is { } w ? Report.Duration(w) : "").Append(" | ").Append(c.RunDir is { } r ? $"`{Cell(r)}`" : "").Append(" |\n");
        return sb.ToString();
    }

    /// <summary>One line per completed cell and method: setting, seed, method, run folder, then every metric any run has.</summary>
    internal static string Csv(SweepState state)
    {
        var done = state.Cells.Where(c => c.Status == SweepCellStatus.Completed && c.Metrics is not null).ToList();
        var keys = done.SelectMany(c => c.Metrics!.Values.SelectMany(m => m.Keys)).Distinct().ToList();
        var sb = new StringBuilder();
        sb.AppendJoin(',', new[] { "setting", "seed", "method", "run_dir" }.Concat(keys).Select(CsvField)).Append('\n');
        foreach (var c in done)
            foreach (var (method, metrics) in c.Metrics!)
            {
                sb.AppendJoin(',', new[] { c.Setting, c.Seed.ToString(CultureInfo.InvariantCulture), method, c.RunDir ?? "" }.Select(CsvField));
                foreach (var k in keys) sb.Append(',').Append(metrics.TryGetValue(k, out var v) ? v.ToString("R", CultureInfo.InvariantCulture) : "");
                sb.Append('\n');
            }
        return sb.ToString();
    }

    private static JsonObject Json(SweepPlan plan, SweepState state, IReadOnlyList<SweepRow> rows, IReadOnlyList<(string Name, IReadOnlyList<string> Keys)> sets)
    {
        static JsonNode? Number(double v) => double.IsFinite(v) ? JsonValue.Create(v) : JsonValue.Create(v.ToString(CultureInfo.InvariantCulture));
        return new JsonObject
        {
            ["grid_file"] = plan.GridFile,
            ["grid_hash"] = state.GridHash,
            ["seeds"] = new JsonArray(plan.Seeds.Select(s => (JsonNode?)s).ToArray()),
            ["metric_sets"] = new JsonObject(sets.Select(s => KeyValuePair.Create(s.Name, (JsonNode?)new JsonArray(s.Keys.Select(k => (JsonNode?)k).ToArray())))),
            ["rows"] = new JsonArray(rows.Select(r => (JsonNode?)new JsonObject
            {
                ["setting"] = r.Setting,
                ["method"] = r.Method,
                ["seeds"] = new JsonArray(r.Seeds.Select(s => (JsonNode?)s).ToArray()),
                ["metrics"] = new JsonObject(r.Values.Where(v => v.Value.Count > 0).Select(v =>
                {
                    var s = MetricStats.Of(v.Value);
                    return KeyValuePair.Create(v.Key, (JsonNode?)new JsonObject
                    {
                        ["mean"] = s.Mean, ["std"] = s.Std, ["n"] = s.N,
                        ["values"] = new JsonArray(v.Value.Select(Number).ToArray()),
                    });
                })),
            }).ToArray()),
            ["cells"] = new JsonArray(state.Cells.Select(c => (JsonNode?)new JsonObject
            {
                ["id"] = c.Id, ["setting"] = c.Setting, ["seed"] = c.Seed, ["status"] = Status(c.Status), ["run_dir"] = c.RunDir,
                ["metrics"] = c.Metrics is null ? null : new JsonObject(c.Metrics.Select(m => KeyValuePair.Create(m.Key,
                    (JsonNode?)new JsonObject(m.Value.Select(kv => KeyValuePair.Create(kv.Key, Number(kv.Value))))))),
                ["failures"] = c.Failures is null ? null : new JsonObject(c.Failures.Select(f => KeyValuePair.Create(f.Key, (JsonNode?)f.Value))),
            }).ToArray()),
        };
    }

    /// <summary>Horizontal bars (labels stay readable however many rows), one per row, coloured by method, with the
    /// standard deviation as error bars; rows top to bottom in the table's order.</summary>
    public static byte[] RenderBars(IReadOnlyList<(string Label, string Method, MetricStats Stats)> rows, string title, string axis, int width)
    {
        var plt = new ScottPlot.Plot();
        var palette = new ScottPlot.Palettes.Category10();
        var methods = rows.Select(r => r.Method).Distinct().ToList();
        var bars = rows.Select((r, i) => new ScottPlot.Bar
        {
            Position = rows.Count - 1 - i, Value = r.Stats.Mean, Error = r.Stats.Std ?? 0, Size = 0.8,
            FillColor = palette.GetColor(methods.IndexOf(r.Method)),
        }).ToList();
        var plot = plt.Add.Bars(bars);
        plot.Horizontal = true;
        plt.Axes.Left.SetTicks(rows.Select((_, i) => (double)(rows.Count - 1 - i)).ToArray(), rows.Select(r => r.Label).ToArray());
        plt.Axes.Margins(left: 0);
        plt.Title(title);
        plt.XLabel(axis);
        int labelWidth = 7 * rows.Max(r => r.Label.Length);
        return plt.GetImageBytes(Math.Max(width, 300 + labelWidth), Math.Max(300, 120 + 22 * rows.Count), ScottPlot.ImageFormat.Png);
    }

    private static double Round(double v) => Math.Round(v, 4, MidpointRounding.AwayFromZero);
    private static string F(double v) => Round(v).ToString("0.0000", CultureInfo.InvariantCulture);
    private static string Status(SweepCellStatus s) => JsonNamingPolicy.SnakeCaseLower.ConvertName(s.ToString());
    private static string Slug(string name) => Regex.Replace(name.ToLowerInvariant(), "[^a-z0-9]+", "-").Trim('-') is { Length: > 0 } s ? s : "metrics";
    private static string Cell(string s) => s.Replace("|", "\\|").Replace("\n", " ").Replace("`", "'");

    private static string CsvField(string s) => s.IndexOfAny([',', '"', '\n', '\r']) >= 0 ? "\"" + s.Replace("\"", "\"\"") + "\"" : s;
}
