using System.Globalization;

namespace RecAlign.Data.Loaders;

/// <summary>Accumulates users, items and interactions from a streamed source and assigns dense ids in first-seen order
/// (items from an item file first, in file order). Lookups by span avoid a string per row.</summary>
internal sealed class DatasetBuilder
{
    private readonly Dictionary<string, int> _users = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _userLookup;
    private readonly List<string> _userIds = [];
    private readonly Dictionary<string, int> _items = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _itemLookup;
    private readonly List<Item> _itemList = [];
    private Interaction[] _interactions = new Interaction[1024];
    private int _count;

    public DatasetBuilder()
    {
        _userLookup = _users.GetAlternateLookup<ReadOnlySpan<char>>();
        _itemLookup = _items.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    public int InteractionCount => _count;
    public int ItemCount => _itemList.Count;

    private string _lastUser = "";
    private int _lastUserId = -1;

    public int User(ReadOnlySpan<char> externalId)
    {
        // sources list a user's rows together, so the previous row's user is the likeliest hit
        if (_lastUserId >= 0 && externalId.SequenceEqual(_lastUser)) return _lastUserId;
        if (!_userLookup.TryGetValue(externalId, out int id))
        {
            var s = externalId.ToString();
            id = _userIds.Count;
            _users.Add(s, id);
            _userIds.Add(s);
        }
        _lastUser = _userIds[id];
        _lastUserId = id;
        return id;
    }

    public bool TryGetItem(ReadOnlySpan<char> externalId, out int id) => _itemLookup.TryGetValue(externalId, out id);

    /// <summary>Adds (or returns) an item; a placeholder title is the external id.</summary>
    public int Item(ReadOnlySpan<char> externalId)
    {
        if (_itemLookup.TryGetValue(externalId, out int id)) return id;
        var s = externalId.ToString();
        return AddItem(new Item(_itemList.Count, s, s));
    }

    /// <summary>Registers an item from an item file; false when its external id was already registered.</summary>
    public bool TryDefineItem(string externalId, string title, IReadOnlyList<string>? genres = null, int? year = null)
    {
        if (_items.ContainsKey(externalId)) return false;
        AddItem(new Item(_itemList.Count, externalId, title) { Genres = genres ?? [], Year = year });
        return true;
    }

    private int AddItem(Item item)
    {
        _items.Add(item.ExternalId, item.Id);
        _itemList.Add(item);
        return item.Id;
    }

    public void Add(int user, int item, long timestamp, float rating = float.NaN)
    {
        if (_count == _interactions.Length) Array.Resize(ref _interactions, _interactions.Length * 2);
        _interactions[_count++] = new Interaction(user, item, timestamp, rating);
    }

    /// <summary>Resolves an item of an interaction row under <paramref name="policy"/>; -1 means drop the row.</summary>
    public int ResolveItem(ReadOnlySpan<char> externalId, UnknownItemPolicy policy, bool haveItemFile, LineReader r, string field,
        ref long dropped)
    {
        if (TryGetItem(externalId, out int id)) return id;
        if (!haveItemFile || policy == UnknownItemPolicy.Add) return Item(externalId);
        if (policy == UnknownItemPolicy.Skip) { dropped++; return -1; }
        throw new DataFormatException(r.File, r.LineNumber, field, $"unknown item id '{externalId}' (not in the item file)");
    }

    /// <param name="source">the interaction file, named in the error when it yielded no interaction.</param>
    public InteractionDataset Build(string name, string source, LoadReport report)
    {
        if (_count == 0)
            throw new DataFormatException(source, 0, null, report.RowsSkipped > 0
                ? $"no interactions left: all {report.RowsSkipped} rows were skipped as malformed (first: {report.FirstSkipReasons.FirstOrDefault()})"
                : "no interactions were read (an empty file?)");
        Array.Resize(ref _interactions, _count);
        return new InteractionDataset(name, new ItemCatalog(_itemList), _userIds.ToArray(), _interactions);
    }
}

/// <summary>Field parsers that throw <see cref="DataFormatException"/> naming file, line and field.</summary>
internal static class Fields
{
    public static int Int(ReadOnlySpan<char> s, LineReader r, string field)
    {
        if (int.TryParse(s.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out int v)) return v;
        throw Bad(r, field, $"not an integer ('{Clip(s)}')");
    }

    public static long Long(ReadOnlySpan<char> s, LineReader r, string field)
    {
        if (long.TryParse(s.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out long v)) return v;
        throw Bad(r, field, $"not an integer ('{Clip(s)}')");
    }

    /// <summary>A Unix timestamp in seconds; accepts integers and decimals (RecBole writes <c>978300760.0</c>).</summary>
    public static long Timestamp(ReadOnlySpan<char> s, LineReader r, string field)
    {
        var t = s.Trim();
        if (long.TryParse(t, NumberStyles.Integer, CultureInfo.InvariantCulture, out long v)) return CheckTime(v, r, field);
        if (!double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) || double.IsNaN(d))
            throw Bad(r, field, $"not a timestamp ('{Clip(s)}')");
        return Math.Abs(d) <= MaxTimestamp ? (long)Math.Floor(d)
            : throw Bad(r, field, $"timestamp {Clip(s)} is out of range (beyond the year 9999, even in milliseconds)");
    }

    /// <summary>The largest timestamp magnitude taken: the end of year 9999 in milliseconds (some dumps use them).
    /// Beyond it a number is corrupt, and casting it would saturate silently.</summary>
    public const long MaxTimestamp = 253_402_300_799_999;

    public static long CheckTime(long t, LineReader r, string field) =>
        Math.Abs((double)t) <= MaxTimestamp ? t : throw Bad(r, field, $"timestamp {t} is out of range (beyond the year 9999, even in milliseconds)");

    public static float Float(ReadOnlySpan<char> s, LineReader r, string field)
    {
        if (float.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out float v) && float.IsFinite(v)) return v;
        throw Bad(r, field, $"not a finite number ('{Clip(s)}')");
    }

    public static ReadOnlySpan<char> Id(ReadOnlySpan<char> s, LineReader r, string field)
    {
        var t = s.Trim();
        if (t.IsEmpty) throw Bad(r, field, "empty id");
        return t;
    }

    public static DataFormatException Bad(LineReader r, string? field, string message) =>
        new(r.File, r.LineNumber, field, message);

    public static string Clip(ReadOnlySpan<char> s) => s.Length <= 40 ? s.ToString() : s[..40].ToString() + "...";

    /// <summary>Splits <paramref name="line"/> on <paramref name="sep"/> into exactly <paramref name="expected"/>
    /// fields (at least, when <paramref name="allowMore"/>), else a column-count error.</summary>
    public static int Split(ReadOnlySpan<char> line, ReadOnlySpan<char> sep, Span<Range> ranges, int expected, LineReader r,
        bool allowMore = false)
    {
        int n = line.Split(ranges, sep);
        if (n == ranges.Length && ranges.Length > expected)
        {
            // the last range holds the unsplit remainder: count exactly for the message
            n = ranges.Length - 1 + line[ranges[^1]].Count(sep) + 1;
        }
        if (n < expected || (!allowMore && n > expected))
            throw Bad(r, null, $"expected {expected} fields separated by '{Escape(sep)}', found {n}");
        return n;
    }

    private static string Escape(ReadOnlySpan<char> sep) => sep.ToString().Replace("\t", "\\t");

    /// <summary>Parses "Title (1995)" into ("Title (1995)", 1995); the title keeps the year like MovieLens does.</summary>
    public static int? YearInTitle(string title)
    {
        var t = title.AsSpan().TrimEnd();
        if (t.Length >= 6 && t[^1] == ')' && t[^6] == '(' &&
            int.TryParse(t[^5..^1], NumberStyles.None, CultureInfo.InvariantCulture, out int y) && y is >= 1800 and <= 2100)
            return y;
        return null;
    }
}
