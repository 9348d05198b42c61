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

/// <summary>MovieLens, the layout detected from the files present: ml-1m / ml-10m <c>ratings.dat</c>
/// (<c>user::movie::rating::timestamp</c>) + <c>movies.dat</c> (<c>movie::title (year)::Genre|Genre</c>, Latin-1);
/// ml-latest / ml-25m <c>ratings.csv</c> + <c>movies.csv</c> (headers, quoted titles); or ml-100k <c>u.data</c>
/// (tab-separated <c>user item rating timestamp</c>) + <c>u.item</c> (<c>movie id|title|release date|video release
/// date|IMDb URL|</c> 19 genre flags, Latin-1). Ratings are explicit (0.5-5); timestamps are Unix seconds.</summary>
public static class MovieLensLoader
{
    private enum Layout { Dat, Csv, Ml100k }

    /// <summary>Field names in error messages, per layout (ml-100k uses its README's names).</summary>
    private static readonly string[] DatFields = ["userId", "movieId", "rating", "timestamp"];
    private static readonly string[] Ml100kFields = ["user id", "item id", "rating", "timestamp"];

    /// <summary>The 19 genre flags of ml-100k <c>u.item</c>, in column order (<c>u.genre</c>).</summary>
    internal static readonly string[] Ml100kGenres =
    [
        "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama", "Fantasy",
        "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western",
    ];

    /// <summary>Loads from a folder holding <c>ratings.dat</c>, <c>ratings.csv</c> or <c>u.data</c> (looked for in that
    /// order), or from the ratings file itself (<c>.csv</c>: ml-latest; <c>.dat</c>: ml-1m; any other name, such as
    /// <c>u.data</c> or <c>u1.base</c>: ml-100k). The movie file of the same layout beside it is optional.</summary>
    public static LoadResult Load(string path, LoadOptions? options = null)
    {
        var o = options ?? LoadOptions.Default;
        string dir = Directory.Exists(path) ? path : Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".";
        string ratings = Directory.Exists(path) ? Rows.Require(dir, "ratings.dat", "ratings.csv", "u.data") : path;
        if (!File.Exists(ratings)) throw new DataFormatException(ratings, 0, null, "file not found");
        var layout = ratings.EndsWith(".csv", StringComparison.OrdinalIgnoreCase) ? Layout.Csv
            : ratings.EndsWith(".dat", StringComparison.OrdinalIgnoreCase) ? Layout.Dat
            : Layout.Ml100k;
        string? movies = Rows.Optional(dir, layout switch { Layout.Csv => "movies.csv", Layout.Dat => "movies.dat", _ => "u.item" });
        var report = new LoadReport(o.MaxReportedReasons);
        var b = new DatasetBuilder();
        if (movies is not null)
        {
            switch (layout)
            {
                case Layout.Csv: ReadMoviesCsv(movies, b, o, report); break;
                case Layout.Dat: ReadMoviesDat(movies, b, o, report); break;
                default: ReadUItem(movies, b, o, report); break;
            }
        }
        long dropped = 0;
        bool haveItems = movies is not null;
        using (var r = new LineReader(ratings, TextEncodingMode.Utf8))
        {
            if (layout == Layout.Csv)
            {
                int[] col = [];
                var fields = new List<string>();
                Rows.ForEach(r, o, report, row =>
                {
                    var line = row.Chars;
                    Span<Range> rg = stackalloc Range[5];
                    Fields.Split(line, ",", rg, 4, row);
                    AddRating(b, row, line[rg[col[0]]], line[rg[col[1]]], line[rg[col[2]]], line[rg[col[3]]], DatFields, o, haveItems, ref dropped);
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
                var (sep, names) = layout == Layout.Dat ? ("::", DatFields) : ("\t", Ml100kFields);
                Rows.ForEach(r, o, report, row =>
                {
                    var line = row.Chars;
                    Span<Range> rg = stackalloc Range[5];
                    Fields.Split(line, sep, rg, 4, row);
                    AddRating(b, row, line[rg[0]], line[rg[1]], line[rg[2]], line[rg[3]], names, o, haveItems, ref dropped);
                });
            }
        }
        report.Drop(dropped, "ratings of movies missing from the movie file");
        return new LoadResult(b.Build(o.Name ?? Rows.DefaultName(dir), ratings, report), report);
    }

    private static void AddRating(DatasetBuilder b, LineReader r, ReadOnlySpan<char> user, ReadOnlySpan<char> movie,
        ReadOnlySpan<char> rating, ReadOnlySpan<char> ts, string[] names, LoadOptions o, bool haveItems, ref long dropped)
    {
        var uid = Fields.Id(user, r, names[0]);
        var mid = Fields.Id(movie, r, names[1]);
        float v = Fields.Float(rating, r, names[2]);
        long t = Fields.Long(ts, r, names[3]);
        int item = b.ResolveItem(mid, o.UnknownItems, haveItems, r, names[1], ref dropped);
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

    private static void ReadUItem(string path, DatasetBuilder b, LoadOptions o, LoadReport report)
    {
        // the release is ISO-8859-1; a line that is valid UTF-8 (a re-encoded copy) is read as UTF-8
        using var r = new LineReader(path, TextEncodingMode.Utf8OrLatin1);
        Rows.ForEach(r, o, report, row =>
        {
            var (movie, title, genres) = ParseUItemRow(row);
            if (title.Length == 0) throw Fields.Bad(row, "movie title", "empty title");
            var id = movie.ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (!b.TryDefineItem(id, title, genres, Fields.YearInTitle(title)))
                throw Fields.Bad(row, "movie id", $"duplicate movie id '{id}'");
        }, countRows: false);
    }

    /// <summary>One ml-100k <c>u.item</c> line: <c>movie id|movie title|release date|video release date|IMDb URL|</c>
    /// 19 genre flags (0/1, <see cref="Ml100kGenres"/> order). Movie ids start at 1; the title is trimmed.</summary>
    internal static (int Movie, string Title, string[] Genres) ParseUItemRow(LineReader r)
    {
        var line = r.Chars;
        Span<Range> rg = stackalloc Range[25];
        Fields.Split(line, "|", rg, 24, r);
        int movie = Fields.Int(line[rg[0]], r, "movie id");
        if (movie < 1) throw Fields.Bad(r, "movie id", $"ids start at 1 ({movie})");
        var title = line[rg[1]].Trim().ToString();
        var genres = new List<string>();
        for (int g = 0; g < Ml100kGenres.Length; g++)
        {
            var flag = line[rg[5 + g]].Trim();
            if (flag is "1") genres.Add(Ml100kGenres[g]);
            else if (flag is not "0") throw Fields.Bad(r, Ml100kGenres[g], $"genre flag must be 0 or 1 ('{Fields.Clip(flag)}')");
        }
        return (movie, title, genres.ToArray());
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
