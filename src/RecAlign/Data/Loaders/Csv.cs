using System.Text;

namespace RecAlign.Data.Loaders;

/// <summary>RFC 4180 field splitting for one line: quoted fields may hold commas and doubled quotes. A quoted field
/// spanning lines is reported as an unterminated quote (none of the supported sources write one).</summary>
internal static class Csv
{
    public static void ParseLine(ReadOnlySpan<char> line, List<string> fields, LineReader r, char sep = ',')
    {
        fields.Clear();
        if (line.IndexOf('"') < 0)
        {
            foreach (var range in line.Split(sep)) fields.Add(line[range].ToString());
            return;
        }
        var sb = new StringBuilder();
        int i = 0;
        while (true)
        {
            sb.Clear();
            if (i < line.Length && line[i] == '"')
            {
                int start = i;
                i++;
                while (true)
                {
                    if (i >= line.Length)
                        throw Fields.Bad(r, null, $"unterminated quoted field starting at column {start + 1}");
                    if (line[i] == '"')
                    {
                        if (i + 1 < line.Length && line[i + 1] == '"') { sb.Append('"'); i += 2; continue; }
                        i++;
                        break;
                    }
                    sb.Append(line[i++]);
                }
                if (i < line.Length && line[i] != sep)
                    throw Fields.Bad(r, null, $"unexpected character '{line[i]}' after a closing quote at column {i + 1}");
            }
            else
            {
                int end = line[i..].IndexOf(sep);
                var part = end < 0 ? line[i..] : line.Slice(i, end);
                if (part.IndexOf('"') >= 0)
                    throw Fields.Bad(r, null, $"stray quote inside an unquoted field at column {i + part.IndexOf('"') + 1}");
                sb.Append(part);
                i += part.Length;
            }
            fields.Add(sb.ToString());
            if (i >= line.Length) return;
            i++; // the separator
            if (i == line.Length) { fields.Add(""); return; }
        }
    }

    /// <summary>Reads a header row and returns the index of each wanted column (-1 when an optional one is absent).</summary>
    public static int[] HeaderIndex(List<string> header, LineReader r, string[] required, string[]? optional = null)
    {
        var idx = new int[required.Length + (optional?.Length ?? 0)];
        for (int k = 0; k < required.Length; k++)
        {
            idx[k] = header.FindIndex(h => string.Equals(h.Trim(), required[k], StringComparison.OrdinalIgnoreCase));
            if (idx[k] < 0)
                throw new DataFormatException(r.File, r.LineNumber, required[k],
                    $"missing column in header (found: {string.Join(", ", header)})");
        }
        for (int k = 0; k < (optional?.Length ?? 0); k++)
            idx[required.Length + k] = header.FindIndex(h => string.Equals(h.Trim(), optional![k], StringComparison.OrdinalIgnoreCase));
        return idx;
    }
}
