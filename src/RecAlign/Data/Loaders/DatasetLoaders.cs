namespace RecAlign.Data.Loaders;

/// <summary>The format registry: one name per source format, so callers (the CLI) stay thin.</summary>
public static class DatasetLoaders
{
    private static readonly Dictionary<string, (Func<string, LoadOptions, LoadResult> Load, string Help)> Registry =
        new(StringComparer.OrdinalIgnoreCase)
        {
            ["movielens"] = ((p, o) => MovieLensLoader.Load(p, o), "folder with ratings.dat (+movies.dat), ratings.csv (+movies.csv) or ml-100k u.data (+u.item)"),
            ["lastfm"] = ((p, o) => LastFmLoader.Load(p, o), "HetRec 2011 folder: user_artists.dat, user_taggedartists-timestamps.dat, artists.dat"),
            ["amazon"] = ((p, o) => JsonLinesLoader.Load(p, JsonLinesLoader.Amazon, o), "reviews JSON lines (+ meta_*.json)"),
            ["goodreads"] = ((p, o) => JsonLinesLoader.Load(p, JsonLinesLoader.Goodreads, o), "interactions JSON lines (+ *books*.json)"),
            ["steam"] = ((p, o) => JsonLinesLoader.Load(p, JsonLinesLoader.Steam, o), "reviews JSON/Python-literal lines (+ *games*.json)"),
            ["yelp"] = ((p, o) => JsonLinesLoader.Load(p, JsonLinesLoader.Yelp, o), "review.json (+ business.json)"),
            ["recbole"] = ((p, o) => RecBoleLoader.Load(p, o), "RecBole atomic files: NAME.inter (+ .item, .user)"),
            ["seqcsv"] = ((p, o) => SequenceTableLoader.LoadDataset(p, o), "seq,len_seq,next tables + id2name.txt / u.item / data_statis.csv"),
        };

    public static IReadOnlyCollection<string> Formats => Registry.Keys;

    public static string Describe(string format) =>
        Registry.TryGetValue(format, out var e) ? e.Help : throw UnknownFormat(format);

    /// <summary>Loads <paramref name="path"/> as <paramref name="format"/> (see <see cref="Formats"/>).</summary>
    public static LoadResult Load(string format, string path, LoadOptions? options = null)
    {
        if (!Registry.TryGetValue(format, out var e)) throw UnknownFormat(format);
        return e.Load(path, options ?? LoadOptions.Default);
    }

    private static ArgumentException UnknownFormat(string format) =>
        new($"unknown data format '{format}' (known: {string.Join(", ", Registry.Keys)})", nameof(format));
}
