using System.CommandLine;

namespace RecAlign.Cli.Commands;

/// <summary>Every verb of the CLI. Each command group lives in its own file as a static <c>Build()</c>; the CLI only
/// parses arguments and calls the library.</summary>
internal static class CommandCatalog
{
    public static IEnumerable<Command> All()
    {
        yield return QuickstartCommand.Build();
        yield return PipelineCommand.Build();
        yield return SweepCommand.Build();
        foreach (var c in TrainCommands.Build()) yield return c;
        yield return EvalCommand.Build();
        yield return ServeCommand.Build();
        var data = new Command("data", "prepare, inspect, sample and audit recommendation data");
        foreach (var c in DataPrepareCommands.Build()) data.Subcommands.Add(c);
        foreach (var c in DataPipelineCommands.Build()) data.Subcommands.Add(c);
        yield return data;
        foreach (var c in RunsCommands.Build()) yield return c;
        yield return CommonOptions.Placeholder();
    }
}
