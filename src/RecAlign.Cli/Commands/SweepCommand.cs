using System.CommandLine;
using RecAlign.Pipelines;

namespace RecAlign.Cli.Commands;

/// <summary><c>recalign sweep</c>: a grid of pipeline runs (settings × seeds) and one comparison report.</summary>
internal static class SweepCommand
{
    public static Command Build()
    {
        var grid = new Option<string>("--config", "-c") { Description = "the grid file (YAML or JSON): job, seeds, set, settings, grid, metrics", Required = true };
        var output = new Option<string>("--out", "-o") { Description = "the sweep folder: new or empty, or this grid's sweep folder (resumed)", Required = true };
        var overwrite = CommonOptions.Overwrite("sweep folder (start it again instead of resuming)");
        var dryRun = new Option<bool>("--dry-run") { Description = "check the grid and list its cells; run nothing" };
        var runsDir = CommonOptions.RunsDir();
        var threads = CommonOptions.Threads();
        var device = CommonOptions.Device();
        var command = new Command("sweep", "run a grid of pipeline runs (settings × seeds; rows setting × method) and write one report with mean ± std over seeds")
        {
            grid, output, overwrite, dryRun, runsDir, threads, device,
        };
        command.SetAction(parse =>
        {
            // The whole grid is checked before anything runs or any folder is touched.
            var plan = SweepGridFile.Load(parse.GetValue(grid)!);
            if (parse.GetValue(dryRun))
            {
                Console.WriteLine($"{plan.GridFile}: {plan.Cells.Count} cells ({plan.Settings.Count} settings × {plan.Seeds.Count} seeds), grid hash {plan.GridHash[..12]}");
                foreach (var cell in plan.Cells)
                    Console.WriteLine($"  {cell.Index + 1}. {cell.Id}: {string.Join(" ", cell.Overrides)}");
                return 0;
            }
            CommonOptions.ApplyThreads(parse.GetValue(threads));
            var runs = parse.GetValue(runsDir)!;
            var runner = new PipelineSweepRunner(runs, CommonOptions.ParseDevice(parse.GetValue(device)));
            var result = Sweep.Run(plan, parse.GetValue(output)!, runner, parse.GetValue(overwrite), [("the runs folder", runs)], Console.Out);
            Console.WriteLine($"sweep {result.Folder}: {result.CellsRun} cells run now, {result.CellsReused} reused");
            Console.WriteLine($"report:  {result.ReportPath}");
            return 0;
        });
        return command;
    }
}
