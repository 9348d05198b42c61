using RecAlign.IO;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace RecAlign.Data.Formats;

/// <summary>What to do with a title that the supplied catalog does not know.</summary>
public enum UnknownTitlePolicy { Add, Error }

/// <summary>Options of <see cref="CandidatePromptJson.Read(string, ItemCatalog?, CandidatePromptReadOptions?)"/>.</summary>
public sealed record CandidatePromptReadOptions
{
    /// <summary>Titles missing from a supplied catalog are appended to it (<see cref="UnknownTitlePolicy.Add"/>) or
    /// rejected.</summary>
    public UnknownTitlePolicy UnknownTitles { get; init; } = UnknownTitlePolicy.Add;
    /// <summary>Reject lists that name one title twice (CausalDPO's ML files have a few); by default they are kept
    /// as they are, so files round-trip, and reported in <see cref="CandidatePromptFile.Warnings"/>.</summary>
    public bool RejectDuplicateCandidates { get; init; }
}

/// <summary>A read candidate-prompt file: the catalog its titles map into and one example per array element
/// (<see cref="CandidateExample.User"/> is the element index: the format has no users).</summary>
public sealed record CandidatePromptFile(ItemCatalog Catalog, List<CandidateExample> Examples, IReadOnlyList<string> Warnings);

/// <summary>How <see cref="CandidatePromptJson.Write(string, IEnumerable{CandidateExample}, ItemCatalog, CandidatePromptWriteOptions?)"/> lays out JSON.</summary>
public sealed record CandidatePromptWriteOptions
{
    /// <summary>Write <c>historyList</c> as a <c>::</c>-joined string (the published files) or as a JSON list.</summary>
    public bool HistoryAsList { get; init; }
    /// <summary>Escape non-ASCII as <c>\uXXXX</c> (Python's <c>json.dump</c> default; the published files).</summary>
    public bool EnsureAscii { get; init; } = true;
    /// <summary>Spaces per indent level (the published files use 4; 0 writes one line).</summary>
    public int Indent { get; init; } = 4;
}

/// <summary>
/// S-DPO / CausalDPO candidate-prompt files: a JSON array of
/// <c>{"historyList": "t1::t2", "itemList": [titles], "trueSelection": "title"}</c> (<c>historyList</c> may also be
/// a list), plain or <c>.gz</c>. Reading streams the array; writing reproduces the published layout byte for byte
/// (Python <c>json.dump(indent=4)</c>), so read → write round-trips.
/// </summary>
public static class CandidatePromptJson
{
    public const string HistorySeparator = "::";

    public static CandidatePromptFile Read(string path, ItemCatalog? catalog = null, CandidatePromptReadOptions? options = null)
    {
        using var stream = AtomicFile.OpenRead(path);
        return Read(stream, Path.GetFullPath(path), catalog, options);
    }

    public static CandidatePromptFile Read(Stream stream, string fileName, ItemCatalog? catalog = null, CandidatePromptReadOptions? options = null)
    {
        options ??= new();
        var items = catalog?.Items.ToList() ?? [];
        var byTitle = new Dictionary<string, int>(StringComparer.Ordinal);
        var externalIds = new HashSet<string>(items.Select(i => i.ExternalId), StringComparer.Ordinal);
        foreach (var item in items) byTitle.TryAdd(item.Title, item.Id);
        var examples = new List<CandidateExample>();
        var warnings = new List<string>();
        int index = 0;

        int IdOf(string title, string field, long line)
        {
            if (byTitle.TryGetValue(title, out var id)) return id;
            if (catalog is not null && options.UnknownTitles == UnknownTitlePolicy.Error)
                throw new DataFormatException(fileName, line, field, $"title '{ItemListFile.Clip(title)}' is not in the catalog");
            id = items.Count;
            // Built catalogs use the title as the external id; a clash with a supplied catalog's ids gets a prefix.
            var ext = externalIds.Contains(title) ? "title:" + title : title;
            externalIds.Add(ext);
            items.Add(new Item(id, ext, title));
            byTitle[title] = id;
            return id;
        }

        void Add(JsonElement element, long line)
        {
            string at = $"[{index}]";
            if (element.ValueKind != JsonValueKind.Object)
                throw new DataFormatException(fileName, line, at, $"expected an object, got {element.ValueKind}");
            var historyTitles = ReadHistory(element, fileName, line, at);
            var itemList = Require(element, "itemList", fileName, line, at);
            if (itemList.ValueKind != JsonValueKind.Array)
                throw new DataFormatException(fileName, line, at + ".itemList", $"expected a list of titles, got {itemList.ValueKind}");
            var truth = Require(element, "trueSelection", fileName, line, at);
            if (truth.ValueKind != JsonValueKind.String)
                throw new DataFormatException(fileName, line, at + ".trueSelection", $"expected a title string, got {truth.ValueKind}");
            string trueTitle = truth.GetString()!;
            var candidateTitles = new List<string>(itemList.GetArrayLength());
            int k = 0;
            foreach (var t in itemList.EnumerateArray())
            {
                if (t.ValueKind != JsonValueKind.String)
                    throw new DataFormatException(fileName, line, $"{at}.itemList[{k}]", $"expected a title string, got {t.ValueKind}");
                candidateTitles.Add(t.GetString()!);
                k++;
            }
            int hits = candidateTitles.Count(t => t == trueTitle);
            if (hits == 0)
                throw new DataFormatException(fileName, line, at + ".trueSelection",
                    $"element {index}: trueSelection '{ItemListFile.Clip(trueTitle)}' is not in itemList");
            if (candidateTitles.Distinct(StringComparer.Ordinal).Count() != candidateTitles.Count)
            {
                var dup = candidateTitles.GroupBy(t => t, StringComparer.Ordinal).First(g => g.Count() > 1).Key;
                var message = $"element {index}: itemList names '{ItemListFile.Clip(dup)}' more than once" + (hits > 1 ? " (the answer)" : "");
                if (options.RejectDuplicateCandidates) throw new DataFormatException(fileName, line, at + ".itemList", message);
                warnings.Add(message);
            }
            var history = historyTitles.Select(t => IdOf(t, at + ".historyList", line)).ToArray();
            var candidates = candidateTitles.Select(t => IdOf(t, at + ".itemList", line)).ToArray();
            examples.Add(new CandidateExample(index, history, IdOf(trueTitle, at + ".trueSelection", line), candidates));
        }

        foreach (var (element, line) in JsonArrayStream.Elements(stream, fileName))
        {
            // System.Text.Json checks a string's UTF-8 only when it is read, with an InvalidOperationException.
            try { Add(element, line); }
            catch (InvalidOperationException e) when (e.Message.Contains("UTF-8", StringComparison.Ordinal))
            {
                throw new DataFormatException(fileName, line, $"[{index}]", "invalid UTF-8 in a string (not UTF-8 text?)");
            }
            index++;
        }
        // Every use of a candidate file (training, validation, evaluation, rendering, auditing) needs examples; an empty
        // one would otherwise train on nothing or report HR@1 0 as if measured.
        if (examples.Count == 0) throw new DataFormatException(fileName, 0, null, "holds no candidate examples (an empty list)");
        return new CandidatePromptFile(catalog is not null && items.Count == catalog.Count ? catalog : new ItemCatalog(items), examples, warnings);
    }

    private static JsonElement Require(JsonElement obj, string name, string file, long line, string at) =>
        obj.TryGetProperty(name, out var v) ? v : throw new DataFormatException(file, line, $"{at}.{name}", "missing");

    private static List<string> ReadHistory(JsonElement element, string file, long line, string at)
    {
        var h = Require(element, "historyList", file, line, at);
        switch (h.ValueKind)
        {
            case JsonValueKind.String:
                var s = h.GetString()!;
                return s.Length == 0 ? [] : [.. s.Split(HistorySeparator)];
            case JsonValueKind.Array:
                var list = new List<string>(h.GetArrayLength());
                foreach (var t in h.EnumerateArray())
                {
                    if (t.ValueKind != JsonValueKind.String)
                        throw new DataFormatException(file, line, $"{at}.historyList[{list.Count}]", $"expected a title string, got {t.ValueKind}");
                    list.Add(t.GetString()!);
                }
                return list;
            default:
                throw new DataFormatException(file, line, at + ".historyList", $"expected a '::'-joined string or a list, got {h.ValueKind}");
        }
    }

    /// <summary>Writes <paramref name="examples"/> (titles from <paramref name="catalog"/>) atomically; <c>.gz</c>
    /// paths are compressed.</summary>
    public static void Write(string path, IEnumerable<CandidateExample> examples, ItemCatalog catalog, CandidatePromptWriteOptions? options = null)
        => AtomicFile.Write(path, s => Write(s, examples, catalog, options));

    public static void Write(Stream stream, IEnumerable<CandidateExample> examples, ItemCatalog catalog, CandidatePromptWriteOptions? options = null)
    {
        options ??= new();
        using var w = new StreamWriter(stream, new UTF8Encoding(false), 1 << 16, leaveOpen: true) { NewLine = "\n" };
        var json = new PythonJsonWriter(w, options.Indent, options.EnsureAscii);
        json.BeginArray();
        foreach (var e in examples)
        {
            int hits = e.Candidates.Count(c => c == e.Target);
            if (hits == 0) throw new ArgumentException($"example of user {e.User}: the target {e.Target} is not among its candidates");
            json.BeginObject();
            json.Key("historyList");
            if (options.HistoryAsList)
            {
                json.BeginArray();
                foreach (var h in e.History) json.String(catalog.Title(h));
                json.EndArray();
            }
            else
            {
                foreach (var h in e.History)
                    if (catalog.Title(h).Contains(HistorySeparator, StringComparison.Ordinal))
                        throw new ArgumentException($"title '{catalog.Title(h)}' contains '::'; write with history_as_list");
                json.String(string.Join(HistorySeparator, e.History.Select(catalog.Title)));
            }
            json.Key("itemList");
            json.BeginArray();
            foreach (var c in e.Candidates) json.String(catalog.Title(c));
            json.EndArray();
            json.Key("trueSelection");
            json.String(catalog.Title(e.Target));
            json.EndObject();
        }
        json.EndArray();
    }

    /// <summary>Writes JSON the way Python's <c>json.dump(obj, f, indent=n, ensure_ascii=...)</c> does (no trailing
    /// newline, <c>", "</c>/<c>": "</c> separators, lowercase <c>\u</c> escapes), so published files round-trip.</summary>
    private sealed class PythonJsonWriter(TextWriter w, int indent, bool ensureAscii)
    {
        private readonly Stack<(bool Array, int Count)> _stack = new();
        private bool _afterKey;

        public void BeginArray() { BeforeValue(); w.Write('['); _stack.Push((true, 0)); }
        public void EndArray() => Close(']');
        public void BeginObject() { BeforeValue(); w.Write('{'); _stack.Push((false, 0)); }
        public void EndObject() => Close('}');

        public void Key(string name)
        {
            BeforeValue();
            WriteString(name);
            w.Write(": ");
            _afterKey = true;
        }

        public void String(string value) { BeforeValue(); WriteString(value); }

        private void BeforeValue()
        {
            if (_afterKey) { _afterKey = false; return; }
            if (_stack.Count == 0) return;
            var (isArray, count) = _stack.Pop();
            if (count > 0) w.Write(indent > 0 ? "," : ", ");
            NewLine(_stack.Count + 1);
            _stack.Push((isArray, count + 1));
        }

        private void Close(char c)
        {
            var (_, count) = _stack.Pop();
            if (count > 0) NewLine(_stack.Count);
            w.Write(c);
        }

        private void NewLine(int depth)
        {
            if (indent <= 0) return;
            w.Write('\n');
            w.Write(new string(' ', indent * depth));
        }

        private void WriteString(string s)
        {
            w.Write('"');
            foreach (char ch in s)
            {
                switch (ch)
                {
                    case '"': w.Write("\\\""); break;
                    case '\\': w.Write("\\\\"); break;
                    case '\n': w.Write("\\n"); break;
                    case '\r': w.Write("\\r"); break;
                    case '\t': w.Write("\\t"); break;
                    case '\b': w.Write("\\b"); break;
                    case '\f': w.Write("\\f"); break;
                    default:
                        if (ch < 0x20 || (ensureAscii && ch > 0x7E))
                            w.Write("\\u" + ((int)ch).ToString("x4", CultureInfo.InvariantCulture));
                        else w.Write(ch);
                        break;
                }
            }
            w.Write('"');
        }
    }
}
