namespace RecAlign.IO;

/// <summary>User-facing text for argument errors: without .NET's <c>(Parameter 'name')</c> suffix, and with its
/// "Actual value was X." line said as <c>(got X)</c>.</summary>
public static class ArgumentErrors
{
    public static string Plain(ArgumentException e) => e switch
    {
        ArgumentOutOfRangeException { ActualValue: { } v } r => $"{WithoutParameter(r.Message.Split('\n')[0], r.ParamName)} (got {v})",
        _ => WithoutParameter(e.Message, e.ParamName),
    };

    private static string WithoutParameter(string message, string? parameter) =>
        parameter is null ? message : message.Replace($" (Parameter '{parameter}')", "", StringComparison.Ordinal);
}
