using RecAlign.IO;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using RecAlign.Data;
using RecAlign.Data.Loaders;

namespace RecAlign.Prompts;

/// <summary>
/// TRL-style JSON-lines datasets, so data moves between RecAlign and TRL: preference data
/// <c>{"prompt", "chosen", "rejected"}</c> (<c>rejected</c> a string for one negative, a list for several; S-DPO's
/// <c>rejected1..K</c> columns are read too) and SFT prompt-completion data <c>{"prompt", "completion"}</c>.
/// Files are UTF-8, one object per line, <c>.gz</c> compressed by extension, written atomically.
/// </summary>
public static class TrlJsonl
{
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <param name="rejectedAsList">Write <c>rejected</c> as a list even with one negative.</param>
    public static void WritePreferences(string path, IEnumerable<PreferenceExample> examples, bool rejectedAsList = false)
        => AtomicFile.Write(path, s => WriteLines(s, examples, (w, e) =>
        {
            if (e.Rejected.Count == 0) throw new ArgumentException("a preference example needs at least one rejected response");
            w.WriteString("prompt", e.Prompt);
            w.WriteString("chosen", e.Chosen);
            if (e.Rejected.Count == 1 && !rejectedAsList) w.WriteString("rejected", e.Rejected[0]);
            else
            {
                w.WriteStartArray("rejected");
                foreach (var r in e.Rejected) w.WriteStringValue(r);
                w.WriteEndArray();
            }
        }));

    public static void WriteSft(string path, IEnumerable<PromptExample> examples)
        => AtomicFile.Write(path, s => WriteLines(s, examples, (w, e) =>
        {
            w.WriteString("prompt", e.Prompt);
            w.WriteString("completion", e.Response);
        }));

    /// <param name="sameRejectedCount">require every example to have as many rejected responses as the first (what
    /// training needs: one K per batch), failing at the first line that differs.</param>
    public static List<PreferenceExample> ReadPreferences(string path, bool sameRejectedCount = false)
    {
        (int K, long Line)? first = null;
        return ReadLines(path, (obj, file, line) =>
    {
        var prompt = RequireString(obj, "prompt", file, line);
        var chosen = RequireString(obj, "chosen", file, line);
        var rejected = new List<string>();
        if (obj.TryGetProperty("rejected", out var r))
        {
            if (r.ValueKind == JsonValueKind.String) rejected.Add(r.GetString()!);
            else if (r.ValueKind == JsonValueKind.Array)
                foreach (var x in r.EnumerateArray())
                    rejected.Add(x.ValueKind == JsonValueKind.String ? x.GetString()!
                        : throw new DataFormatException(file, line, "rejected", $"list entries must be strings, got {x.ValueKind}"));
            else throw new DataFormatException(file, line, "rejected", $"expected a string or a list of strings, got {r.ValueKind}");
        }
        else
            for (int k = 1; obj.TryGetProperty("rejected" + k, out var rk); k++) // S-DPO's columns
                rejected.Add(rk.ValueKind == JsonValueKind.String ? rk.GetString()!
                    : throw new DataFormatException(file, line, "rejected" + k, $"expected a string, got {rk.ValueKind}"));
        if (rejected.Count == 0) throw new DataFormatException(file, line, "rejected", "missing (or an empty list)");
        // A pair whose two sides are equal has a constant loss and no gradient: a data bug, not a preference.
        if (rejected.Contains(chosen, StringComparer.Ordinal))
            throw new DataFormatException(file, line, "rejected", "equals the chosen response (a preference needs two different responses)");
        first ??= (rejected.Count, line);
        if (sameRejectedCount && rejected.Count != first.Value.K)
            throw new DataFormatException(file, line, "rejected",
                $"{rejected.Count} rejected responses, but line {first.Value.Line} has {first.Value.K}; every example needs the same number");
        return new PreferenceExample(prompt, chosen, rejected);
    });
    }

    public static List<PromptExample> ReadSft(string path) => ReadLines(path, (obj, file, line) =>
        new PromptExample(RequireString(obj, "prompt", file, line), RequireString(obj, "completion", file, line)));

    private static void WriteLines<T>(Stream stream, IEnumerable<T> items, Action<Utf8JsonWriter, T> body)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(1024);
        using var json = new Utf8JsonWriter(buffer, WriterOptions);
        foreach (var item in items)
        {
            json.Reset();
            buffer.ResetWrittenCount();
            json.WriteStartObject();
            body(json, item);
            json.WriteEndObject();
            json.Flush();
            stream.Write(buffer.WrittenSpan);
            stream.WriteByte((byte)'\n');
        }
    }

    private static List<T> ReadLines<T>(string path, Func<JsonElement, string, long, T> parse)
    {
        var file = Path.GetFullPath(path);
        using var reader = new RecAlign.Data.Loaders.LineReader(path, RecAlign.Data.Loaders.TextEncodingMode.Utf8);
        var result = new List<T>();
        while (reader.Next())
        {
            var lineNo = reader.LineNumber;
            var line = reader.Text; // strict UTF-8: an invalid byte is an error at its line, never U+FFFD
            if (string.IsNullOrWhiteSpace(line)) continue;
            JsonDocument doc;
            try { doc = JsonDocument.Parse(line); }
            catch (JsonException e) { throw new DataFormatException(file, lineNo, null, $"malformed JSON: {JsonErrors.Reason(e)}", e); }
            using (doc)
            {
                if (doc.RootElement.ValueKind != JsonValueKind.Object)
                    throw new DataFormatException(file, lineNo, null, $"expected an object per line, got {doc.RootElement.ValueKind}");
                result.Add(parse(doc.RootElement, file, lineNo));
            }
        }
        if (result.Count == 0) throw new DataFormatException(file, 0, null, "holds no examples (an empty file?)");
        return result;
    }

    private static string RequireString(JsonElement obj, string name, string file, long line)
    {
        if (!obj.TryGetProperty(name, out var v)) throw new DataFormatException(file, line, name, "missing");
        if (v.ValueKind == JsonValueKind.Array)
            throw new DataFormatException(file, line, name, "conversational (message list) TRL data is not supported; use plain strings");
        return v.ValueKind == JsonValueKind.String ? v.GetString()! : throw new DataFormatException(file, line, name, $"expected a string, got {v.ValueKind}");
    }
}
