using System.CommandLine;
using System.CommandLine.Invocation;
using System.Globalization;
using RecAlign.Cli.Commands;
using Spectre.Console;

namespace RecAlign.Cli;

/// <summary>The command line as a callable (the program's whole body), so tests run commands in process and check
/// exit codes and messages.</summary>
public static class CliApp
{
    public static async Task<int> RunAsync(string[] args)
    {
        // Numbers in logs, tables and files never depend on the machine's locale.
        CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
        CultureInfo.DefaultThreadCurrentUICulture = CultureInfo.InvariantCulture;
        CultureInfo.CurrentCulture = CultureInfo.CurrentUICulture = CultureInfo.InvariantCulture;

        // Redirected output (logs, pipes) has no terminal width: Spectre would wrap tables at 80 columns, cutting headers and
        // numbers. Use $COLUMNS when set, else a width no table here reaches.
        if (Console.IsOutputRedirected)
            AnsiConsole.Profile.Width = int.TryParse(Environment.GetEnvironmentVariable("COLUMNS"), out var columns) && columns > 0 ? columns : 240;

        var root = new RootCommand("RecAlign: LLM-based generative recommendation with preference alignment");
        foreach (var command in CommandCatalog.All())
            root.Subcommands.Add(command);
        try
        {
            // Validators run while parsing (e.g. --device asks libtorch about CUDA), so parsing is inside the handler too.
            var parse = root.Parse(args.Length == 0 ? ["--help"] : args); // no command: the help, not an error
            // Parse errors (a bad option value, an unknown option) read like every other input error: one `error:` line each,
            // exit code 2, and a pointer to the help instead of the whole help text.
            if (parse.Action is ParseErrorAction)
                return CliErrors.ReportParseErrors(parse);
            return await parse.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (Exception e)
        {
            return CliErrors.Report(e);
        }
    }
}
