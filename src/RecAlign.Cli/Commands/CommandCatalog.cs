using System.CommandLine;

namespace RecAlign.Cli.Commands;

/// <summary>Every verb of the CLI. Each command group lives in its own file as a static <c>Build()</c>; the CLI only
/// parses arguments and calls the library.</summary>
internal static class CommandCatalog
{
    public static IEnumerable<Command> All()
    {
        yield return CommonOptions.Placeholder();
    }
}
