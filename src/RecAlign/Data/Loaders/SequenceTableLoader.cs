using System.Globalization;

namespace RecAlign.Data.Loaders;

/// <summary>A prefix table as loaded: one example per row (history = the real items of <c>seq</c>, target =
/// <c>next</c>), the catalog whose dense ids the table uses, and the padding id (= item count).
/// <see cref="SequenceExample.User"/> is a reconstructed user (see <see cref="SequenceTableLoader"/>) and
/// <see cref="SequenceExample.TargetTimestamp"/> the target's position in that user's sequence.</summary>
public sealed record SequenceTable(string File, ItemCatalog Catalog, int PaddingId, IReadOnlyList<SequenceExample> Examples,
    int UserCount, LoadReport Report);

/// <summary>The LLaRA / S-DPO / DreamRec sequence tables: CSV with columns <c>seq,len_seq,next</c> in any order
/// (read from the header); <c>seq</c> is a bracketed or space/comma-separated list of the last W item ids,
/// right-padded with the padding id (= item count); <c>len_seq</c> the number of real items (1 for the padding-only
/// first prefix, which these tables write that way). Items come from <c>id2name.txt</c> (<c>id::name</c>, dense ids),
/// MovieLens-100K <c>u.item</c> (table id = movie id - 1) or DreamRec's <c>data_statis.csv</c> (seq_size,item_num;
/// ids only).
/// <para>Rows carry no user id. Users are reconstructed: a row continues the previous row's user when its history is
/// the previous history plus the previous target (cut to the last W); a padding-only row starts a new user. This is
/// exact for tables written user by user (the S-DPO/DreamRec ones); a table holding one row per user (LLaRA's
/// validation files) yields one user per row.</para></summary>
public static class SequenceTableLoader
{
    /// <summary>Largest item count taken from <c>data_statis.csv</c> (which gives no titles, only the count).</summary>
    public const int MaxStatisItems = 10_000_000;

    /// <summary>The item list next to a table: id2name.txt, u.item or data_statis.csv; null when none is there.</summary>
    public static string? FindCatalog(string dir) => Rows.Optional(dir, "id2name.txt", "u.item", "data_statis.csv");

    /// <summary>The item list beside <paramref name="csvPath"/>; an error naming the table when there is none.</summary>
    public static string ItemListFor(string csvPath) =>
        FindCatalog(Path.GetDirectoryName(Path.GetFullPath(csvPath))!)
        ?? throw new DataFormatException(csvPath, 0, null, "no item list (id2name.txt, u.item or data_statis.csv) next to the table; pass one (--items FILE)");

    /// <summary>Reads an item list (format chosen by file name: <c>u.item</c>, <c>data_statis.csv</c>, else <c>id::name</c>).</summary>
    public static ItemCatalog LoadCatalog(string path)
    {
        var name = Path.GetFileName(path);
        if (name.Equals("u.item", StringComparison.OrdinalIgnoreCase)) return LoadUItem(path);
        if (name.Equals("data_statis.csv", StringComparison.OrdinalIgnoreCase)) return LoadStatis(path);
        return LoadIdToName(path);
    }

    private static ItemCatalog LoadIdToName(string path)
    {
        var titles = new Dictionary<int, string>();
        using var r = new LineReader(path, TextEncodingMode.Utf8);
        while (r.Next())
        {
            var line = r.Chars;
            if (line.IsWhiteSpace()) continue;
            int sep = line.IndexOf("::");
            if (sep < 0) throw Fields.Bad(r, null, "expected 'id::name'");
            int id = Fields.Int(line[..sep], r, "id");
            if (id < 0) throw Fields.Bad(r, "id", $"negative id ({id})");
            if (!titles.TryAdd(id, line[(sep + 2)..].ToString())) throw Fields.Bad(r, "id", $"duplicate id {id}");
        }
        return Dense(path, titles.Select(kv => (kv.Key, new Item(kv.Key, kv.Key.ToString(CultureInfo.InvariantCulture), kv.Value))));
    }

    private static ItemCatalog LoadUItem(string path)
    {
        var items = new List<(int, Item)>();
        using var r = new LineReader(path, TextEncodingMode.Utf8OrLatin1);
        while (r.Next())
        {
            if (r.Chars.IsWhiteSpace()) continue;
            var (movie, title, genres) = MovieLensLoader.ParseUItemRow(r);
            items.Add((movie - 1, new Item(movie - 1, movie.ToString(CultureInfo.InvariantCulture), title)
            { Genres = genres, Year = Fields.YearInTitle(title) }));
        }
        return Dense(path, items);
    }

    private static ItemCatalog LoadStatis(string path)
    {
        using var r = new LineReader(path, TextEncodingMode.Utf8);
        var fields = new List<string>();
        int[] idx = [];
        int? count = null;
        while (r.Next())
        {
            if (r.Chars.IsWhiteSpace()) continue;
            Csv.ParseLine(r.Chars, fields, r);
            if (idx.Length == 0) { idx = Csv.HeaderIndex(fields, r, ["item_num"]); continue; }
            if (fields.Count <= idx[0]) throw Fields.Bad(r, "item_num", "missing value");
            count = Fields.Int(fields[idx[0]], r, "item_num");
            if (count <= 0) throw Fields.Bad(r, "item_num", $"must be positive ({count})");
            // The catalog is built from this number alone (placeholder titles): bound it before allocating.
            if (count > MaxStatisItems) throw Fields.Bad(r, "item_num", $"{count} items is more than the {MaxStatisItems:N0} a data_statis.csv catalog may have");
            break;
        }
        if (count is null) throw new DataFormatException(path, 0, "item_num", "no data row");
        return new ItemCatalog(Enumerable.Range(0, count.Value)
            .Select(i => new Item(i, i.ToString(CultureInfo.InvariantCulture), $"item {i}")));
    }

    private static ItemCatalog Dense(string path, IEnumerable<(int Id, Item Item)> items)
    {
        var sorted = items.OrderBy(p => p.Id).ToList();
        for (int i = 0; i < sorted.Count; i++)
            if (sorted[i].Id != i)
                throw new DataFormatException(path, 0, "id", $"item ids must be dense 0..{sorted.Count - 1}; id {i} is missing");
        return new ItemCatalog(sorted.Select(p => p.Item));
    }

    /// <summary>Loads one table; <paramref name="catalogPath"/> defaults to <see cref="LoadOptions.ItemList"/>, then
    /// to the item list in the same folder.</summary>
    public static SequenceTable Load(string csvPath, string? catalogPath = null, LoadOptions? options = null)
    {
        var o = options ?? LoadOptions.Default;
        if (!File.Exists(csvPath)) throw new DataFormatException(csvPath, 0, null, "file not found");
        catalogPath ??= o.ItemList ?? ItemListFor(csvPath);
        if (!File.Exists(catalogPath)) throw new DataFormatException(catalogPath, 0, null, "item list not found");
        var catalog = LoadCatalog(catalogPath);
        int pad = catalog.Count;
        var report = new LoadReport(o.MaxReportedReasons);
        var examples = new List<SequenceExample>();
        var fields = new List<string>();
        int[] col = [];
        int width = -1, user = -1;
        long empty = 0;
        int[] prevHistory = [];
        int prevNext = -1;
        long prevPos = 0;
        using var r = new LineReader(csvPath, TextEncodingMode.Utf8);
        Rows.ForEach(r, o, report, row =>
        {
            Csv.ParseLine(row.Chars, fields, row);
            if (fields.Count != col[3]) throw Fields.Bad(row, null, $"expected {col[3]} comma-separated fields (as in the header), found {fields.Count}");
            var ids = ParseSeq(fields[col[0]], row);
            if (width < 0) width = ids.Count;
            else if (ids.Count != width) throw Fields.Bad(row, "seq", $"expected {width} ids like the rows before, found {ids.Count}");
            int realCount = 0;
            while (realCount < ids.Count && ids[realCount] != pad) realCount++;
            for (int k = 0; k < ids.Count; k++)
            {
                if (ids[k] < 0 || ids[k] > pad) throw Fields.Bad(row, "seq", $"unknown item id {ids[k]} (catalog has {pad} items; padding id {pad})");
                if (k > realCount && ids[k] != pad) throw Fields.Bad(row, "seq", $"item id {ids[k]} after padding at position {k + 1} (rows must be right-padded)");
            }
            int len = Fields.Int(fields[col[1]], row, "len_seq");
            if (len != realCount && !(realCount == 0 && len == 1))
                throw Fields.Bad(row, "len_seq", $"says {len} items but seq holds {realCount} real items");
            int next = Fields.Int(fields[col[2]], row, "next");
            if (next < 0 || next >= pad) throw Fields.Bad(row, "next", $"unknown item id {next} (catalog has {pad} items)");
            var history = ids.GetRange(0, realCount).ToArray();
            long pos;
            if (realCount > 0 && prevNext >= 0 && ContinuesFrom(prevHistory, prevNext, history, width)) { pos = prevPos + 1; }
            else { user++; pos = realCount; }
            prevHistory = history;
            prevNext = next;
            prevPos = pos;
            if (realCount == 0 && !o.KeepEmptyHistories) { empty++; return; }
            examples.Add(new SequenceExample(user, history, next, pos));
        }, header: true, onHeader: h =>
        {
            Csv.ParseLine(h.Chars, fields, h);
            var idx = Csv.HeaderIndex(fields, h, ["seq", "len_seq", "next"]);
            col = [idx[0], idx[1], idx[2], fields.Count];
        });
        report.Drop(empty, "rows with an empty history (the padding-only first prefix)");
        if (examples.Count == 0)
            throw new DataFormatException(csvPath, 0, null, report.RowsSkipped > 0
                ? $"no examples left: all {report.RowsSkipped} rows were skipped as malformed (first: {report.FirstSkipReasons.FirstOrDefault()})"
                : "no examples (an empty table, or only padding rows)");
        return new SequenceTable(csvPath, catalog, pad, examples, user + 1, report);
    }

    private static bool ContinuesFrom(int[] prevHistory, int prevNext, int[] history, int width)
    {
        int total = prevHistory.Length + 1;
        int skip = Math.Max(0, total - width);
        if (history.Length != total - skip) return false;
        for (int k = 0; k < history.Length; k++)
        {
            int j = k + skip;
            int expected = j < prevHistory.Length ? prevHistory[j] : prevNext;
            if (history[k] != expected) return false;
        }
        return true;
    }

    private static List<int> ParseSeq(string s, LineReader r)
    {
        var t = s.AsSpan().Trim();
        if (t.StartsWith("[")) t = t.EndsWith("]") ? t[1..^1] : throw Fields.Bad(r, "seq", "'[' without a closing ']'");
        var ids = new List<int>(16);
        foreach (var range in t.SplitAny(" ,\t"))
        {
            var part = t[range];
            if (part.IsEmpty) continue;
            if (!int.TryParse(part, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int v))
                throw Fields.Bad(r, "seq", $"not an item id ('{Fields.Clip(part)}')");
            ids.Add(v);
        }
        if (ids.Count == 0) throw Fields.Bad(r, "seq", "empty list");
        return ids;
    }

    /// <summary>The canonical dataset from one table or a folder of tables (every <c>*.csv</c> but data_statis.csv,
    /// sharing the folder's item list, or <see cref="LoadOptions.ItemList"/> when given): each reconstructed user's sequence is its first history followed by its
    /// targets, timestamps are positions (0, 1, ...). Users of different files are kept apart.</summary>
    public static LoadResult LoadDataset(string path, LoadOptions? options = null)
    {
        var o = (options ?? LoadOptions.Default) with { KeepEmptyHistories = true };
        string[] files;
        if (File.Exists(path)) files = [path];
        else if (Directory.Exists(path))
            files = Directory.GetFiles(path, "*.csv").Where(f => !Path.GetFileName(f).Equals("data_statis.csv", StringComparison.OrdinalIgnoreCase))
                .Order(StringComparer.Ordinal).ToArray();
        else throw new DataFormatException(path, 0, null, "file or folder not found");
        if (files.Length == 0) throw new DataFormatException(path, 0, null, "no sequence table (*.csv) in the folder");
        var report = new LoadReport(o.MaxReportedReasons);
        ItemCatalog? catalog = null;
        var users = new List<string>();
        var interactions = new List<Interaction>();
        foreach (var f in files)
        {
            var table = Load(f, null, o);
            catalog ??= table.Catalog;
            if (table.Catalog.Count != catalog.Count)
                throw new DataFormatException(f, 0, null, $"item list has {table.Catalog.Count} items, the first table's {catalog.Count}");
            report.Merge(table.Report, Path.GetFileName(f) + ": ");
            string stem = Path.GetFileNameWithoutExtension(f);
            int lastUser = -1, dense = -1;
            foreach (var e in table.Examples)
            {
                if (e.User != lastUser)
                {
                    lastUser = e.User;
                    dense = users.Count;
                    users.Add($"{stem}:{e.User}");
                    for (int k = 0; k < e.History.Count; k++)
                        interactions.Add(new Interaction(dense, e.History[k], e.TargetTimestamp - e.History.Count + k));
                }
                interactions.Add(new Interaction(dense, e.Target, e.TargetTimestamp));
            }
        }
        var name = o.Name ?? Rows.DefaultName(Directory.Exists(path) ? path : Path.GetDirectoryName(Path.GetFullPath(path))!);
        return new LoadResult(new InteractionDataset(name, catalog!, users, interactions.ToArray()), report);
    }
}
