namespace RecAlign.Data.Loaders;

/// <summary>Runs a per-row action over a file's non-blank lines, turning a <see cref="DataFormatException"/> into a
/// counted skip when <see cref="LoadOptions.SkipBadRows"/> is set.</summary>
internal static class Rows
{
    public static void ForEach(LineReader r, LoadOptions o, LoadReport report, Action<LineReader> row, bool header = false,
        Action<LineReader>? onHeader = null, bool countRows = true)
    {
        bool needHeader = header;
        long taken = 0;
        while (r.Next())
        {
            if (r.DecodeError is null && r.Chars.IsWhiteSpace()) continue;
            if (needHeader)
            {
                needHeader = false;
                onHeader?.Invoke(r);
                continue;
            }
            if (countRows)
            {
                if (o.MaxRows > 0 && taken >= o.MaxRows) break;
                taken++;
                report.RowsRead++;
            }
            try { row(r); }
            catch (DataFormatException e) when (o.SkipBadRows) { report.Skip(e); }
        }
        if (needHeader) throw new DataFormatException(r.File, 0, null, "file is empty (expected a header line)");
    }

    public static string DefaultName(string path) =>
        Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(path)));

    public static string Require(string dir, params string[] names)
    {
        foreach (var n in names)
        {
            var p = Path.Combine(dir, n);
            if (File.Exists(p)) return p;
        }
        throw new DataFormatException(Path.Combine(dir, names[0]), 0, null,
            $"file not found (looked for {string.Join(", ", names)} in {dir})");
    }

    public static string? Optional(string dir, params string[] names)
    {
        foreach (var n in names)
        {
            var p = Path.Combine(dir, n);
            if (File.Exists(p)) return p;
        }
        return null;
    }
}

/// <summary>MovieLens: ml-1m / ml-10m <c>ratings.dat</c> (<c>user::movie::rating::timestamp</c>) + <c>movies.dat</c>
/// (<c>movie::title (year)::Genre|Genre</c>, Latin-1), or ml-latest / ml-25m <c>ratings.csv</c> + <c>movies.csv</c>
/// (headers, quoted titles). Ratings are explicit (0.5-5); timestamps are Unix seconds.</summary>
public static class MovieLensLoader
{
    /// <summary>Loads from a folder holding <c>ratings.dat</c> or <c>ratings.csv</c> (or from the ratings file itself).</summary>
    public static LoadResult Load(string path, LoadOptions? options = null)
    {
        var o = options ?? LoadOptions.Default;
        string dir = Directory.Exists(path) ? path : Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".";
        string ratings = Directory.Exists(path) ? Rows.Require(dir, "ratings.dat", "ratings.csv") : path;
        if (!File.Exists(ratings)) throw new DataFormatException(ratings, 0, null, "file not found");
        bool csv = ratings.EndsWith(".csv", StringComparison.OrdinalIgnoreCase);
        string? movies = Rows.Optional(dir, csv ? "movies.csv" : "movies.dat");
        var report = new LoadReport(o.MaxReportedReasons);
        var b = new DatasetBuilder();
        if (movies is not null) (csv ? (Action<string, DatasetBuilder, LoadOptions, LoadReport>)ReadMoviesCsv : ReadMoviesDat)(movies, b, o, report);
        long dropped = 0;
        bool haveItems = movies is not null;
        using (var r = new LineReader(ratings, TextEncodingMode.Utf8))
        {
            if (csv)
            {
                int[] col = [];
                var fields = new List<string>();
                Rows.ForEach(r, o, report, row =>
                {
                    var line = row.Chars;
                    Span<Range> rg = stackalloc Range[5];
                    Fields.Split(line, ",", rg, 4, row);
                    AddRating(b, row, line[rg[col[0]]], line[rg[col[1]]], line[rg[col[2]]], line[rg[col[3]]], o, haveItems, ref dropped);
                }, header: true, onHeader: h =>
                {
                    Csv.ParseLine(h.Chars, fields, h);
                    col = Csv.HeaderIndex(fields, h, ["userId", "movieId", "rating", "timestamp"]);
                    if (fields.Count != 4)
                        throw new DataFormatException(h.File, h.LineNumber, null, $"expected header userId,movieId,rating,timestamp; found '{h.Text}'");
                });
            }
            else
            {
                Rows.ForEach(r, o, report, row =>
                {
                    var line = row.Chars;
                    Span<Range> rg = stackalloc Range[5];
                    Fields.Split(line, "::", rg, 4, row);
                    AddRating(b, row, line[rg[0]], line[rg[1]], line[rg[2]], line[rg[3]], o, haveItems, ref dropped);
                });
            }
        }
        report.Drop(dropped, "ratings of movies missing from the movie file");
        return new LoadResult(b.Build(o.Name ?? Rows.DefaultName(dir)), report);
    }

    private static void AddRating(DatasetBuilder b, LineReader r, ReadOnlySpan<char> user, ReadOnlySpan<char> movie,
        ReadOnlySpan<char> rating, ReadOnlySpan<char> ts, LoadOptions o, bool haveItems, ref long dropped)
    {
        var uid = Fields.Id(user, r, "userId");
        var mid = Fields.Id(movie, r, "movieId");
        float v = Fields.Float(rating, r, "rating");
        long t = Fields.Long(ts, r, "timestamp");
        int item = b.ResolveItem(mid, o.UnknownItems, haveItems, r, "movieId", ref dropped);
        if (item < 0) return;
        b.Add(b.User(uid), item, t, v);
    }

    private static void ReadMoviesDat(string path, DatasetBuilder b, LoadOptions o, LoadReport report)
    {
        using var r = new LineReader(path, TextEncodingMode.Utf8OrLatin1);
        Rows.ForEach(r, o, report, row =>
        {
            var line = row.Chars;
            Span<Range> rg = stackalloc Range[4];
            Fields.Split(line, "::", rg, 3, row);
            DefineMovie(b, row, line[rg[0]].ToString(), line[rg[1]].ToString(), line[rg[2]].ToString());
        }, countRows: false);
    }

    private static void ReadMoviesCsv(string path, DatasetBuilder b, LoadOptions o, LoadReport report)
    {
        using var r = new LineReader(path, TextEncodingMode.Utf8);
        var fields = new List<string>();
        int[] idx = [];
        Rows.ForEach(r, o, report, row =>
        {
            Csv.ParseLine(row.Chars, fields, row);
            if (fields.Count != 3) throw Fields.Bad(row, null, $"expected 3 comma-separated fields (movieId,title,genres), found {fields.Count}");
            DefineMovie(b, row, fields[idx[0]], fields[idx[1]], fields[idx[2]]);
        }, header: true, onHeader: h =>
        {
            Csv.ParseLine(h.Chars, fields, h);
            idx = Csv.HeaderIndex(fields, h, ["movieId", "title", "genres"]);
        }, countRows: false);
    }

    private static void DefineMovie(DatasetBuilder b, LineReader r, string id, string title, string genres)
    {
        id = Fields.Id(id, r, "movieId").ToString();
        if (!int.TryParse(id, out _)) throw Fields.Bad(r, "movieId", $"not an integer ('{Fields.Clip(id)}')");
        title = title.Trim();
        if (title.Length == 0) throw Fields.Bad(r, "title", "empty title");
        var g = genres.Trim() is "" or "(no genres listed)"
            ? []
            : genres.Split('|', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (!b.TryDefineItem(id, title, g, Fields.YearInTitle(title)))
            throw Fields.Bad(r, "movieId", $"duplicate movie id '{id}'");
    }
}
