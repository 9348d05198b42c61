using System.CommandLine;
using RecAlign.Configuration;
using RecAlign.Pipelines;
using Spectre.Console;

namespace RecAlign.Cli.Commands;

/// <summary><c>recalign quickstart</c>: the end-to-end job on the embedded synthetic default.</summary>
internal static class QuickstartCommand
{
    public static Command Build()
    {
        var runsDir = CommonOptions.RunsDir();
        var config = CommonOptions.Config();
        var set = CommonOptions.Set("pipeline.sft.training.optimizer.learning_rate=1e-3");
        var seed = new Option<ulong?>("--seed") { Description = "seed for data, sampling and training (default 42)" };
        var threads = CommonOptions.Threads();
        var device = CommonOptions.Device();
        var command = new Command("quickstart", "synthetic data → pretrain → SFT → DPO and Softmax-DPO → evaluation, with a comparison table")
        {
            runsDir, config, set, seed, threads, device,
        };
        command.SetAction(parse =>
        {
            CommonOptions.ApplyThreads(parse.GetValue(threads));
            var overrides = (parse.GetValue(set) ?? []).ToList();
            if (parse.GetValue(seed) is { } s) overrides.Add($"pipeline.seed={s}");
            var resolved = ConfigLoader.Load(new QuickstartConfig(), parse.GetValue(config), overrides);
            var result = Quickstart.Run(resolved, parse.GetValue(runsDir)!, Console.Out, CommonOptions.ParseDevice(parse.GetValue(device)));
            var table = ResultTable.Build($"quickstart (seed {resolved.Pipeline.Seed}, {resolved.Pipeline.Candidates} candidates)", result);
            AnsiConsole.Write(table);
            Console.WriteLine($"total {result.Seconds:F0}s; run directory {result.Run.Path}");
            Console.WriteLine($"summary: {result.Run.SummaryPath}");
            Console.WriteLine($"report:  {result.Run.ReportPath}");
            return 0;
        });
        return command;
    }
}
