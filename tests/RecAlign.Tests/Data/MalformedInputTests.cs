using System.Text;
using RecAlign.Data;
using RecAlign.Data.Loaders;

namespace RecAlign.Tests.Data;

/// <summary>Bad input across the loaders: each case must fail with a <see cref="DataFormatException"/> naming the
/// file, line and field, and (where it is a row problem) become a counted skip under SkipBadRows.</summary>
public class MalformedInputTests
{
    private sealed record Case(string Format, (string Name, byte[] Bytes)[] Files, string File, long Line, string? Field, string Fragment,
        bool Skippable = true, string? Input = null);

    private static (string, byte[]) T(string name, string text) => (name, Encoding.UTF8.GetBytes(text));

    private const string Ratings = "ratings.dat";
    private const string Statis = "seq_size,item_num\n10,5\n";

    private static readonly Dictionary<string, Case> Cases = new()
    {
        ["ml-bad-timestamp"] = new("movielens", [T(Ratings, "1::10::5::1\n1::10::5::abc\n")], Ratings, 2, "timestamp", "not an integer ('abc')"),
        ["ml-too-few-columns"] = new("movielens", [T(Ratings, "1::10::5\n")], Ratings, 1, null, "expected 4 fields separated by '::', found 3"),
        ["ml-too-many-columns"] = new("movielens", [T(Ratings, "1::10::5::1::9\n")], Ratings, 1, null, "found 5"),
        ["ml-bad-rating"] = new("movielens", [T(Ratings, "1::10::five::1\n")], Ratings, 1, "rating", "not a finite number ('five')"),
        ["ml-nan-rating"] = new("movielens", [T(Ratings, "1::10::NaN::1\n")], Ratings, 1, "rating", "not a finite number"),
        ["ml-empty-user"] = new("movielens", [T(Ratings, " ::10::5::1\n")], Ratings, 1, "userId", "empty id"),
        ["ml-invalid-utf8"] = new("movielens", [(Ratings, [.. "1::10::5::1\n1::1"u8, 0xFF, .. "::5::2\n"u8])], Ratings, 2, null, "invalid UTF-8 byte 0xFF"),
        ["ml-unknown-movie"] = new("movielens", [T("movies.dat", "10::A (1999)::Drama\n"), T(Ratings, "1::10::5::1\n1::11::5::2\n")], Ratings, 2, "movieId", "unknown item id '11'"),
        ["ml-duplicate-movie"] = new("movielens", [T("movies.dat", "10::A (1999)::Drama\n10::B (1999)::Drama\n"), T(Ratings, "1::10::5::1\n")], "movies.dat", 2, "movieId", "duplicate movie id '10'"),
        ["ml-csv-missing-column"] = new("movielens", [T("ratings.csv", "userId,movieId,stars,timestamp\n1,2,3,4\n")], "ratings.csv", 1, "rating", "missing column in header", Skippable: false),
        ["ml-csv-unterminated-quote"] = new("movielens", [T("movies.csv", "movieId,title,genres\n1,\"Heat (1995),Action\n2,Up (2009),Drama\n"), T("ratings.csv", "userId,movieId,rating,timestamp\n1,2,3,4\n")], "movies.csv", 2, null, "unterminated quoted field"),
        ["ml-missing-file"] = new("movielens", [T("readme.txt", "x")], Ratings, 0, null, "file not found", Skippable: false),
        ["lastfm-bad-weight"] = new("lastfm", [T("user_artists.dat", "userID\tartistID\tweight\n2\t51\tlots\n"), T("user_taggedartists-timestamps.dat", "userID\tartistID\ttagID\ttimestamp\n")], "user_artists.dat", 2, "weight", "not a finite number ('lots')"),
        ["lastfm-negative-weight"] = new("lastfm", [T("user_artists.dat", "userID\tartistID\tweight\n2\t51\t-3\n"), T("user_taggedartists-timestamps.dat", "userID\tartistID\ttagID\ttimestamp\n")], "user_artists.dat", 2, "weight", "negative listening count"),
        ["lastfm-tag-columns"] = new("lastfm", [T("user_artists.dat", "userID\tartistID\tweight\n"), T("user_taggedartists-timestamps.dat", "userID\tartistID\ttagID\ttimestamp\n2\t51\t1238536800000\n")], "user_taggedartists-timestamps.dat", 2, null, "expected 4 fields separated by '\\t', found 3"),
        ["lastfm-missing-tags-file"] = new("lastfm", [T("user_artists.dat", "userID\tartistID\tweight\n")], "user_taggedartists-timestamps.dat", 0, null, "file not found", Skippable: false),
        ["amazon-not-json"] = new("amazon", [T("reviews.json", "{\"reviewerID\": \"A\", \"asin\": \"B\", \"overall\": 5, \"unixReviewTime\": 1}\n{\"reviewerID\": \"A\",\n")], "reviews.json", 2, null, "not a JSON object"),
        ["amazon-missing-time"] = new("amazon", [T("reviews.json", "{\"reviewerID\": \"A\", \"asin\": \"B\", \"overall\": 5}\n")], "reviews.json", 1, "unixReviewTime", "missing field"),
        ["amazon-array-line"] = new("amazon", [T("reviews.json", "[1, 2]\n")], "reviews.json", 1, null, "expected a JSON object"),
        ["goodreads-bad-date"] = new("goodreads", [T("interactions.json", "{\"user_id\": \"u\", \"book_id\": \"1\", \"rating\": 3, \"date_added\": \"yesterday\"}\n")], "interactions.json", 1, "date_added", "not a date or Unix time ('yesterday')"),
        ["yelp-invalid-utf8"] = new("yelp", [("review.json", [.. "{\"user_id\": \"u\", \"business_id\": \"b\", \"stars\": 4, \"date\": \"2016-03-09\", \"text\": \""u8, 0xC3, 0x28, .. "\"}\n"u8])], "review.json", 1, null, "invalid UTF-8 byte 0xC3"),
        ["yelp-stars-not-number"] = new("yelp", [T("review.json", "{\"user_id\": \"u\", \"business_id\": \"b\", \"stars\": \"many\", \"date\": \"2016-03-09\"}\n")], "review.json", 1, "stars", "not a number"),
        ["steam-nested-item-missing"] = new("steam", [T("reviews.json", "{'user_id': 'u', 'reviews': [{'item_id': '1', 'posted': 'Posted May 1, 2012.'}, {'posted': 'Posted May 2, 2012.'}]}\n")], "reviews.json", 1, "reviews[1].item_id", "missing field"),
        ["steam-bad-python-literal"] = new("steam", [T("reviews.json", "{'username': 'u', 'product_id': '1', 'date': '2017-01-01'\n")], "reviews.json", 1, null, "not a JSON object"),
        ["recbole-untyped-header"] = new("recbole", [T("x.inter", "user_id\titem_id\n1\t2\n")], "x.inter", 1, "user_id", "must look like name:type", Skippable: false),
        ["recbole-unknown-type"] = new("recbole", [T("x.inter", "user_id:token\titem_id:int\n1\t2\n")], "x.inter", 1, "item_id", "unknown RecBole type 'int'", Skippable: false),
        ["recbole-column-count"] = new("recbole", [T("x.inter", "user_id:token\titem_id:token\ttimestamp:float\n1\t2\n")], "x.inter", 2, null, "expected 3 tab-separated fields (as in the header), found 2"),
        ["recbole-bad-timestamp"] = new("recbole", [T("x.inter", "user_id:token\titem_id:token\ttimestamp:float\n1\t2\tsoon\n")], "x.inter", 2, "timestamp", "not a timestamp ('soon')"),
        ["recbole-unknown-item"] = new("recbole", [T("x.item", "item_id:token\ttitle:token_seq\na\tA\n"), T("x.inter", "user_id:token\titem_id:token\n1\tb\n")], "x.inter", 2, "item_id", "unknown item id 'b'"),
        ["seq-unknown-item"] = new("seqcsv", [T("data_statis.csv", Statis), T("t.csv", "seq,len_seq,next\n0 9 5 5,2,1\n")], "t.csv", 2, "seq", "unknown item id 9"),
        ["seq-len-mismatch"] = new("seqcsv", [T("data_statis.csv", Statis), T("t.csv", "seq,len_seq,next\n0 1 5 5,3,2\n")], "t.csv", 2, "len_seq", "says 3 items but seq holds 2"),
        ["seq-padding-inside"] = new("seqcsv", [T("data_statis.csv", Statis), T("t.csv", "seq,len_seq,next\n0 5 1 5,2,2\n")], "t.csv", 2, "seq", "after padding"),
        ["seq-next-is-padding"] = new("seqcsv", [T("data_statis.csv", Statis), T("t.csv", "seq,len_seq,next\n0 5 5 5,1,5\n")], "t.csv", 2, "next", "unknown item id 5"),
        ["seq-missing-column"] = new("seqcsv", [T("data_statis.csv", Statis), T("t.csv", "seq,next\n0 5,1\n")], "t.csv", 1, "len_seq", "missing column", Skippable: false),
        ["seq-width-changes"] = new("seqcsv", [T("data_statis.csv", Statis), T("t.csv", "seq,len_seq,next\n0 5 5,1,1\n0 1 5 5,2,2\n")], "t.csv", 3, "seq", "expected 3 ids"),
        ["seq-bad-id"] = new("seqcsv", [T("data_statis.csv", Statis), T("t.csv", "seq,len_seq,next\n\"[0, x, 5]\",1,1\n")], "t.csv", 2, "seq", "not an item id ('x')"),
        ["seq-no-catalog"] = new("seqcsv", [T("t.csv", "seq,len_seq,next\n0 5,1,1\n")], "t.csv", 0, null, "no item list", Skippable: false),
        ["seq-id2name-gap"] = new("seqcsv", [T("id2name.txt", "0::a\n2::c\n"), T("t.csv", "seq,len_seq,next\n0 3,1,1\n")], "id2name.txt", 0, "id", "id 1 is missing", Skippable: false),
    };

    public static IEnumerable<object[]> CaseNames() => Cases.Keys.Select(k => new object[] { k });

    [Fact]
    public void AtLeastTwentyCases() => Assert.True(Cases.Count >= 20);

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void FailsWithFileLineAndField(string name)
    {
        var c = Cases[name];
        using var dir = new TempDir();
        foreach (var (f, bytes) in c.Files) dir.WriteBytes(f, bytes);
        var e = Assert.Throws<DataFormatException>(() => DatasetLoaders.Load(c.Format, dir.Path));
        Assert.Equal(c.File, Path.GetFileName(e.File));
        Assert.Equal(c.Line, e.Line);
        Assert.Equal(c.Field, e.Field);
        Assert.Contains(c.Fragment, e.Message);
        Assert.StartsWith(e.File, e.Message);
        if (c.Line > 0) Assert.Contains($"{c.File}:{c.Line}: ", e.Message);
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void SkipBadRowsCountsRowErrors(string name)
    {
        var c = Cases[name];
        if (!c.Skippable) return; // header and file problems cannot be skipped
        using var dir = new TempDir();
        foreach (var (f, bytes) in c.Files) dir.WriteBytes(f, bytes);
        try
        {
            var result = DatasetLoaders.Load(c.Format, dir.Path, new LoadOptions { SkipBadRows = true });
            Assert.Equal(1, result.Report.RowsSkipped);
            Assert.Contains(c.Fragment, result.Report.FirstSkipReasons[0]);
        }
        catch (DataFormatException e) when (e.Message.Contains("all 1 rows were skipped", StringComparison.Ordinal))
        {
            // The bad row was the only one: skipped and counted, and an empty dataset is an error that says why.
            Assert.Contains(c.Fragment, e.Message);
        }
        catch (DataFormatException e)
        {
            Assert.Fail($"{name}: SkipBadRows still threw: {e.Message}");
        }
    }

    [Fact]
    public void MessageFormat_MatchesTheConvention()
    {
        var e = new DataFormatException("ratings.dat", 17, "timestamp", "not an integer ('abc')");
        Assert.Equal("ratings.dat:17: field 'timestamp': not an integer ('abc')", e.Message);
        Assert.Equal("x.csv: file not found", new DataFormatException("x.csv", 0, null, "file not found").Message);
        Assert.IsAssignableFrom<FormatException>(e);
    }

    [Fact]
    public void DuplicateTimestamps_AreAllowedAndKeepSourceOrder()
    {
        using var dir = new TempDir();
        dir.Write(Ratings, "1::30::5::100\n1::10::5::100\n1::20::5::100\n");
        var d = MovieLensLoader.Load(dir.Path).Dataset;
        var seq = RecAlign.Data.Splits.Splitter.Sequences(d).Single();
        Assert.Equal(new[] { 0, 1, 2 }, seq.Items);
        Assert.Equal(d.Sequences().Single().Items, seq.Items);
    }
}
