using System.CommandLine;
using RecAlign.Runs;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace RecAlign.Cli.Commands;

/// <summary><c>runs list|show|compare</c> and <c>report RUN</c>: read run folders and the SQLite registry.</summary>
public static class RunsCommands
{

    public static IEnumerable<Command> Build()
    {
        var runs = new Command("runs", "list, inspect and compare runs");
        runs.Subcommands.Add(List());
        runs.Subcommands.Add(Show());
        runs.Subcommands.Add(Compare());
        yield return runs;
        yield return ReportCommand();
    }

    private static Option<string?> Registry() => new("--registry")
    {
        Description = "registry database (default: <runs-dir>/registry.sqlite)",
    };

    private static Argument<string> RunArgument(string name) => new(name)
    {
        Description = "run folder path, run id, id prefix or short id",
    };

    private static RunRegistry OpenRegistry(string runsDir, string? registry)
    {
        // Reading commands must not create a runs folder (and a registry) wherever they happen to be started.
        if (registry is null && !Directory.Exists(runsDir))
            throw new DirectoryNotFoundException($"no runs folder at {Path.GetFullPath(runsDir)} (use --runs-dir or ${RunDirectory.RunsDirVariable})");
        return new RunRegistry(registry ?? RunRegistry.DefaultPath(runsDir));
    }

    /// <summary>A run folder given by path needs no registry; anything else is looked up (after discovery).</summary>
    internal static (RunDirectory Run, RunRecord? Record) ResolveRun(string idOrPath, string runsDir, string? registry)
    {
        if (Directory.Exists(idOrPath))
        {
            var run = RunDirectory.Open(idOrPath);
            var regPath = registry ?? RunRegistry.DefaultPath(Path.GetDirectoryName(run.Path)!);
            if (!File.Exists(regPath)) return (run, null);
            var found = new RunRegistry(regPath);
            found.MarkAbandoned(); // show a killed run as interrupted, as runs list does
            return (run, found.TryGet(run.Id));
        }
        var reg = OpenRegistry(runsDir, registry);
        reg.MarkAbandoned();
        return reg.Resolve(idOrPath, runsDir);
    }

    private static Command List()
    {
        var cmd = new Command("list", "list runs, newest first (registers run folders the registry lacks)");
        var runsDir = CommonOptions.RunsDir();
        var registry = Registry();
        var kind = new Option<string?>("--kind") { Description = "only runs of this kind (sft, align, eval, ...)" };
        var status = new Option<string?>("--status") { Description = "only runs with this status (created, running, completed, failed, interrupted)" };
        var limit = new Option<int>("--limit") { Description = "at most this many runs", DefaultValueFactory = _ => 50 };
        foreach (var o in new Option[] { runsDir, registry, kind, status, limit }) cmd.Options.Add(o);
        cmd.SetAction(parse =>
        {
            var dir = parse.GetValue(runsDir)!;
            if (parse.GetValue(registry) is null && !Directory.Exists(dir))
            {
                AnsiConsole.WriteLine($"no runs folder at {Path.GetFullPath(dir)}");
                return 0;
            }
            RunStatus? st = null;
            if (parse.GetValue(status) is string s)
            {
                if (!RunRegistry.TryParseStatus(s, out var parsed))
                    throw new ArgumentException($"--status: unknown status '{s}' (known: {string.Join(", ", Enum.GetValues<RunStatus>().Select(RunRegistry.StatusName))})");
                st = parsed;
            }
            var reg = OpenRegistry(dir, parse.GetValue(registry));
            reg.Discover(dir);
            reg.MarkAbandoned();
            var rows = reg.List(new RunFilter(Kind: parse.GetValue(kind), Status: st, Limit: parse.GetValue(limit)));
            if (rows.Count == 0)
            {
                var filters = string.Join(" and ", new[] { parse.GetValue(kind) is string k ? $"of kind '{k}'" : null, st is { } x ? $"with status {RunRegistry.StatusName(x)}" : null }.OfType<string>());
                var kinds = filters.Length == 0 ? [] : reg.List().Select(r => r.Kind).Distinct().Order(StringComparer.Ordinal).ToList();
                AnsiConsole.WriteLine(filters.Length == 0 ? $"no runs in {Path.GetFullPath(dir)}"
                    : $"no runs {filters} in {Path.GetFullPath(dir)}" + (kinds.Count > 0 ? $" (kinds there: {string.Join(", ", kinds)})" : ""));
                return 0;
            }
            // The id starts with the creation time, so no separate time column: the table stays readable at 80 columns.
            bool parents = rows.Any(r => r.Parent is not null);
            var table = new Table().Border(TableBorder.Rounded);
            table.AddColumn(new TableColumn("id").NoWrap());
            table.AddColumn("kind");
            table.AddColumn(new TableColumn("status").NoWrap());
            table.AddColumn("final metrics");
            if (parents) table.AddColumn("parent");
            foreach (var r in rows)
            {
                var metrics = Headline(r.FinalMetrics);
                var cells = new List<string> { r.Id, r.Kind, RunRegistry.StatusName(r.Status), metrics };
                if (parents) cells.Add(r.Parent ?? "");
                table.AddRow(Cells([.. cells]));
            }
            AnsiConsole.Write(table);
            return 0;
        });
        return cmd;
    }

    private static Command Show()
    {
        var cmd = new Command("show", "show one run: facts, final metrics, stages and resolved config");
        var id = RunArgument("run");
        var runsDir = CommonOptions.RunsDir();
        var registry = Registry();
        cmd.Arguments.Add(id);
        cmd.Options.Add(runsDir);
        cmd.Options.Add(registry);
        cmd.SetAction(parse =>
        {
            var dir = parse.GetValue(runsDir)!;
            var (run, record) = ResolveRun(parse.GetValue(id)!, dir, parse.GetValue(registry));
            var facts = new Table().Border(TableBorder.Rounded).AddColumn("field").AddColumn("value");
            facts.AddRow(Cells("id", run.Id));
            facts.AddRow(Cells("kind", run.Kind));
            facts.AddRow(Cells("created (UTC)", run.Created.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss")));
            facts.AddRow(Cells("status", record is null ? "(not registered)" : RunRegistry.StatusName(record.Status)));
            facts.AddRow(Cells("folder", run.Path));
            if (record?.Parent is string p) facts.AddRow(Cells("parent", p));
            facts.AddRow(Cells("metrics records", run.ReadMetrics().Count.ToString()));
            AnsiConsole.Write(facts);

            var metrics = RunComparison.FinalMetrics(run, record);
            if (metrics.Count > 0)
            {
                var mt = new Table().Border(TableBorder.Rounded).Title("final metrics").AddColumn("metric").AddColumn(new TableColumn("value").RightAligned());
                foreach (var (k, v) in metrics) mt.AddRow(Cells(k, RunComparison.FormatValue(v)));
                AnsiConsole.Write(mt);
            }
            if (run.ReadSummary()?.Stages is { Count: > 0 } stages)
            {
                var st = new Table().Border(TableBorder.Rounded).Title("stages").AddColumn("stage").AddColumn("wall time").AddColumn("steps");
                foreach (var s in stages)
                    st.AddRow(Cells(s.Name, s.WallSeconds is double w ? Report.Duration(w) : "", s.Steps is long n ? n.ToString("0") : ""));
                AnsiConsole.Write(st);
            }
            var config = RunComparison.Flatten(run.ReadResolvedConfig());
            if (config.Count > 0)
            {
                var ct = new Table().Border(TableBorder.Rounded).Title("resolved config").AddColumn("key").AddColumn("value");
                foreach (var (k, v) in config) ct.AddRow(Cells(k, v));
                AnsiConsole.Write(ct);
            }
            return 0;
        });
        return cmd;
    }

    private static Command Compare()
    {
        var cmd = new Command("compare", "compare two runs: final metrics side by side and config differences");
        var a = RunArgument("a");
        var b = RunArgument("b");
        var runsDir = CommonOptions.RunsDir();
        var registry = Registry();
        cmd.Arguments.Add(a);
        cmd.Arguments.Add(b);
        cmd.Options.Add(runsDir);
        cmd.Options.Add(registry);
        cmd.SetAction(parse =>
        {
            var dir = parse.GetValue(runsDir)!;
            var (runA, recA) = ResolveRun(parse.GetValue(a)!, dir, parse.GetValue(registry));
            var (runB, recB) = ResolveRun(parse.GetValue(b)!, dir, parse.GetValue(registry));
            var metrics = RunComparison.MetricsSideBySide(RunComparison.FinalMetrics(runA, recA), RunComparison.FinalMetrics(runB, recB));
            AnsiConsole.WriteLine($"A = {runA.Id}");
            AnsiConsole.WriteLine($"B = {runB.Id}");
            var mt = new Table().Border(TableBorder.Rounded).Title("final metrics")
                .AddColumn("metric").AddColumn(new TableColumn("A").RightAligned())
                .AddColumn(new TableColumn("B").RightAligned()).AddColumn(new TableColumn("B - A").RightAligned());
            foreach (var (m, va, vb) in metrics)
                mt.AddRow(Cells(m, RunComparison.FormatValue(va), RunComparison.FormatValue(vb), RunComparison.FormatDelta(va, vb)));
            if (metrics.Count == 0) mt.AddRow(Cells("(none recorded)", "", "", ""));
            AnsiConsole.Write(mt);

            var diffs = RunComparison.ConfigDifferences(runA.ReadResolvedConfig(), runB.ReadResolvedConfig());
            if (diffs.Count == 0)
            {
                AnsiConsole.WriteLine("resolved configs are identical");
                return 0;
            }
            var ct = new Table().Border(TableBorder.Rounded).Title("config differences")
                .AddColumn("key").AddColumn("A").AddColumn("B");
            foreach (var (k, va, vb) in diffs) ct.AddRow(Cells(k, va ?? "(absent)", vb ?? "(absent)"));
            AnsiConsole.Write(ct);
            return 0;
        });
        return cmd;
    }

    private static Command ReportCommand()
    {
        var cmd = new Command("report", "write RUN/report.md with a results table and PNG curves");
        var id = RunArgument("run");
        var runsDir = CommonOptions.RunsDir();
        var registry = Registry();
        cmd.Arguments.Add(id);
        cmd.Options.Add(runsDir);
        cmd.Options.Add(registry);
        cmd.SetAction(parse =>
        {
            var dir = parse.GetValue(runsDir)!;
            var (run, _) = ResolveRun(parse.GetValue(id)!, dir, parse.GetValue(registry));
            var result = Report.Write(run);
            AnsiConsole.WriteLine($"wrote {result.MarkdownPath} ({result.PlotPaths.Count} plot(s))");
            return 0;
        });
        return cmd;
    }

    // Plain Text cells: run ids and config values must not be parsed as Spectre markup.
    private static IRenderable[] Cells(params string[] values) => values.Select(v => (IRenderable)new Spectre.Console.Text(v)).ToArray();

    /// <summary>A run's final metrics in one cell: a multi-method run's HR@1 per method (the comparison a row is
    /// for; its first keys would only show the random baseline), else the first four metrics.</summary>
    private static string Headline(IReadOnlyDictionary<string, double> metrics)
    {
        var perMethod = metrics.Where(kv => kv.Key.EndsWith("/hr1", StringComparison.Ordinal) && kv.Key.Count(c => c == '/') == 1).ToList();
        return perMethod.Count > 0
            ? "hr1 " + string.Join(" ", perMethod.Select(kv => $"{kv.Key[..^4]}={RunComparison.FormatValue(kv.Value)}"))
            : string.Join(" ", metrics.Take(4).Select(kv => $"{kv.Key}={RunComparison.FormatValue(kv.Value)}"));
    }
}
