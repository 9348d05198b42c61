using System.Globalization;

namespace RecAlign.Data.Loaders;

/// <summary>RecBole atomic files: <c>NAME.inter</c> (+ optional <c>NAME.item</c>, <c>NAME.user</c>), tab-separated,
/// with typed headers <c>name:type</c> (token, token_seq, float, float_seq). The interaction file needs
/// <c>user_id</c> and <c>item_id</c>; <c>timestamp</c> and <c>rating</c> are optional (no timestamp: the row order is
/// the time). The item file gives the title (<c>movie_title</c>, <c>title</c>, <c>name</c>...; token_seq words are
/// joined by spaces), genres (<c>genre</c>/<c>genres</c>/<c>categories</c>, a token_seq) and year.</summary>
public static class RecBoleLoader
{
    private static readonly string[] TitleFields = ["movie_title", "title", "name", "item_name", "artist_name", "app_name", "book_title"];
    private static readonly string[] GenreFields = ["genre", "genres", "categories", "class"];
    private static readonly string[] YearFields = ["release_year", "year"];
    private static readonly string[] Types = ["token", "token_seq", "float", "float_seq"];

    public static LoadResult Load(string path, LoadOptions? options = null)
    {
        var o = options ?? LoadOptions.Default;
        string inter;
        if (File.Exists(path)) inter = path;
        else if (Directory.Exists(path))
        {
            var found = Directory.GetFiles(path, "*.inter");
            if (found.Length != 1)
                throw new DataFormatException(path, 0, null, found.Length == 0 ? "no .inter file in the folder"
                    : $"several .inter files ({string.Join(", ", found.Select(Path.GetFileName))}); pass one of them");
            inter = found[0];
        }
        else throw new DataFormatException(path, 0, null, "file or folder not found");
        string stem = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(inter))!, Path.GetFileNameWithoutExtension(inter));
        var report = new LoadReport(o.MaxReportedReasons);
        var b = new DatasetBuilder();
        var noCount = o with { MaxRows = 0 };
        bool haveItems = File.Exists(stem + ".item");
        if (haveItems) ReadItems(stem + ".item", b, noCount, report);
        if (File.Exists(stem + ".user"))
        {
            using var r = new LineReader(stem + ".user", TextEncodingMode.Utf8);
            int[] col = [];
            int width = 0;
            Rows.ForEach(r, noCount, report, row =>
            {
                var f = SplitRow(row, width);
                b.User(Fields.Id(f[col[0]], row, "user_id"));
            }, header: true, onHeader: h => { var hd = Header(h); width = hd.Count; col = Columns(hd, h, ["user_id"], []); }, countRows: false);
        }
        long dropped = 0, order = 0;
        using (var r = new LineReader(inter, TextEncodingMode.Utf8))
        {
            int[] col = [];
            int width = 0;
            Rows.ForEach(r, o, report, row =>
            {
                var f = SplitRow(row, width);
                var u = Fields.Id(f[col[0]], row, "user_id");
                var i = Fields.Id(f[col[1]], row, "item_id");
                float rating = col[2] >= 0 ? Fields.Float(f[col[2]], row, "rating") : float.NaN;
                long ts = col[3] >= 0 ? Fields.Timestamp(f[col[3]], row, "timestamp") : order;
                order++;
                int item = b.ResolveItem(i, o.UnknownItems, haveItems, row, "item_id", ref dropped);
                if (item < 0) return;
                b.Add(b.User(u), item, ts, rating);
            }, header: true, onHeader: h =>
            {
                var hd = Header(h);
                width = hd.Count;
                col = Columns(hd, h, ["user_id", "item_id"], ["rating", "timestamp"]);
            });
        }
        report.Drop(dropped, "interactions with items missing from the .item file");
        return new LoadResult(b.Build(o.Name ?? Path.GetFileName(stem), inter, report), report);
    }

    private static void ReadItems(string path, DatasetBuilder b, LoadOptions o, LoadReport report)
    {
        using var r = new LineReader(path, TextEncodingMode.Utf8);
        int[] col = [];
        int width = 0;
        Rows.ForEach(r, o, report, row =>
        {
            var f = SplitRow(row, width);
            var id = Fields.Id(f[col[0]], row, "item_id").ToString();
            string title = col[1] >= 0 ? f[col[1]].Trim() : id;
            if (title.Length == 0) title = id;
            string[] genres = col[2] >= 0 ? f[col[2]].Split(' ', StringSplitOptions.RemoveEmptyEntries) : [];
            int? year = null;
            if (col[3] >= 0 && f[col[3]].Trim().Length > 0)
            {
                var y = f[col[3]].Trim();
                if (!double.TryParse(y, NumberStyles.Float, CultureInfo.InvariantCulture, out double yd) || yd != Math.Floor(yd))
                    throw Fields.Bad(row, "year", $"not a year ('{Fields.Clip(y)}')");
                year = (int)yd;
            }
            if (!b.TryDefineItem(id, title, genres, year)) throw Fields.Bad(row, "item_id", $"duplicate item id '{id}'");
        }, header: true, onHeader: h =>
        {
            var hd = Header(h);
            width = hd.Count;
            var names = hd.Select(x => x.Name).ToList();
            col = Columns(hd, h, ["item_id"], []);
            col = [col[0], names.FindIndex(TitleFields.Contains), names.FindIndex(GenreFields.Contains), names.FindIndex(YearFields.Contains)];
        }, countRows: false);
    }

    private static List<(string Name, string Type)> Header(LineReader h)
    {
        var result = new List<(string, string)>();
        int k = 0;
        foreach (var part in h.Text.Split('\t'))
        {
            k++;
            int colon = part.LastIndexOf(':');
            if (colon <= 0) throw new DataFormatException(h.File, h.LineNumber, part, $"header column {k} must look like name:type");
            var type = part[(colon + 1)..].Trim();
            if (!Types.Contains(type))
                throw new DataFormatException(h.File, h.LineNumber, part[..colon], $"unknown RecBole type '{type}' (known: {string.Join(", ", Types)})");
            result.Add((part[..colon].Trim(), type));
        }
        return result;
    }

    private static int[] Columns(List<(string Name, string Type)> header, LineReader h, string[] required, string[] optional)
    {
        var cols = new int[required.Length + optional.Length];
        for (int k = 0; k < cols.Length; k++)
        {
            string name = k < required.Length ? required[k] : optional[k - required.Length];
            cols[k] = header.FindIndex(c => c.Name == name);
            if (cols[k] < 0 && k < required.Length)
                throw new DataFormatException(h.File, h.LineNumber, name,
                    $"missing column in header (found: {string.Join(", ", header.Select(c => c.Name + ":" + c.Type))})");
        }
        return cols;
    }

    private static string[] SplitRow(LineReader r, int width)
    {
        var f = r.Text.Split('\t');
        if (f.Length != width) throw Fields.Bad(r, null, $"expected {width} tab-separated fields (as in the header), found {f.Length}");
        return f;
    }
}
