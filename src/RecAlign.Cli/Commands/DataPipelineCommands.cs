using RecAlign.IO;
using System.CommandLine;
using System.Globalization;
using RecAlign.Configuration;
using RecAlign.Data;
using RecAlign.Data.Audit;
using RecAlign.Data.Candidates;
using RecAlign.Data.Formats;
using RecAlign.Data.Splits;
using RecAlign.Data.Storage;
using RecAlign.Data.Synthetic;
using RecAlign.Pipelines;
using RecAlign.Prompts;
using Spectre.Console;

namespace RecAlign.Cli.Commands;

/// <summary><c>data synth | candidates | export | prompts | preferences | audit</c>: synthetic data, candidate
/// lists, S-DPO JSON export, TRL JSONL and the leak audit. The lead mounts them under <c>data</c>.</summary>
public static class DataPipelineCommands
{
    public static IEnumerable<Command> Build()
    {
        yield return Synth();
        yield return Headroom();
        yield return Candidates();
        yield return Export();
        yield return Prompts(preferences: false);
        yield return Prompts(preferences: true);
        yield return Audit();
    }

    private static Command Synth()
    {
        var size = new Option<string>("--size") { Description = "preset: tiny or small (the quickstart's world is small)", DefaultValueFactory = _ => "small" };
        size.AcceptOnlyFromAmong("tiny", "small");
        var seed = new Option<ulong>("--seed") { Description = "world seed", DefaultValueFactory = _ => 42UL };
        var output = new Option<string>("--out", "-o") { Description = "dataset folder to write (new or empty; an existing dataset folder only with --overwrite)", Required = true };
        var overwrite = CommonOptions.Overwrite("dataset folder");
        var set = CommonOptions.Set("users=500");
        var cmd = new Command("synth", "generate a synthetic dataset (canonical dataset folder + synthetic_config.json)");
        foreach (var o in new Option[] { size, seed, output, overwrite, set }) cmd.Options.Add(o);
        cmd.SetAction(pr =>
        {
            OutputGuard.CheckDirectory("--out", pr.GetValue(output)!, OutputKind.Dataset, pr.GetValue(overwrite), []);
            var preset = SyntheticConfig.Preset(pr.GetValue(size)!) with { Seed = pr.GetValue(seed) };
            var config = ConfigLoader.Load(preset, null, pr.GetValue(set));
            var world = SyntheticWorld.Generate(config);
            var dir = pr.GetValue(output)!;
            var manifest = DatasetStore.Save(world.Dataset, dir, new Dictionary<string, string>
            {
                ["format"] = "synthetic",
                ["size"] = pr.GetValue(size)!,
                ["seed"] = config.Seed.ToString(CultureInfo.InvariantCulture),
                ["shift_timestamp"] = world.ShiftTimestamp.ToString(CultureInfo.InvariantCulture),
            });
            var cfgPath = Path.Combine(dir, "synthetic_config.json");
            AtomicFile.Write(cfgPath, s => { using var w = new StreamWriter(s); w.Write(ConfigLoader.ToJson(config)); });
            Console.WriteLine($"wrote {Path.GetFullPath(dir)}: {world.Dataset.UserCount} users, {world.Catalog.Count} items, " +
                $"{world.Dataset.Interactions.Length} interactions ({manifest.ContentHash}); shifted period from {world.ShiftTimestamp}");
            return 0;
        });
        return cmd;
    }

    private static Command Headroom()
    {
        var size = new Option<string>("--size") { Description = "preset: tiny or small", DefaultValueFactory = _ => "small" };
        size.AcceptOnlyFromAmong("tiny", "small");
        var seed = new Option<ulong>("--seed") { Description = "world and candidate seed", DefaultValueFactory = _ => 42UL };
        var count = new Option<int>("--count", "-n") { Description = "candidates per list, target included", DefaultValueFactory = _ => 20 };
        var set = CommonOptions.Set("users=500");
        var models = new Option<string[]>("--model") { Description = "a model directory trained on this world (e.g. train sasrec --dataset from data synth with the same --size/--seed/--set): scored on the same lists (repeatable)", AllowMultipleArgumentsPerToken = false };
        var cmd = new Command("headroom", "HR@1 of the synthetic world's ground-truth rankers (the Bayes-optimal oracle and its parts) and of popularity on the leave-one-out test lists");
        foreach (var o in new Option[] { size, seed, count, set, models }) cmd.Options.Add(o);
        cmd.SetAction(pr =>
        {
            var config = ConfigLoader.Load(SyntheticConfig.Preset(pr.GetValue(size)!) with { Seed = pr.GetValue(seed) }, null, pr.GetValue(set));
            var loaded = (pr.GetValue(models) ?? []).Select(m => (Name: "model " + Path.GetFileName(Path.TrimEndingDirectorySeparator(m)), Model: RecAlign.Models.Recommenders.Load(m))).ToList();
            var rows = SyntheticHeadroom.Compute(SyntheticWorld.Generate(config), pr.GetValue(count), config.Seed, loaded);
            foreach (var (_, m) in loaded) m.Dispose();
            var table = new Spectre.Console.Table().AddColumns("ranker", "HR@1", "NDCG@5", "what it ranks by");
            foreach (var r in rows)
                table.AddRow(r.Ranker, r.Hr1.ToString("F4", CultureInfo.InvariantCulture), r.Ndcg5.ToString("F4", CultureInfo.InvariantCulture), Spectre.Console.Markup.Escape(r.Description));
            table.Title = new Spectre.Console.TableTitle($"synthetic {pr.GetValue(size)} (seed {config.Seed}), {pr.GetValue(count)} candidates, every user's last item");
            Spectre.Console.AnsiConsole.Write(table);
            return 0;
        });
        return cmd;
    }

    private static (Option<string> Split, Option<int> Count, Option<string> Negatives, Option<ulong> Seed, Option<double> Power, Option<string[]> Set, Option<bool> Overwrite) SamplingOptions()
    {
        var set = CommonOptions.Set("temporal_shift.train_end=0.5");
        set.Description = "override a split setting by its snake_case key (docs/data/ood-splits.md), e.g. --set temporal_shift.train_end=0.5 or popularity_shift.head_share=0.1 (repeatable)";
        var split = new Option<string>("--split") { Description = "leave_one_out | temporal | user_ratio | temporal_shift | popularity_shift | attribute_shift | exposure_shift (train/test candidates by different exposure policies)", DefaultValueFactory = _ => "leave_one_out" };
        var count = new Option<int>("--count", "-n") { Description = "candidates per list, target included", DefaultValueFactory = _ => 20 };
        var negatives = new Option<string>("--negatives") { Description = "uniform | popularity", DefaultValueFactory = _ => "uniform" };
        negatives.AcceptOnlyFromAmong("uniform", "popularity");
        var seed = new Option<ulong>("--seed") { Description = "candidate seed (per example: seed, user, position)", DefaultValueFactory = _ => 0UL };
        var power = new Option<double>("--popularity-power") { Description = "exponent on counts for popularity negatives", DefaultValueFactory = _ => 1.0 };
        return (split, count, negatives, seed, power, set, CommonOptions.Overwrite("candidate-list folder"));
    }

    private static IReadOnlyList<(string, int)> WriteBundle(ParseResult pr, string dataDir, string outDir, int maxHistory, string prefix, bool gzipTrain,
        (Option<string> Split, Option<int> Count, Option<string> Negatives, Option<ulong> Seed, Option<double> Power, Option<string[]> Set, Option<bool> Overwrite) o, SplitMethod? forced = null)
    {
        OutputGuard.CheckDirectory("--out", outDir, OutputKind.CandidateBundle, pr.GetValue(o.Overwrite), [("the dataset", dataDir)]);
        var method = forced ?? CommonOptions.ParseEnum<SplitMethod>(pr.GetValue(o.Split)!, "--split");
        var splitConfig = ConfigLoader.Load(new SplitConfig { Method = method }, null, pr.GetValue(o.Set) ?? []);
        if (splitConfig.Method != method) throw new ArgumentException("--set method=...: give the split with --split");
        var dataset = DatasetStore.Load(dataDir);
        var split = Splitter.Split(dataset, splitConfig);
        var cfg = new CandidateConfig
        {
            Count = pr.GetValue(o.Count),
            Seed = pr.GetValue(o.Seed),
            Negatives = CommonOptions.ParseEnum<NegativeSampling>(pr.GetValue(o.Negatives)!, "--negatives"),
            PopularityPower = pr.GetValue(o.Power),
        };
        var (trainSampler, evalSampler) = CandidateBundle.Samplers(cfg, dataset.Catalog.Count, split);
        return CandidateBundle.Write(outDir, dataset.Catalog, split, trainSampler, evalSampler,
            new CandidateBundleOptions { Prefix = prefix, MaxHistory = maxHistory, GzipTrain = gzipTrain });
    }

    private static Command Candidates()
    {
        var data = new Argument<string>("dataset") { Description = "a dataset folder (data prepare / data synth)" };
        var output = new Option<string>("--out", "-o") { Description = "output folder", Required = true };
        var maxHistory = new Option<int>("--max-history") { Description = "latest N history items kept (0 = all)", DefaultValueFactory = _ => 0 };
        var o = SamplingOptions();
        var cmd = new Command("candidates", "split a dataset and write seeded candidate lists (S-DPO JSON: train/val/test.json + id2name.txt)");
        cmd.Arguments.Add(data);
        foreach (var x in new Option[] { output, o.Overwrite, maxHistory, o.Split, o.Count, o.Negatives, o.Seed, o.Power, o.Set }) cmd.Options.Add(x);
        cmd.SetAction(pr =>
        {
            foreach (var (path, n) in WriteBundle(pr, pr.GetValue(data)!, pr.GetValue(output)!, pr.GetValue(maxHistory), "", false, o))
                Console.WriteLine($"wrote {path} ({n})");
            return 0;
        });
        return cmd;
    }

    private static Command Export()
    {
        var data = new Argument<string>("dataset") { Description = "a dataset folder (data prepare / data synth)" };
        var output = new Option<string>("--out", "-o") { Description = "output folder", Required = true };
        var name = new Option<string?>("--name") { Description = "file prefix (default: the dataset folder name)" };
        var o = SamplingOptions();
        var cmd = new Command("export", "export a dataset in S-DPO's layout: <name>-train/val/test.json (user split 8:1:1, last 10 history items, 20 candidates) + id2name.txt");
        cmd.Arguments.Add(data);
        foreach (var x in new Option[] { output, o.Overwrite, name, o.Count, o.Negatives, o.Seed, o.Power, o.Set }) cmd.Options.Add(x);
        cmd.SetAction(pr =>
        {
            var dir = pr.GetValue(data)!;
            var prefix = OutputGuard.SafeName("--name", pr.GetValue(name) ?? new DirectoryInfo(dir).Name) + "-";
            foreach (var (path, n) in WriteBundle(pr, dir, pr.GetValue(output)!, 10, prefix, false, o, SplitMethod.UserRatio))
                Console.WriteLine($"wrote {path} ({n})");
            return 0;
        });
        return cmd;
    }

    private static Command Prompts(bool preferences)
    {
        var input = new Argument<string>("file") { Description = "candidate JSON (S-DPO format, .json or .json.gz)" };
        var output = new Option<string>("--out", "-o") { Description = "output JSONL (.jsonl or .jsonl.gz)", Required = true };
        var templates = CommonOptions.Template();
        var seed = new Option<ulong>("--seed") { Description = "template / negative choice seed", DefaultValueFactory = _ => 0UL };
        var maxHistory = new Option<int>("--max-history") { Description = "latest N history items in the prompt (0 = all)", DefaultValueFactory = _ => 10 };
        var style = new Option<string>("--style") { Description = "title list style: comma | quoted | numbered", DefaultValueFactory = _ => "comma" };
        style.AcceptOnlyFromAmong("comma", "quoted", "numbered");
        var rejected = new Option<int>("--rejected", "-k") { Description = "negatives per example (1 = DPO, 3+ = Softmax-DPO)", DefaultValueFactory = _ => 1 };
        var cmd = preferences
            ? new Command("preferences", "render candidate lists into TRL preference JSONL {prompt, chosen, rejected}")
            : new Command("prompts", "render candidate lists into TRL prompt-completion JSONL {prompt, completion}");
        cmd.Arguments.Add(input);
        foreach (var x in new Option[] { output, templates, seed, maxHistory, style }) cmd.Options.Add(x);
        if (preferences) cmd.Options.Add(rejected);
        cmd.SetAction(pr =>
        {
            OutputGuard.CheckFile("--out", pr.GetValue(output)!, [("the input file", pr.GetValue(input)), ("the --templates file", pr.GetValue(templates))]);
            var file = CandidatePromptJson.Read(pr.GetValue(input)!);
            var listStyle = CommonOptions.ParseEnum<ItemListStyle>(pr.GetValue(style)!, "--style");
            var config = new PromptConfig
            {
                Seed = pr.GetValue(seed), MaxHistory = pr.GetValue(maxHistory), HistoryStyle = listStyle, CandidateStyle = listStyle,
                RejectedCount = preferences ? pr.GetValue(rejected) : 1,
            };
            var builder = new PromptBuilder(file.Catalog, PromptTemplates.NamedOrFile(pr.GetValue(templates)!), config);
            var path = pr.GetValue(output)!;
            if (preferences) TrlJsonl.WritePreferences(path, builder.BuildPreferences(file.Examples));
            else TrlJsonl.WriteSft(path, builder.Build(file.Examples));
            Console.WriteLine($"wrote {path} ({file.Examples.Count} examples)");
            return 0;
        });
        return cmd;
    }

    private static Command Audit()
    {
        var input = new Argument<string>("file") { Description = "candidate JSON to audit (S-DPO format)" };
        var train = new Option<string?>("--train") { Description = "training candidate JSON the lookup learns from (else leave-one-out on FILE)" };
        var maxLookup = new Option<double>("--max-lookup-hr1") { Description = "fail above this history-free lookup HR@1", DefaultValueFactory = _ => new AuditThresholds().MaxLookupHr1 };
        var cmd = new Command("audit", "check candidate lists for answer leaks (exit code 1 when the audit fails)");
        cmd.Arguments.Add(input);
        cmd.Options.Add(train);
        cmd.Options.Add(maxLookup);
        cmd.SetAction(pr =>
        {
            var trainPath = pr.GetValue(train);
            CandidatePromptFile? trainFile = trainPath is null ? null : CandidatePromptJson.Read(trainPath);
            var file = CandidatePromptJson.Read(pr.GetValue(input)!, trainFile?.Catalog);
            IReadOnlyList<CandidateExample>? trainExamples = trainFile?.Examples;
            var report = LeakAudit.Run(file.Examples, file.Catalog, trainExamples, new AuditThresholds { MaxLookupHr1 = pr.GetValue(maxLookup) });
            PrintReport(report);
            return report.Passed ? 0 : 1;
        });
        return cmd;
    }

    private static void PrintReport(AuditReport r)
    {
        var t = new Table().AddColumn("check").AddColumn(new TableColumn("value").RightAligned()).AddColumn("limit / reference");
        string F(double x) => x.ToString("F3", CultureInfo.InvariantCulture);
        t.AddRow("examples (train)", $"{r.Examples} ({r.TrainExamples})", $"list length {r.ListLength}");
        t.AddRow($"history-free lookup HR@1 ({r.LookupSource})", F(r.LookupHr1), $"max {F(r.Thresholds.MaxLookupHr1)}, chance {F(r.ChanceHr1)}");
        t.AddRow("same set, same answer", F(r.RepeatedSetRate), $"max {F(r.Thresholds.MaxRepeatedSetRate)}");
        t.AddRow("negatives shared per answer", F(r.SameAnswerOverlap), $"max {F(r.Thresholds.MaxSameAnswerOverlap)}, independent {F(r.ExpectedSameAnswerOverlap)}");
        t.AddRow("answer position max/expected", F(r.PositionMaxOverExpected), $"max {F(r.Thresholds.MaxPositionSkew)} (p = {r.PositionPValue.ToString("G3", CultureInfo.InvariantCulture)})");
        if (r.TargetOverlap is { } o) t.AddRow("answers also train answers", F(o), "info");
        if (r.DuplicateExampleRate is { } d) t.AddRow("(history, answer) also in train", F(d), "info");
        t.AddRow("lists without exactly one answer", r.MalformedLists.ToString(CultureInfo.InvariantCulture), $"max {r.Thresholds.MaxMalformedRate:P1}");
        AnsiConsole.Write(t);
        if (r.Passed) AnsiConsole.MarkupLine("[green]audit passed[/]");
        else
        {
            AnsiConsole.MarkupLine("[red]audit FAILED[/]");
            foreach (var f in r.Failures) AnsiConsole.MarkupLineInterpolated($"  [red]-[/] {f}");
        }
    }
}
