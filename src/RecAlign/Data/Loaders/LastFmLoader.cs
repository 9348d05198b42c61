namespace RecAlign.Data.Loaders;

/// <summary>LastFM HetRec 2011 (hetrec2011-lastfm-2k): <c>user_artists.dat</c> (tab-separated userID artistID
/// weight) are the interactions with the listening count as <see cref="Interaction.Rating"/>;
/// <c>user_taggedartists-timestamps.dat</c> (userID artistID tagID timestamp in ms) dates them: a pair's timestamp
/// is its earliest tag, in Unix seconds. Pairs never tagged have no time: they are dropped (counted) unless
/// <see cref="LoadOptions.KeepUntimedPairs"/> keeps them at timestamp 0. <c>artists.dat</c> (id name url pictureURL)
/// names the artists. Tags of pairs absent from user_artists are ignored (counted in the report).</summary>
public static class LastFmLoader
{
    public static LoadResult Load(string dir, LoadOptions? options = null)
    {
        var o = options ?? LoadOptions.Default;
        if (!Directory.Exists(dir)) throw new DataFormatException(dir, 0, null, "folder not found");
        string userArtists = Rows.Require(dir, "user_artists.dat");
        string tags = Rows.Require(dir, "user_taggedartists-timestamps.dat");
        string? artists = Rows.Optional(dir, "artists.dat");
        var report = new LoadReport(o.MaxReportedReasons);
        var b = new DatasetBuilder();
        var noCount = o with { MaxRows = 0 };
        if (artists is not null)
        {
            using var r = new LineReader(artists, TextEncodingMode.Utf8OrLatin1);
            Rows.ForEach(r, noCount, report, row =>
            {
                var line = row.Chars;
                Span<Range> rg = stackalloc Range[5];
                // name, url and picture may be empty; the picture column is missing on a few real rows
                int n = Fields.Split(line, "\t", rg, 2, row, allowMore: true);
                if (n > 4) throw Fields.Bad(row, null, $"expected 4 tab-separated fields (id name url pictureURL), found {n}");
                var id = Fields.Id(line[rg[0]], row, "id").ToString();
                Fields.Int(id, row, "id");
                var name = line[rg[1]].Trim().ToString();
                if (name.Length == 0) name = id;
                if (!b.TryDefineItem(id, name)) throw Fields.Bad(row, "id", $"duplicate artist id '{id}'");
            }, header: true, onHeader: h => CheckHeader(h, "id"), countRows: false);
        }

        // earliest tag time per (user, artist) pair, keyed by the external ids
        var firstTag = new Dictionary<(string, string), long>();
        using (var r = new LineReader(tags, TextEncodingMode.Utf8))
        {
            Rows.ForEach(r, noCount, report, row =>
            {
                var line = row.Chars;
                Span<Range> rg = stackalloc Range[5];
                Fields.Split(line, "\t", rg, 4, row);
                var u = Fields.Id(line[rg[0]], row, "userID").ToString();
                var a = Fields.Id(line[rg[1]], row, "artistID").ToString();
                Fields.Long(line[rg[2]], row, "tagID");
                long ms = Fields.Long(line[rg[3]], row, "timestamp");
                long s = Math.DivRem(ms, 1000L).Quotient - (ms < 0 && ms % 1000 != 0 ? 1 : 0);
                ref var slot = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(firstTag, (u, a), out bool exists);
                if (!exists || s < slot) slot = s;
            }, header: true, onHeader: h => CheckHeader(h, "userID"), countRows: false);
        }

        long dropped = 0, untimed = 0, used = 0;
        bool haveItems = artists is not null;
        using (var r = new LineReader(userArtists, TextEncodingMode.Utf8))
        {
            Rows.ForEach(r, o, report, row =>
            {
                var line = row.Chars;
                Span<Range> rg = stackalloc Range[4];
                Fields.Split(line, "\t", rg, 3, row);
                var u = Fields.Id(line[rg[0]], row, "userID");
                var a = Fields.Id(line[rg[1]], row, "artistID");
                float w = Fields.Float(line[rg[2]], row, "weight");
                if (w < 0) throw Fields.Bad(row, "weight", $"negative listening count ({w})");
                long ts = 0;
                if (firstTag.TryGetValue((u.ToString(), a.ToString()), out long t)) { ts = t; used++; }
                else if (!o.KeepUntimedPairs) { untimed++; return; }
                int item = b.ResolveItem(a, o.UnknownItems, haveItems, row, "artistID", ref dropped);
                if (item < 0) return;
                b.Add(b.User(u), item, ts, w);
            }, header: true, onHeader: h => CheckHeader(h, "userID"));
        }
        report.Drop(untimed, "listening pairs without a tag timestamp");
        report.Drop(dropped, "listening pairs of artists missing from artists.dat");
        if (firstTag.Count > used) report.Note($"ignored {firstTag.Count - used} tagged pairs that are not in user_artists.dat");
        return new LoadResult(b.Build(o.Name ?? Rows.DefaultName(dir), userArtists, report), report);
    }

    private static void CheckHeader(LineReader h, string first)
    {
        if (!h.Chars.StartsWith(first, StringComparison.OrdinalIgnoreCase))
            throw new DataFormatException(h.File, h.LineNumber, first, $"expected a header starting with '{first}', found '{Fields.Clip(h.Chars)}'");
    }
}
