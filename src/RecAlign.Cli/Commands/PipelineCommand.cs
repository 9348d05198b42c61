using System.CommandLine;
using RecAlign.Configuration;
using RecAlign.Pipelines;
using Spectre.Console;

namespace RecAlign.Cli.Commands;

/// <summary><c>recalign pipeline</c>: pretrain → SFT → DPO / S-DPO → evaluation on real data.</summary>
internal static class PipelineCommand
{
    public static Command Build()
    {
        var train = new Option<string?>("--train") { Description = "training sequence table (seq,len_seq,next), e.g. lastfm/ref-sdpo/train_data.csv" };
        var validation = new Option<string?>("--validation")
        {
            Description = "validation sequence table: picks checkpoints (early stopping, best step); also the reported table when --test is absent",
        };
        var dataset = new Option<string?>("--dataset") { Description = "instead of tables: a canonical dataset (data prepare), split leave-one-out (test = each user's last item, validation = the one before) or by --set split.method=... (an OOD setting)" };
        var test = new Option<string?>("--test") { Description = "test sequence table (same format) the final table and summary report; validation metrics are kept as 'validation' columns" };
        var report = new Option<string>("--report")
        {
            Description = "with --dataset: the reported split, test (each user's last item) or validation (the one before, which also picks the checkpoints: for tuning)",
            DefaultValueFactory = _ => "test",
        };
        report.AcceptOnlyFromAmong("test", "validation");
        var items = new Option<string?>("--items") { Description = "item list (id::name, u.item or data_statis.csv); default: found beside --train" };
        var extra = new Option<string[]>("--extra-eval")
        {
            Description = "NAME=FILE.json: also score a published candidate-prompt file (repeatable; at most pipeline.evaluation_questions questions, a seeded subset)",
        };
        var runsDir = CommonOptions.RunsDir();
        var config = CommonOptions.Config();
        var set = CommonOptions.Set("pipeline.sft.training.optimizer.learning_rate=1e-3");
        var threads = CommonOptions.Threads();
        var device = CommonOptions.Device();
        var command = new Command("pipeline", "the LM recommender end to end on sequence tables: pretrain → SFT → DPO and Softmax-DPO → evaluation")
        {
            train, validation, test, items, dataset, report, extra, runsDir, config, set, threads, device,
        };
        command.SetAction(Run);
        return command;

        int Run(ParseResult parse)
        {
            CommonOptions.ApplyThreads(parse.GetValue(threads));
            var resolved = ConfigLoader.Load(new SequenceTablePipelineConfig(), parse.GetValue(config), parse.GetValue(set));
            var extras = (parse.GetValue(extra) ?? []).Select(e =>
            {
                int eq = e.IndexOf('=');
                if (eq <= 0) throw new ArgumentException($"--extra-eval '{e}' must look like NAME=FILE.json");
                return (e[..eq], e[(eq + 1)..]);
            }).ToList();
            var testFile = parse.GetValue(test);
            if (parse.GetValue(dataset) is { } d)
            {
                if (parse.GetValue(train) is not null || parse.GetValue(validation) is not null || testFile is not null || parse.GetValue(items) is not null || extras.Count > 0)
                    throw new ArgumentException("--dataset replaces --train/--validation/--test/--items/--extra-eval; give one or the other");
                bool onValidation = parse.GetValue(report) == "validation";
                var protocol = System.Text.Json.JsonNamingPolicy.SnakeCaseLower.ConvertName(resolved.Split.Method.ToString());
                var run = DatasetPipeline.Run(d, resolved, parse.GetValue(runsDir)!, Console.Out, CommonOptions.ParseDevice(parse.GetValue(device)), onValidation);
                AnsiConsole.Write(ResultTable.Build(Markup.Escape($"pipeline (seed {resolved.Pipeline.Seed}, {resolved.Pipeline.Candidates} candidates): " +
                    (onValidation ? $"VALIDATION metrics ({protocol}, which also picked the checkpoints)" : $"TEST metrics ({protocol})") + $" on {d}"), run));
                Console.WriteLine($"total {run.Seconds:F0}s; run directory {run.Run.Path}");
                return 0;
            }
            if (parse.GetValue(report) == "validation")
                throw new ArgumentException("--report applies to --dataset; with sequence tables, leave out --test and the validation table is reported");
            var validationFile = parse.GetValue(validation) ?? throw new ArgumentException("give --train T.csv --validation V.csv (sequence tables) or --dataset DIR");
            if (parse.GetValue(train) is null) throw new ArgumentException("give --train T.csv --validation V.csv (sequence tables) or --dataset DIR");
            var result = SequenceTablePipeline.Run(parse.GetValue(train)!, validationFile, testFile, parse.GetValue(items), extras, resolved,
                parse.GetValue(runsDir)!, Console.Out, CommonOptions.ParseDevice(parse.GetValue(device)));
            var reported = testFile is null
                ? $"VALIDATION metrics on {Path.GetFileName(validationFile)}, which also picked the checkpoints (no --test)"
                : $"TEST metrics on {Path.GetFileName(testFile)}; checkpoints picked on {Path.GetFileName(validationFile)} ('{SequenceTablePipeline.ValidationSetName} HR@1')";
            AnsiConsole.Write(ResultTable.Build(Markup.Escape($"pipeline (seed {resolved.Pipeline.Seed}, {resolved.Pipeline.Candidates} candidates): {reported}"), result));
            Console.WriteLine($"total {result.Seconds:F0}s; run directory {result.Run.Path}");
            return 0;
        }
    }
}
