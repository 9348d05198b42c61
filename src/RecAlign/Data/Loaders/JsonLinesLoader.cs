using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace RecAlign.Data.Loaders;

/// <summary>How one JSON-lines source names its fields. Each name list gives alternatives, first match wins.</summary>
public sealed record JsonLinesSpec(
    string Format,
    string[] User,
    string[] Item,
    string[] Rating,
    string[] Time,
    string[] MetaKeywords,
    string[] MetaItem,
    string[] MetaTitle,
    string[] MetaGenres,
    string[] MetaYear)
{
    /// <summary>A field holding an array of per-item reviews (Steam australian_user_reviews); null when flat.</summary>
    public string? Nested { get; init; }
    /// <summary>Rows whose rating field is absent are an error unless this is true (rating NaN).</summary>
    public bool RatingOptional { get; init; }
    /// <summary>Comma-separated genre strings (Yelp's "Pizza, Restaurants").</summary>
    public bool GenresCommaSeparated { get; init; }
}

/// <summary>JSON-lines review dumps: one object per line (plain JSON or Python <c>str(dict)</c> literals, as in the
/// UCSD Steam and Amazon-2014 dumps; <c>.gz</c> read on the fly), plus an optional item metadata file in the same
/// folder recognised by name (<see cref="JsonLinesSpec.MetaKeywords"/>). Times become Unix seconds (UTC).</summary>
public static class JsonLinesLoader
{
    /// <summary>Amazon reviews (reviewerID, asin, overall, unixReviewTime) + <c>meta_*.json</c> (asin, title).</summary>
    public static readonly JsonLinesSpec Amazon = new("amazon", ["reviewerID"], ["asin"], ["overall"],
        ["unixReviewTime", "reviewTime"], ["meta"], ["asin"], ["title"], ["category", "categories"], []);

    /// <summary>Goodreads interactions/reviews (user_id, book_id, rating, date_added) + books (book_id, title).</summary>
    public static readonly JsonLinesSpec Goodreads = new("goodreads", ["user_id"], ["book_id"], ["rating"],
        ["date_added", "date_updated"], ["book"], ["book_id"], ["title", "title_without_series"], [], ["publication_year"]);

    /// <summary>Steam reviews: flat steam_reviews (username/user_id, product_id, date) or nested
    /// australian_user_reviews (user_id, reviews[item_id, posted]) + games (id, title/app_name, genres).</summary>
    public static readonly JsonLinesSpec Steam = new("steam", ["username", "user_id"], ["item_id", "product_id"], [],
        ["date", "posted"], ["games", "meta"], ["id", "item_id"], ["title", "app_name"], ["genres"], ["release_date"])
    { Nested = "reviews", RatingOptional = true };

    /// <summary>Yelp review.json (user_id, business_id, stars, date) + business.json (business_id, name, categories).</summary>
    public static readonly JsonLinesSpec Yelp = new("yelp", ["user_id"], ["business_id"], ["stars"], ["date"],
        ["business"], ["business_id"], ["name"], ["categories"], [])
    { GenresCommaSeparated = true };

    public static LoadResult Load(string path, JsonLinesSpec spec, LoadOptions? options = null)
    {
        var o = options ?? LoadOptions.Default;
        var (inter, meta) = FindFiles(path, spec);
        var report = new LoadReport(o.MaxReportedReasons);
        var b = new DatasetBuilder();
        if (meta is not null) ReadMeta(meta, spec, b, o, report);
        long dropped = 0;
        using (var r = new LineReader(inter, TextEncodingMode.Utf8))
        {
            Rows.ForEach(r, o, report, row =>
            {
                var obj = ParseObject(row);
                if (spec.Nested is not null && obj[spec.Nested] is JsonArray arr && Find(obj, spec.Item) is null)
                {
                    var user = Str(obj, spec.User, row, required: true)!;
                    // check every entry first, so that a bad entry skips the whole line, not half of it
                    var entries = new List<JsonObject>();
                    foreach (var e in arr)
                    {
                        if (e is not JsonObject eo) throw Fields.Bad(row, $"{spec.Nested}[{entries.Count}]", "not an object");
                        Parse(row, spec, eo, $"{spec.Nested}[{entries.Count}].", o.YearForYearlessDates);
                        entries.Add(eo);
                    }
                    for (int k = 0; k < entries.Count; k++)
                        AddOne(b, row, spec, o, user, entries[k], meta is not null, ref dropped, $"{spec.Nested}[{k}].");
                    return;
                }
                AddOne(b, row, spec, o, Str(obj, spec.User, row, required: true)!, obj, meta is not null, ref dropped, "");
            });
        }
        report.Drop(dropped, $"{spec.Format} rows naming items missing from the metadata file");
        string name = o.Name ?? (Directory.Exists(path) ? Rows.DefaultName(path) : spec.Format);
        return new LoadResult(b.Build(name, inter, report), report);
    }

    private static void AddOne(DatasetBuilder b, LineReader r, JsonLinesSpec spec, LoadOptions o, string user, JsonObject obj,
        bool haveMeta, ref long dropped, string prefix)
    {
        var (item, ts, rating) = Parse(r, spec, obj, prefix, o.YearForYearlessDates);
        int id = b.ResolveItem(Fields.Id(item, r, prefix + spec.Item[0]), o.UnknownItems, haveMeta, r, prefix + spec.Item[0], ref dropped);
        if (id < 0) return;
        b.Add(b.User(Fields.Id(user, r, spec.User[0])), id, ts, rating);
    }

    private static (string Item, long Time, float Rating) Parse(LineReader r, JsonLinesSpec spec, JsonObject obj, string prefix, int? yearless)
    {
        var item = Str(obj, spec.Item, r, required: true, prefix)!;
        float rating = float.NaN;
        if (spec.Rating.Length > 0)
        {
            var (rk, rv) = Find(obj, spec.Rating) ?? (spec.RatingOptional ? (spec.Rating[0], null) : throw Missing(r, spec.Rating, prefix));
            if (rv is not null)
            {
                if (rv is not JsonValue v || !(v.TryGetValue(out double d) || (v.TryGetValue(out string? s) &&
                        double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out d))) || !double.IsFinite(d))
                    throw Fields.Bad(r, prefix + rk, $"not a number ({Fields.Clip(rv.ToJsonString())})");
                rating = (float)d;
            }
        }
        var (tk, tv) = Find(obj, spec.Time) ?? throw Missing(r, spec.Time, prefix);
        long ts = ParseTime(tv, r, prefix + tk, yearless);
        Fields.Id(item, r, prefix + spec.Item[0]);
        return (item, ts, rating);
    }

    private static void ReadMeta(string path, JsonLinesSpec spec, DatasetBuilder b, LoadOptions o, LoadReport report)
    {
        using var r = new LineReader(path, TextEncodingMode.Utf8);
        Rows.ForEach(r, o with { MaxRows = 0 }, report, row =>
        {
            var obj = ParseObject(row);
            var id = Fields.Id(Str(obj, spec.MetaItem, row, required: true)!, row, spec.MetaItem[0]).ToString();
            var title = Str(obj, spec.MetaTitle, row, required: false)?.Trim();
            if (string.IsNullOrEmpty(title)) title = id;
            var genres = Genres(Find(obj, spec.MetaGenres)?.Value, spec.GenresCommaSeparated);
            int? year = null;
            if (Find(obj, spec.MetaYear) is { Value: not null } y)
            {
                var ys = y.Value is JsonValue yv && yv.TryGetValue(out long yl) ? yl.ToString(CultureInfo.InvariantCulture) : y.Value.ToString();
                if (ys.Length >= 4 && int.TryParse(ys.AsSpan(0, 4), NumberStyles.None, CultureInfo.InvariantCulture, out int yi)) year = yi;
            }
            // metadata dumps repeat items now and then: first definition wins
            b.TryDefineItem(id, title, genres, year);
        }, countRows: false);
    }

    private static string[] Genres(JsonNode? node, bool commaSeparated)
    {
        var list = new List<string>();
        void Walk(JsonNode? n)
        {
            switch (n)
            {
                case JsonArray a: foreach (var e in a) Walk(e); break;
                case JsonValue v when v.TryGetValue(out string? s):
                    if (commaSeparated) list.AddRange(s.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries));
                    else if (s.Trim().Length > 0) list.Add(s.Trim());
                    break;
            }
        }
        Walk(node);
        return list.Distinct(StringComparer.Ordinal).ToArray();
    }

    private static JsonObject ParseObject(LineReader r)
    {
        var line = r.Chars.Trim();
        JsonNode? node;
        try
        {
            node = line.Length > 1 && line[0] == '{' && line[1..].TrimStart().StartsWith("'")
                ? PythonLiteral.Parse(line)
                : JsonNode.Parse(r.Bytes);
        }
        catch (Exception e) when (e is JsonException or FormatException)
        {
            throw Fields.Bad(r, null, $"not a JSON object: {(e is JsonException j ? RecAlign.IO.JsonErrors.Reason(j) : e.Message)}");
        }
        return node as JsonObject ?? throw Fields.Bad(r, null, $"expected a JSON object, found {node?.GetValueKind().ToString() ?? "null"}");
    }

    private static (string Key, JsonNode? Value)? Find(JsonObject obj, string[] names)
    {
        foreach (var n in names)
            if (obj.TryGetPropertyValue(n, out var v)) return (n, v);
        return null;
    }

    private static DataFormatException Missing(LineReader r, string[] names, string prefix) =>
        Fields.Bad(r, prefix + names[0], names.Length == 1 ? "missing field" : $"missing field (also looked for {string.Join(", ", names[1..])})");

    private static string? Str(JsonObject obj, string[] names, LineReader r, bool required, string prefix = "")
    {
        var f = Find(obj, names);
        if (f is null || f.Value.Value is null)
            return required ? throw Missing(r, names, prefix) : null;
        var (k, v) = f.Value;
        if (v is JsonValue jv)
        {
            if (jv.TryGetValue(out string? s)) return s;
            if (jv.TryGetValue(out long l)) return l.ToString(CultureInfo.InvariantCulture);
        }
        throw Fields.Bad(r, prefix + k, $"expected a string or integer, found {Fields.Clip(v.ToJsonString())}");
    }

    private static readonly string[] DateFormats =
    [
        "yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd'T'HH:mm:ssK", "yyyy-MM-dd",
        "ddd MMM dd HH:mm:ss zzz yyyy", // Goodreads: "Sun Jul 30 07:44:10 -0700 2017"
        "MM dd, yyyy",                  // Amazon reviewTime: "09 13, 2009"
        "MMMM d, yyyy",                 // Steam posted: "November 5, 2011"
    ];

    /// <summary>A time field: a Unix-seconds number (or digit string) or a date in one of the dump formats (UTC).</summary>
    internal static long ParseTime(JsonNode? v, LineReader r, string field, int? yearless = null)
    {
        if (v is JsonValue jv)
        {
            if (jv.TryGetValue(out long l)) return Fields.CheckTime(l, r, field);
            if (jv.TryGetValue(out double d))
                return double.IsFinite(d) && Math.Abs(d) <= Fields.MaxTimestamp ? (long)Math.Floor(d)
                    : throw Fields.Bad(r, field, $"timestamp {d.ToString(CultureInfo.InvariantCulture)} is out of range (beyond the year 9999, even in milliseconds)");
            if (jv.TryGetValue(out string? s))
            {
                var t = s.Trim();
                if (t.StartsWith("Posted ", StringComparison.Ordinal)) t = t[7..].TrimEnd('.');
                if (long.TryParse(t, NumberStyles.Integer, CultureInfo.InvariantCulture, out l)) return Fields.CheckTime(l, r, field);
                if (DateTimeOffset.TryParseExact(t, DateFormats, CultureInfo.InvariantCulture,
                        DateTimeStyles.AssumeUniversal | DateTimeStyles.AllowWhiteSpaces, out var dto))
                    return dto.ToUnixTimeSeconds();
                if (DateTime.TryParseExact(t, "MMMM d", CultureInfo.InvariantCulture, DateTimeStyles.AllowWhiteSpaces, out var noYear))
                {
                    if (yearless is int y)
                        return new DateTimeOffset(y, noYear.Month, noYear.Day, 0, 0, 0, TimeSpan.Zero).ToUnixTimeSeconds();
                    throw Fields.Bad(r, field, $"date without a year ('{Fields.Clip(s)}'); set YearForYearlessDates to the crawl year");
                }
                throw Fields.Bad(r, field, $"not a date or Unix time ('{Fields.Clip(s)}')");
            }
        }
        throw Fields.Bad(r, field, $"not a date or Unix time ({(v is null ? "null" : Fields.Clip(v.ToJsonString()))})");
    }

    private static (string Interactions, string? Meta) FindFiles(string path, JsonLinesSpec spec)
    {
        if (File.Exists(path)) return (path, null);
        if (!Directory.Exists(path)) throw new DataFormatException(path, 0, null, "file or folder not found");
        var files = Directory.EnumerateFiles(path)
            .Where(f => f.EndsWith(".json", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase)
                || f.EndsWith(".json.gz", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".jsonl.gz", StringComparison.OrdinalIgnoreCase))
            .Order(StringComparer.Ordinal).ToList();
        bool IsMeta(string f) => spec.MetaKeywords.Any(k => Path.GetFileName(f).Contains(k, StringComparison.OrdinalIgnoreCase));
        var meta = files.Where(IsMeta).ToList();
        var inter = files.Where(f => !IsMeta(f)).ToList();
        if (inter.Count != 1)
            throw new DataFormatException(path, 0, null, inter.Count == 0
                ? $"no {spec.Format} interaction file (*.json, *.jsonl, optionally .gz) in the folder"
                : $"several candidate {spec.Format} interaction files ({string.Join(", ", inter.Select(Path.GetFileName))}); pass the file itself");
        if (meta.Count > 1)
            throw new DataFormatException(path, 0, null, $"several {spec.Format} metadata files ({string.Join(", ", meta.Select(Path.GetFileName))})");
        return (inter[0], meta.FirstOrDefault());
    }
}
