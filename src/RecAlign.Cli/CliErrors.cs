namespace RecAlign.Cli;

/// <summary>The CLI's one error handler. Bad input (a missing or malformed file, an unknown config key or value,
/// an unsupported option) prints <c>error: message</c> and exits with <see cref="UsageExitCode"/>, as parse errors
/// do; anything else is a bug and keeps its stack trace (exit code 1).</summary>
internal static class CliErrors
{
    public const int UsageExitCode = 2;

    public static int ReportParseErrors(System.CommandLine.ParseResult parse)
    {
        foreach (var error in parse.Errors) Console.Error.WriteLine($"error: {error.Message}");
        var path = new List<string>();
        for (var r = parse.CommandResult; r is not null; r = r.Parent as System.CommandLine.Parsing.CommandResult)
            path.Insert(0, r.Command.Name);
        path[0] = "recalign";
        Console.Error.WriteLine($"(usage: {string.Join(' ', path)} --help)");
        return UsageExitCode;
    }

    public static int Report(Exception e)
    {
        while (e is AggregateException { InnerExceptions.Count: 1 } or System.Reflection.TargetInvocationException && e.InnerException is not null)
            e = e.InnerException!;
        if (!IsUserError(e))
        {
            Console.Error.WriteLine($"Unhandled exception: {e}");
            return 1;
        }
        var message = Message(e);
        // A wrapper that does not already quote its cause gets it appended.
        if (e.InnerException is { } inner && IsUserError(inner) && Message(inner).TrimEnd('.') is var cause && !message.Contains(cause, StringComparison.Ordinal))
            message += $": {cause}";
        Console.Error.WriteLine($"error: {message}");
        return UsageExitCode;
    }

    /// <summary>Exceptions the library and the commands throw for bad input (grep <c>throw new</c>): data and config
    /// format errors (<see cref="RecAlign.Data.DataFormatException"/> is a <see cref="FormatException"/>), bad
    /// arguments, missing or unreadable files, unknown names, unsupported model/tokenizer features, and checkpoints
    /// that do not fit the model.</summary>
    public static bool IsUserError(Exception e) => e is FormatException or ArgumentException or IOException or InvalidDataException
        or System.Text.Json.JsonException or YamlDotNet.Core.YamlException or KeyNotFoundException or UnauthorizedAccessException
        or RecAlign.Models.Checkpoints.CheckpointMismatchException or RecAlign.Training.TrainingDivergedException
        // NotSupportedException without a message of its own is a stream used the wrong way: a bug.
        or NotSupportedException { Message: not "Specified method is not supported." };

    /// <summary>One line, without .NET's <c>(Parameter 'name')</c> suffix or JSON location suffix.</summary>
    private static string Message(Exception e)
    {
        var text = e switch
        {
            ArgumentException a => RecAlign.IO.ArgumentErrors.Plain(a),
            System.Text.Json.JsonException j => RecAlign.IO.JsonErrors.Reason(j),
            _ => e.Message,
        };
        return string.Join(" ", text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
    }
}
