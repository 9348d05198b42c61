using System.Diagnostics;

namespace RecAlign.Tests.Cli;

/// <summary>How a command ended, as a user sees it.</summary>
public enum CliOutcome
{
    /// <summary>exit 2 with an <c>error:</c> line naming what it should name.</summary>
    ClearError,
    /// <summary>exit 2, but the message does not name the file (or field) at fault.</summary>
    UnlocatedError,
    /// <summary>an unhandled exception (a stack trace, exit 1) or a crash (killed by a signal).</summary>
    Trace,
    /// <summary>still running after the time limit (then killed).</summary>
    Hang,
    /// <summary>exit 0: bad input taken as good (a silent wrong result).</summary>
    Silent,
}

public sealed record CliResult(int ExitCode, string Out, string Error, bool TimedOut)
{
    public CliOutcome Classify(string mustName) =>
        TimedOut ? CliOutcome.Hang
        : ExitCode == 0 ? CliOutcome.Silent
        : ExitCode == 2 && Error.Contains("error: ", StringComparison.Ordinal) && !Error.Contains("Unhandled exception", StringComparison.Ordinal)
            ? (Error.Contains(mustName, StringComparison.Ordinal) ? CliOutcome.ClearError : CliOutcome.UnlocatedError)
            : CliOutcome.Trace;
}

/// <summary>Runs the built <c>recalign</c> executable (copied beside the tests) as a user would: its own process, so a
/// crash or a hang is seen as one and a hang can be killed.</summary>
public static class CliRunner
{
    public static string Executable => Path.Combine(AppContext.BaseDirectory, OperatingSystem.IsWindows() ? "recalign.exe" : "recalign");

    /// <summary>Starts <c>recalign args</c> in <paramref name="workingDirectory"/> (runs default to its <c>runs</c>
    /// folder) with its streams redirected and standard input closed.</summary>
    public static Process Start(string workingDirectory, string[] args)
    {
        var info = new ProcessStartInfo(Executable)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var a in args) info.ArgumentList.Add(a);
        info.Environment["RECALIGN_RUNS_DIR"] = Path.Combine(workingDirectory, "runs");
        info.Environment["COLUMNS"] = "200";
        var p = Process.Start(info)!;
        p.StandardInput.Close();
        return p;
    }

    public static CliResult Run(string workingDirectory, TimeSpan timeout, params string[] args)
    {
        using var p = Start(workingDirectory, args);
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        var finished = p.WaitForExit(timeout);
        if (!finished)
        {
            try { p.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            p.WaitForExit();
        }
        else p.WaitForExit(); // drains the redirected streams
        return new CliResult(finished ? p.ExitCode : -1, stdout.Result, stderr.Result, !finished);
    }
}
