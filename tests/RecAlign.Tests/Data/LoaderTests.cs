using System.Text;
using RecAlign.Data;
using RecAlign.Data.Loaders;

namespace RecAlign.Tests.Data;

public class MovieLensLoaderTests
{
    [Fact]
    public void DatFormat_WorkedExample_Latin1TitlesGenresYears()
    {
        using var dir = new TempDir();
        dir.WriteBytes("movies.dat", Encoding.Latin1.GetBytes("10::Café (1995)::Comedy|Drama\n20::Heat (1995)::Action\n30::Unrated (2000)::Drama\n"));
        dir.Write("ratings.dat", "1::10::5::978300760\n1::20::3::978302109\n2::10::4.5::978301968\n");
        var (d, report) = MovieLensLoader.Load(dir.Path);
        Assert.Equal(3, d.Catalog.Count);
        Assert.Equal(new[] { "1", "2" }, d.UserExternalIds);
        var cafe = d.Catalog[0];
        Assert.Equal(("10", "Café (1995)", 1995), (cafe.ExternalId, cafe.Title, cafe.Year));
        Assert.Equal(new[] { "Comedy", "Drama" }, cafe.Genres);
        Assert.Equal(new Interaction(0, 0, 978300760, 5f), d.Interactions[0]);
        Assert.Equal(new Interaction(0, 1, 978302109, 3f), d.Interactions[1]);
        Assert.Equal(new Interaction(1, 0, 978301968, 4.5f), d.Interactions[2]);
        Assert.Equal(3, report.RowsRead);
        Assert.Equal(0, report.RowsSkipped);
    }

    [Fact]
    public void CsvFormat_QuotedTitlesWithCommas_HeaderOrder()
    {
        using var dir = new TempDir();
        dir.Write("movies.csv", "movieId,title,genres\n1,\"American President, The (1995)\",Comedy|Drama|Romance\n2,\"Say \"\"Hi\"\" (2001)\",(no genres listed)\n");
        dir.Write("ratings.csv", "userId,movieId,rating,timestamp\n7,2,3.5,1000\n7,1,4.0,999\n");
        var (d, _) = DatasetLoaders.Load("movielens", dir.Path);
        Assert.Equal("American President, The (1995)", d.Catalog[0].Title);
        Assert.Equal(3, d.Catalog[0].Genres.Count);
        Assert.Equal("Say \"Hi\" (2001)", d.Catalog[1].Title);
        Assert.Empty(d.Catalog[1].Genres);
        Assert.Equal(2001, d.Catalog[1].Year);
        Assert.Equal(new[] { new Interaction(0, 1, 1000, 3.5f), new Interaction(0, 0, 999, 4f) }, d.Interactions);
    }

    [Fact]
    public void SkipBadRows_CountsAndReportsReasons()
    {
        using var dir = new TempDir();
        dir.Write("ratings.dat", "1::10::5::100\n1::10::5::abc\n2::11::x::5\n2::11::4::200\n");
        var (d, report) = MovieLensLoader.Load(dir.Path, new LoadOptions { SkipBadRows = true });
        Assert.Equal(2, d.Interactions.Length);
        Assert.Equal(4, report.RowsRead);
        Assert.Equal(2, report.RowsSkipped);
        Assert.Contains("ratings.dat:2: field 'timestamp': not an integer ('abc')", report.FirstSkipReasons[0]);
        Assert.Contains(":3: field 'rating'", report.FirstSkipReasons[1]);
    }

    [Fact]
    public void UnknownItems_SkipPolicyDropsAndCounts()
    {
        using var dir = new TempDir();
        dir.Write("movies.dat", "10::A (1990)::Drama\n");
        dir.Write("ratings.dat", "1::10::5::100\n1::99::5::101\n");
        var (d, report) = MovieLensLoader.Load(dir.Path, new LoadOptions { UnknownItems = UnknownItemPolicy.Skip });
        Assert.Single(d.Interactions);
        Assert.Equal(1, report.RowsDropped);
        var added = MovieLensLoader.Load(dir.Path, new LoadOptions { UnknownItems = UnknownItemPolicy.Add }).Dataset;
        Assert.Equal(2, added.Catalog.Count);
        Assert.Equal("99", added.Catalog[1].Title);
    }

    [Fact]
    public void MaxRows_StopsEarly()
    {
        using var dir = new TempDir();
        dir.Write("ratings.dat", "1::10::5::100\n1::11::5::101\n1::12::5::102\n");
        var (d, _) = MovieLensLoader.Load(dir.Path, new LoadOptions { MaxRows = 2 });
        Assert.Equal(2, d.Interactions.Length);
    }
}

public class LastFmLoaderTests
{
    private static void WriteHetRec(TempDir dir, string userArtists)
    {
        dir.Write("artists.dat", "id\tname\turl\tpictureURL\n51\tDuran Duran\thttp://x\thttp://p\n52\tMorcheeba\thttp://y\thttp://q\n53\tAir\thttp://z\n");
        dir.Write("user_artists.dat", userArtists);
        dir.Write("user_taggedartists-timestamps.dat",
            "userID\tartistID\ttagID\ttimestamp\n2\t52\t13\t1238536800000\n2\t52\t15\t1230764400000\n2\t51\t13\t1241128800000\n3\t53\t1\t1241128800999\n9\t51\t1\t1241128800000\n");
    }

    [Fact]
    public void WorkedExample_EarliestTagDatesThePair_UntimedPairsDropped()
    {
        using var dir = new TempDir();
        WriteHetRec(dir, "userID\tartistID\tweight\n2\t51\t13883\n2\t52\t11690\n2\t53\t5\n3\t53\t100\n");
        var (d, report) = LastFmLoader.Load(dir.Path);
        Assert.Equal(new[] { "Duran Duran", "Morcheeba", "Air" }, d.Catalog.Items.Select(i => i.Title));
        Assert.Equal(new[] { "2", "3" }, d.UserExternalIds);
        Assert.Equal(new[]
        {
            new Interaction(0, 0, 1241128800, 13883f),
            new Interaction(0, 1, 1230764400, 11690f), // the earlier of its two tags, ms -> s
            new Interaction(1, 2, 1241128800, 100f),
        }, d.Interactions);
        Assert.Equal(1, report.RowsDropped); // (2, 53) was never tagged
        Assert.Contains(report.Notes, n => n.Contains("ignored 1 tagged pairs"));
        var kept = LastFmLoader.Load(dir.Path, new LoadOptions { KeepUntimedPairs = true }).Dataset;
        Assert.Equal(4, kept.Interactions.Length);
        Assert.Equal(0, kept.Interactions[2].Timestamp);
    }
}

public class JsonLinesLoaderTests
{
    [Fact]
    public void Amazon_ReviewsAndPythonLiteralMetadata()
    {
        using var dir = new TempDir();
        dir.Write("meta_Beauty.json", "{'asin': 'B1', 'title': \"Men's Soap\", 'categories': [['Beauty', 'Bath']]}\n{'asin': 'B2', 'title': 'Shampoo'}\n");
        dir.Write("reviews_Beauty_5.json",
            "{\"reviewerID\": \"A1\", \"asin\": \"B2\", \"overall\": 5.0, \"unixReviewTime\": 1400000000}\n" +
            "{\"reviewerID\": \"A1\", \"asin\": \"B1\", \"overall\": 3.0, \"unixReviewTime\": 1300000000, \"reviewText\": \"ok\"}\n");
        var (d, _) = DatasetLoaders.Load("amazon", dir.Path);
        Assert.Equal("Men's Soap", d.Catalog[0].Title);
        Assert.Equal(new[] { "Beauty", "Bath" }, d.Catalog[0].Genres);
        Assert.Equal(new[] { new Interaction(0, 1, 1400000000, 5f), new Interaction(0, 0, 1300000000, 3f) }, d.Interactions);
    }

    [Fact]
    public void Goodreads_DateAddedParsedToUnixSeconds()
    {
        using var dir = new TempDir();
        dir.Write("goodreads_books.json", "{\"book_id\": \"5\", \"title\": \"Dune\", \"publication_year\": \"1965\"}\n");
        dir.Write("goodreads_interactions.json", "{\"user_id\": \"u1\", \"book_id\": \"5\", \"rating\": 4, \"date_added\": \"Sun Jul 30 07:44:10 -0700 2017\"}\n");
        var (d, _) = DatasetLoaders.Load("goodreads", dir.Path);
        Assert.Equal(1965, d.Catalog[0].Year);
        Assert.Equal(new DateTimeOffset(2017, 7, 30, 14, 44, 10, TimeSpan.Zero).ToUnixTimeSeconds(), d.Interactions[0].Timestamp);
        Assert.Equal(4f, d.Interactions[0].Rating);
    }

    [Fact]
    public void Steam_FlatAndNestedReviewStyles()
    {
        using var dir = new TempDir();
        dir.Write("steam_games.json", "{'app_name': 'Portal', 'genres': ['Puzzle'], 'id': '400', 'title': 'Portal'}\n");
        dir.Write("steam_reviews.json",
            "{'username': 'Chaos', 'hours': 0.1, 'product_id': '400', 'date': '2017-12-17', 'text': 'it\\'s fine'}\n" +
            "{'user_id': 'js41', 'reviews': [{'item_id': '400', 'posted': 'Posted November 5, 2011.', 'recommend': True}]}\n");
        var (d, _) = DatasetLoaders.Load("steam", dir.Path);
        Assert.Equal(new[] { "Chaos", "js41" }, d.UserExternalIds);
        Assert.Equal("Portal", d.Catalog[0].Title);
        Assert.Equal(new DateTimeOffset(2017, 12, 17, 0, 0, 0, TimeSpan.Zero).ToUnixTimeSeconds(), d.Interactions[0].Timestamp);
        Assert.Equal(new DateTimeOffset(2011, 11, 5, 0, 0, 0, TimeSpan.Zero).ToUnixTimeSeconds(), d.Interactions[1].Timestamp);
        Assert.True(float.IsNaN(d.Interactions[0].Rating));
    }

    [Fact]
    public void Steam_YearlessPostedDates_NeedTheCrawlYear()
    {
        using var dir = new TempDir();
        dir.Write("reviews.json", "{'user_id': 'a', 'reviews': [{'item_id': '1', 'posted': 'Posted June 24.'}]}\n");
        var e = Assert.Throws<DataFormatException>(() => DatasetLoaders.Load("steam", dir.Path));
        Assert.Equal("reviews[0].posted", e.Field);
        Assert.Contains("YearForYearlessDates", e.Message);
        var (d, _) = DatasetLoaders.Load("steam", dir.Path, new LoadOptions { YearForYearlessDates = 2017 });
        Assert.Equal(new DateTimeOffset(2017, 6, 24, 0, 0, 0, TimeSpan.Zero).ToUnixTimeSeconds(), d.Interactions[0].Timestamp);
    }

    [Fact]
    public void Yelp_BusinessCategoriesAndGzipReviews()
    {
        using var dir = new TempDir();
        dir.Write("yelp_academic_dataset_business.json", "{\"business_id\": \"b1\", \"name\": \"Pizza Place\", \"categories\": \"Pizza, Restaurants\"}\n");
        using (var ms = new MemoryStream())
        {
            using (var gz = new System.IO.Compression.GZipStream(ms, System.IO.Compression.CompressionLevel.Fastest, leaveOpen: true))
                gz.Write(Encoding.UTF8.GetBytes("{\"user_id\": \"u\", \"business_id\": \"b1\", \"stars\": 4, \"date\": \"2016-03-09 00:44:42\"}\n"));
            dir.WriteBytes("yelp_academic_dataset_review.json.gz", ms.ToArray());
        }
        var (d, _) = DatasetLoaders.Load("yelp", dir.Path);
        Assert.Equal(new[] { "Pizza", "Restaurants" }, d.Catalog[0].Genres);
        Assert.Equal(new DateTimeOffset(2016, 3, 9, 0, 44, 42, TimeSpan.Zero).ToUnixTimeSeconds(), d.Interactions[0].Timestamp);
        Assert.Equal(4f, d.Interactions[0].Rating);
    }
}

public class RecBoleLoaderTests
{
    [Fact]
    public void AtomicFiles_TypedHeaders_TokenSeqTitlesAndGenres()
    {
        using var dir = new TempDir();
        dir.Write("ml-100k.item", "item_id:token\tmovie_title:token_seq\trelease_year:token\tgenre:token_seq\n242\tKolya\t1996\tComedy\n302\tL.A. Confidential\t1997\tCrime Film-Noir Mystery Thriller\n");
        dir.Write("ml-100k.user", "user_id:token\tage:token\n196\t49\n186\t39\n");
        dir.Write("ml-100k.inter", "user_id:token\titem_id:token\trating:float\ttimestamp:float\n186\t302\t3\t891717742.0\n196\t242\t3\t881250949\n");
        var (d, _) = DatasetLoaders.Load("recbole", dir.Path);
        Assert.Equal("ml-100k", d.Name);
        Assert.Equal(new[] { "196", "186" }, d.UserExternalIds);
        Assert.Equal("L.A. Confidential", d.Catalog[1].Title);
        Assert.Equal(4, d.Catalog[1].Genres.Count);
        Assert.Equal(1997, d.Catalog[1].Year);
        Assert.Equal(new[] { new Interaction(1, 1, 891717742, 3f), new Interaction(0, 0, 881250949, 3f) }, d.Interactions);
    }

    [Fact]
    public void NoTimestampColumn_RowOrderIsTime()
    {
        using var dir = new TempDir();
        var path = dir.Write("x.inter", "item_id:token\tuser_id:token\na\tu\nb\tu\n");
        var (d, _) = RecBoleLoader.Load(path);
        Assert.Equal(new long[] { 0, 1 }, d.Interactions.Select(i => i.Timestamp));
        Assert.True(float.IsNaN(d.Interactions[0].Rating));
    }
}
