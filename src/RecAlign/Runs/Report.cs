using RecAlign.Evaluation;
using RecAlign.IO;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace RecAlign.Runs;

/// <summary>A curve the report draws when any of <see cref="Keys"/> (first present wins) appears in metrics.jsonl.</summary>
public sealed record PlotSpec(string FileName, string Title, string YLabel, IReadOnlyList<string> Keys);

/// <summary>What <see cref="Report.Write"/> produced: the markdown file and the plots it links (absolute paths).</summary>
public sealed record ReportResult(string MarkdownPath, IReadOnlyList<string> PlotPaths);

/// <summary>
/// Writes a run's <c>report.md</c>: run facts, a per-method table (a multi-method run's <see cref="RunSummary.Methods"/>)
/// or else the final-metrics table, a per-stage table (<see cref="RunSummary.Stages"/>), the last logged values per
/// stage, and PNG curves (ScottPlot) under <c>plots/</c> linked relatively. A curve is drawn only when its metric was
/// logged, one series per stage: training loss (<c>loss</c>), reward margin (<c>reward_margin</c>), validation HR@1
/// (<c>val_hr1</c>); see <see cref="Plots"/> for the accepted aliases.
/// </summary>
public static class Report
{
    public static readonly IReadOnlyList<PlotSpec> Plots =
    [
        new("loss.png", "Training loss", "loss", ["loss", "train_loss", "train/loss"]),
        new("reward_margin.png", "Reward margin", "chosen - rejected reward", ["reward_margin", "rewards/margins", "margin"]),
        new("val_hr1.png", "Validation HR@1", "HR@1", ["val_hr1", "val/hr1", "eval_hr1", "valid_hr1"]),
    ];

    private const string NoStage = "run";

    public static ReportResult Write(RunDirectory run, int width = 900, int height = 480)
    {
        var metrics = run.ReadMetrics();
        var summary = run.ReadSummary();
        Directory.CreateDirectory(run.PlotsPath);
        var plots = new List<(PlotSpec Spec, string Path)>();
        foreach (var spec in Plots)
        {
            var key = spec.Keys.FirstOrDefault(k => metrics.Any(r => r.Values.ContainsKey(k)));
            if (key is null) continue;
            var path = Path.Combine(run.PlotsPath, spec.FileName);
            AtomicFile.WriteAllBytes(path, RenderCurve(Series(metrics, key), spec.Title, spec.YLabel, width, height));
            plots.Add((spec, path));
        }
        var fairness = ReadFairness(run);
        if (fairness is not null && FairnessShares(fairness) is { Groups.Count: > 0 } shares)
        {
            var path = Path.Combine(run.PlotsPath, FairnessPlotFile);
            AtomicFile.WriteAllBytes(path, RenderShares(shares, width, height));
            plots.Add((new PlotSpec(FairnessPlotFile, shares.Title, "share", []), path));
        }
        var md = BuildMarkdown(run, summary, metrics, plots.Select(p => (p.Spec.Title, RunDirectory.PlotsFolder + "/" + p.Spec.FileName)).ToList(), fairness);
        AtomicFile.WriteAllText(run.ReportPath, md);
        return new ReportResult(run.ReportPath, plots.Select(p => p.Path).ToList());
    }

    /// <summary>(step, value) points of one metric, grouped by stage in order of first appearance; non-finite values dropped.</summary>
    public static IReadOnlyList<(string Stage, double[] Steps, double[] Values)> Series(IReadOnlyList<MetricsRecord> records, string key)
    {
        var order = new List<string>();
        var points = new Dictionary<string, List<(double, double)>>();
        foreach (var r in records)
        {
            if (!r.Values.TryGetValue(key, out var v) || !double.IsFinite(v)) continue;
            var stage = r.Stage ?? NoStage;
            if (!points.TryGetValue(stage, out var list)) { points[stage] = list = []; order.Add(stage); }
            list.Add((r.Step, v));
        }
        return order.Select(s => (s, points[s].Select(p => p.Item1).ToArray(), points[s].Select(p => p.Item2).ToArray())).ToList();
    }

    /// <summary>A PNG line chart, one series per stage.</summary>
    public static byte[] RenderCurve(IReadOnlyList<(string Stage, double[] Steps, double[] Values)> series, string title, string yLabel, int width, int height)
    {
        var plt = new ScottPlot.Plot();
        foreach (var (stage, xs, ys) in series)
        {
            var line = plt.Add.Scatter(xs, ys);
            line.LegendText = stage;
            line.MarkerSize = xs.Length > 60 ? 0 : 4;
            line.LineWidth = 1.5f;
        }
        plt.Title(title);
        plt.XLabel("step");
        plt.YLabel(yLabel);
        if (series.Count > 1 || (series.Count == 1 && series[0].Stage != NoStage)) plt.ShowLegend(ScottPlot.Edge.Right); // outside the data area: never hides a point
        return plt.GetImageBytes(width, height, ScottPlot.ImageFormat.Png);
    }

    public const string FairnessPlotFile = "fairness_groups.png";

    /// <summary>The run's fairness.json, or null when it has none (or it does not parse: the report is still written).</summary>
    private static JsonObject? ReadFairness(RunDirectory run)
    {
        if (!File.Exists(run.FairnessPath)) return null;
        try { return JsonNode.Parse(File.ReadAllText(run.FairnessPath)) as JsonObject; }
        catch (System.Text.Json.JsonException) { return null; }
    }

    /// <summary>Per method, the full-catalog figures when the run has them, else the candidate lists'.</summary>
    private static string FairnessPrefix(JsonObject fairness) =>
        fairness["methods"] is JsonObject methods && methods.Any(m => m.Value is JsonObject o && o.Any(kv => kv.Key.StartsWith(Metrics.CatalogPrefix, StringComparison.Ordinal))) ? Metrics.CatalogPrefix : "";

    /// <summary>P_hist and each method's P_rec@K per group (K of the file; methods with catalog figures when any has them).</summary>
    internal static (string Title, IReadOnlyList<string> Groups, IReadOnlyList<(string Name, double[] Shares)> Series) FairnessShares(JsonObject fairness)
    {
        var groups = (fairness["groups"]?["names"] as JsonArray)?.Select(n => Text(n) ?? "").ToList() ?? [];
        int k = (int)(Number(fairness["k"]) ?? 10);
        var prefix = FairnessPrefix(fairness);
        var series = new List<(string, double[])>();
        if (fairness["methods"] is not JsonObject methods) return ("", [], []);
        string History(string g) => prefix + GroupFairness.HistoryShareKey(g);
        string Recommended(string g) => prefix + GroupFairness.RecommendedShareKey(k, g);
        var first = methods.Select(m => m.Value as JsonObject).FirstOrDefault(o => o is not null && o.ContainsKey(History(groups.FirstOrDefault() ?? "")));
        if (first is not null) series.Add(("history", groups.Select(g => Number(first[History(g)]) ?? 0).ToArray()));
        foreach (var (name, node) in methods)
            if (node is JsonObject o && o.ContainsKey(Recommended(groups.FirstOrDefault() ?? "")))
                series.Add((name, groups.Select(g => Number(o[Recommended(g)]) ?? 0).ToArray()));
        var kind = Text(fairness["groups"]?["kind"]) ?? "item";
        return ($"Share of each {kind} group: history vs top-{k} recommendations" + (prefix.Length > 0 ? " (full catalog)" : " (candidate lists)"), groups, series);
    }

    /// <summary>A grouped bar chart: one cluster per item group, one bar per series (history first).</summary>
    public static byte[] RenderShares((string Title, IReadOnlyList<string> Groups, IReadOnlyList<(string Name, double[] Shares)> Series) shares, int width, int height)
    {
        var plt = new ScottPlot.Plot();
        int n = shares.Series.Count;
        double barWidth = 0.8 / Math.Max(1, n);
        // The history (the reference every other bar is measured against) in black; twenty distinct colours for the rest.
        var palette = new ScottPlot.Palettes.Category20();
        for (int s = 0; s < n; s++)
        {
            var (name, values) = shares.Series[s];
            var color = s == 0 ? ScottPlot.Colors.Black : palette.GetColor(s - 1);
            var bars = new List<ScottPlot.Bar>();
            for (int g = 0; g < values.Length; g++)
                bars.Add(new ScottPlot.Bar { Position = g - 0.4 + barWidth * (s + 0.5), Value = values[g], Size = barWidth * 0.95, FillColor = color });
            var plot = plt.Add.Bars(bars);
            plot.LegendText = name;
        }
        plt.Axes.Bottom.SetTicks(Enumerable.Range(0, shares.Groups.Count).Select(i => (double)i).ToArray(), shares.Groups.ToArray());
        plt.Axes.Margins(bottom: 0);
        plt.Title(shares.Title);
        plt.YLabel("share");
        plt.ShowLegend(ScottPlot.Edge.Right);
        return plt.GetImageBytes(Math.Max(width, 120 + 40 * shares.Groups.Count * Math.Max(1, n) / 2), height, ScottPlot.ImageFormat.Png);
    }

    internal static string BuildMarkdown(RunDirectory run, RunSummary? summary, IReadOnlyList<MetricsRecord> metrics,
        IReadOnlyList<(string Title, string RelativePath)> plots, JsonObject? fairness = null)
    {
        var sb = new StringBuilder();
        sb.Append("# Run `").Append(run.Id).Append("`\n\n");
        sb.Append("| | |\n|---|---|\n");
        sb.Append("| kind | ").Append(Cell(run.Kind)).Append(" |\n");
        sb.Append("| created (UTC) | ").Append(run.Created.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture)).Append(" |\n");
        if (summary is not null) sb.Append("| status | ").Append(Cell(RunRegistry.StatusName(summary.Status))).Append(" |\n");
        if (summary?.Data is string data) sb.Append("| data | ").Append(Cell(data)).Append(" |\n");
        if (summary?.Seed is ulong seed) sb.Append("| seed | ").Append(seed.ToString(CultureInfo.InvariantCulture)).Append(" |\n");
        if (summary?.WallSeconds is double wall) sb.Append("| wall time | ").Append(Duration(wall)).Append(" |\n");
        if (summary?.Parent is string parent) sb.Append("| parent run | `").Append(Cell(parent)).Append("` |\n");
        if (summary?.Checkpoint is string ckpt) sb.Append("| checkpoint | `").Append(Cell(ckpt)).Append("` |\n");
        if (metrics.Count > 0) sb.Append("| metrics records | ").Append(metrics.Count.ToString(CultureInfo.InvariantCulture)).Append(" |\n");
        sb.Append('\n');

        sb.Append("## Results\n\n");
        // What the reported figures were measured on, when the run says (e.g. a validation table that also picked the models).
        if (Text(summary?.Evaluation?["note"]) is string evaluationNote) sb.Append("Evaluation: ").Append(evaluationNote).Append(".\n\n");
        var methods = summary?.Methods ?? new Dictionary<string, MethodSummary>();
        if (methods.Count > 0)
        {
            // Several methods evaluated in one run (e.g. quickstart): one row per method, one column per metric.
            // Training values (where an aligned method's training ended) get a table of their own after the scores.
            static bool Trained(string key) => key.StartsWith(Training.TrainingResult.FinalValuePrefix, StringComparison.Ordinal);
            var all = methods.Values.SelectMany(m => m.Metrics.Keys).Distinct().ToList();
            void Table(IEnumerable<KeyValuePair<string, MethodSummary>> rows, List<string> cols, Func<string, string> header, bool timed)
            {
                sb.Append("| method | ").Append(string.Join(" | ", cols.Select(c => Cell(header(c))))).Append(timed ? " | wall time" : "").Append(" |\n");
                sb.Append("|---|").Append(string.Concat(cols.Select(_ => "---:|"))).Append(timed ? "---:|" : "").Append('\n');
                foreach (var (name, m) in rows)
                {
                    sb.Append("| ").Append(Cell(name));
                    foreach (var c in cols) sb.Append(" | ").Append(m.Metrics.TryGetValue(c, out var v) ? Format(v) : "");
                    if (timed) sb.Append(" | ").Append(m.WallSeconds is double w ? Duration(w) : "");
                    sb.Append(" |\n");
                }
                sb.Append('\n');
            }
            Table(methods, all.Where(k => !Trained(k)).ToList(), c => c, methods.Values.Any(m => m.WallSeconds is not null));
            var trainedCols = all.Where(Trained).ToList();
            if (trainedCols.Count > 0)
            {
                sb.Append("Where each aligned method's training ended (mean over its last 10 % of steps; `first_loss`: its first logged loss):\n\n");
                Table(methods.Where(m => m.Value.Metrics.Keys.Any(Trained)), trainedCols, c => c[Training.TrainingResult.FinalValuePrefix.Length..], timed: false);
            }
            foreach (var (name, m) in methods.Where(m => m.Value.Failure is not null))
                sb.Append("- ").Append(Cell(name)).Append(": no result, ").Append(Cell(m.Failure!)).Append('\n');
            if (methods.Values.Any(m => m.Failure is not null)) sb.Append('\n');
        }
        else if (summary?.FinalMetrics is { Count: > 0 } fm)
        {
            sb.Append("| metric | value |\n|---|---:|\n");
            foreach (var (k, v) in fm) sb.Append("| ").Append(Cell(k)).Append(" | ").Append(Format(v)).Append(" |\n");
            sb.Append('\n');
        }
        else sb.Append("No final metrics recorded (summary.json has no `final_metrics`).\n\n");

        if (fairness?["methods"] is JsonObject fairRows && fairRows.Count > 0)
        {
            // One row per method: MGU and DGU at every K (full catalog when the run ranked it), then coverage and Gini.
            var prefix = FairnessPrefix(fairness);
            var keys = fairRows.Select(m => m.Value as JsonObject).Where(o => o is not null).SelectMany(o => o!.Select(kv => kv.Key))
                .Where(k => k.StartsWith(prefix, StringComparison.Ordinal) && !k.Contains('/') && (prefix.Length > 0 || !k.StartsWith(Metrics.CatalogPrefix, StringComparison.Ordinal)))
                .Distinct().OrderBy(k => k[prefix.Length..].Split('@')[0] switch { "mgu" => 0, "dgu" => 1, "coverage" => 2, _ => 3 })
                .ThenBy(k => int.TryParse(k.Split('@').Last(), out var kk) ? kk : 0).ToList();
            var kind = Text(fairness["groups"]?["kind"]) ?? "item";
            var names = (fairness["groups"]?["names"] as JsonArray)?.Select(n => Text(n)).ToList() ?? [];
            var sizes = (fairness["groups"]?["sizes"] as JsonArray)?.Select(n => Number(n)).ToList() ?? [];
            sb.Append("## Item-side fairness\n\n");
            sb.Append(prefix.Length > 0 ? "Top-K over the full catalog" : "Top-K of the candidate lists").Append(", ").Append(Cell(kind)).Append(" groups (")
              .Append(string.Join(", ", names.Zip(sizes, (n, s) => $"{Cell(n ?? "")}: {s:0} items"))).Append("). ")
              .Append("MGU@K = mean over groups of |P_rec@K − P_hist|, DGU@K = max − min of P_rec@K − P_hist; lower is fairer.\n\n");
            sb.Append("| method | ").Append(string.Join(" | ", keys.Select(k => Cell(k[prefix.Length..])))).Append(" |\n");
            sb.Append("|---|").Append(string.Concat(keys.Select(_ => "---:|"))).Append('\n');
            foreach (var (name, node) in fairRows)
            {
                if (node is not JsonObject o) continue;
                sb.Append("| ").Append(Cell(name));
                foreach (var k in keys) sb.Append(" | ").Append(Number(o[k]) is double v ? Format(v) : "");
                sb.Append(" |\n");
            }
            sb.Append('\n');
            if (fairness["rerank"] is JsonObject reranks && reranks.Count > 0)
            {
                sb.Append("Re-ranked rows (λ fitted on validation users): ")
                  .Append(string.Join("; ", reranks.Select(r => $"{Cell(r.Key)} λ = {Number(r.Value?["lambda"]):0.###} ({Text(r.Value?["protocol"])})"))).Append(".\n\n");
            }
        }

        if (summary?.Stages is { Count: > 0 } stages)
        {
            sb.Append("## Stages\n\n| stage | wall time | steps | tokens |\n|---|---:|---:|---:|\n");
            foreach (var s in stages)
            {
                sb.Append("| ").Append(Cell(s.Name))
                  .Append(" | ").Append(s.WallSeconds is double w ? Duration(w) : "")
                  .Append(" | ").Append(s.Steps is long st ? st.ToString("0", CultureInfo.InvariantCulture) : "")
                  .Append(" | ").Append(s.Tokens is long tk ? tk.ToString("#,0", CultureInfo.InvariantCulture) : "")
                  .Append(" |\n");
            }
            sb.Append('\n');
        }

        if (metrics.Count > 0)
        {
            // Metrics as rows and stages as columns: runs log many metrics but have few stages, so this stays narrow.
            sb.Append("## Last logged values\n\n");
            var keys = metrics.SelectMany(r => r.Values.Keys).Distinct().ToList();
            var byStage = metrics.GroupBy(r => r.Stage ?? NoStage).ToList();
            sb.Append("| metric | ").Append(string.Join(" | ", byStage.Select(g => Cell(g.Key)))).Append(" |\n");
            sb.Append("|---|").Append(string.Concat(byStage.Select(_ => "---:|"))).Append('\n');
            sb.Append("| *last step* | ").Append(string.Join(" | ", byStage.Select(g => g.Max(r => r.Step).ToString(CultureInfo.InvariantCulture)))).Append(" |\n");
            foreach (var k in keys)
            {
                sb.Append("| ").Append(Cell(k));
                foreach (var g in byStage)
                {
                    var last = g.LastOrDefault(r => r.Values.ContainsKey(k));
                    sb.Append(" | ").Append(last is null ? "" : Format(last.Values[k]));
                }
                sb.Append(" |\n");
            }
            sb.Append('\n');
        }

        if (plots.Count > 0)
        {
            sb.Append("## Curves\n\n");
            foreach (var (title, rel) in plots)
                sb.Append("### ").Append(title).Append("\n\n![").Append(title).Append("](").Append(rel).Append(")\n\n");
        }
        return sb.ToString();
    }

    /// <summary>A metric value for tables: integers plain, else 4 decimals or scientific for very large/small.</summary>
    public static string Format(double v) =>
        !double.IsFinite(v) ? v.ToString(CultureInfo.InvariantCulture)
        : v == Math.Floor(v) && Math.Abs(v) < 1e15 ? v.ToString("0", CultureInfo.InvariantCulture)
        : Math.Abs(v) >= 1e4 || Math.Abs(v) < 1e-3 ? v.ToString("0.###e+0", CultureInfo.InvariantCulture)
        : v.ToString("0.0000", CultureInfo.InvariantCulture);

    /// <summary>"12.3 s", "4m 05s", "1h 02m 03s".</summary>
    public static string Duration(double seconds)
    {
        if (seconds < 60) return seconds.ToString("0.0", CultureInfo.InvariantCulture) + " s";
        var t = TimeSpan.FromSeconds(Math.Round(seconds));
        return t.TotalHours >= 1
            ? $"{(int)t.TotalHours}h {t.Minutes:00}m {t.Seconds:00}s"
            : $"{t.Minutes}m {t.Seconds:00}s";
    }

    /// <summary>A JSON number (or a numeric string such as "NaN"), else null.</summary>
    public static double? Number(JsonNode? node)
    {
        if (node is not JsonValue v) return null;
        if (v.TryGetValue<double>(out var d)) return d;
        return v.TryGetValue<string>(out var s) && double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out d) ? d : null;
    }

    public static string? Text(JsonNode? node) => node is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;

    private static string Cell(string s) => s.Replace("|", "\\|").Replace("\n", " ");
}
