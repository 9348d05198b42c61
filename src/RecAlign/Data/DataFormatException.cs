namespace RecAlign.Data;

/// <summary>Bad input in a data file: names the file, the 1-based line (0 when the problem is not tied to a line,
/// e.g. a missing file) and the field (null when not tied to one). The message reads
/// <c>ratings.dat:17: field 'timestamp': not an integer ('abc')</c>.</summary>
public sealed class DataFormatException(string file, long line, string? field, string message, Exception? inner = null)
    : FormatException(Format(file, line, field, message), inner)
{
    public string File { get; } = file;
    public long Line { get; } = line;
    public string? Field { get; } = field;
    /// <summary>The reason alone, without the file/line/field prefix.</summary>
    public string Reason { get; } = message;

    public static string Format(string file, long line, string? field, string message)
    {
        var sb = new System.Text.StringBuilder(file);
        if (line > 0) sb.Append(':').Append(line);
        sb.Append(": ");
        if (field is not null) sb.Append("field '").Append(field).Append("': ");
        sb.Append(message);
        return sb.ToString();
    }
}
