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
        var train = new Option<string>("--train") { Description = "training sequence table (seq,len_seq,next), e.g. lastfm/ref-sdpo/train_data.csv", Required = true };
        var validation = new Option<string>("--validation") { Description = "validation sequence table (tuning and evaluation)", Required = true };
        var items = new Option<string?>("--items") { Description = "item list (id::name, u.item or data_statis.csv); default: found beside --train" };
        var extra = new Option<string[]>("--extra-eval") { Description = "NAME=FILE.json: also score a published candidate-prompt file (repeatable)" };
        var runsDir = CommonOptions.RunsDir();
        var config = CommonOptions.Config();
        var set = CommonOptions.Set();
        var threads = CommonOptions.Threads();
        var command = new Command("pipeline", "the LM recommender end to end on sequence tables: pretrain → SFT → DPO and Softmax-DPO → evaluation")
        {
            train, validation, items, extra, runsDir, config, set, threads,
        };
        command.SetAction(parse =>
        {
            CommonOptions.ApplyThreads(parse.GetValue(threads));
            var resolved = ConfigLoader.Load(new SequenceTablePipelineConfig(), parse.GetValue(config), parse.GetValue(set));
            var extras = (parse.GetValue(extra) ?? []).Select(e =>
            {
                int eq = e.IndexOf('=');
                if (eq <= 0) throw new ArgumentException($"--extra-eval '{e}' must look like NAME=FILE.json");
                return (e[..eq], e[(eq + 1)..]);
            }).ToList();
            var result = SequenceTablePipeline.Run(parse.GetValue(train)!, parse.GetValue(validation)!, parse.GetValue(items), extras, resolved,
                parse.GetValue(runsDir)!, Console.Out);
            AnsiConsole.Write(ResultTable.Build($"pipeline (seed {resolved.Pipeline.Seed}, {resolved.Pipeline.Candidates} candidates, evaluated on {Path.GetFileName(parse.GetValue(validation))})", result));
            Console.WriteLine($"total {result.Seconds:F0}s; run directory {result.Run.Path}");
            return 0;
        });
        return command;
    }
}
