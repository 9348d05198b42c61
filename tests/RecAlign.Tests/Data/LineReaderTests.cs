using System.Text;
using RecAlign.Data;
using RecAlign.Data.Loaders;

namespace RecAlign.Tests.Data;

public class LineReaderTests
{
    private static List<string> ReadAll(string path, TextEncodingMode mode)
    {
        using var r = new LineReader(path, mode);
        var lines = new List<string>();
        while (r.Next()) lines.Add(r.Text);
        return lines;
    }

    [Fact]
    public void CrLf_Bom_AndMissingFinalNewline()
    {
        using var dir = new TempDir();
        var p = dir.WriteBytes("a.txt", [0xEF, 0xBB, 0xBF, .. "one\r\ntwo\n\nthree"u8]);
        Assert.Equal(new[] { "one", "two", "", "three" }, ReadAll(p, TextEncodingMode.Utf8));
    }

    [Fact]
    public void LongLinesGrowTheBuffer()
    {
        using var dir = new TempDir();
        var big = new string('x', 200_000);
        var p = dir.Write("a.txt", big + "\nshort\n");
        Assert.Equal(new[] { big, "short" }, ReadAll(p, TextEncodingMode.Utf8));
    }

    [Fact]
    public void Utf8OrLatin1_FallsBackPerLine()
    {
        using var dir = new TempDir();
        var p = dir.WriteBytes("m.dat", [.. Encoding.UTF8.GetBytes("Amélie\n"), .. Encoding.Latin1.GetBytes("Café\n")]);
        Assert.Equal(new[] { "Amélie", "Café" }, ReadAll(p, TextEncodingMode.Utf8OrLatin1));
        var e = Assert.Throws<DataFormatException>(() => ReadAll(p, TextEncodingMode.Utf8));
        Assert.Equal(2, e.Line);
    }

    [Fact]
    public void MissingFile_IsADataFormatException()
    {
        var e = Assert.Throws<DataFormatException>(() => new LineReader("/nonexistent/ratings.dat", TextEncodingMode.Utf8));
        Assert.Equal("/nonexistent/ratings.dat: file not found", e.Message);
    }

    [Fact]
    public void NestedSteamLine_IsSkippedWhole()
    {
        using var dir = new TempDir();
        dir.Write("reviews.json",
            "{'user_id': 'a', 'reviews': [{'item_id': '1', 'posted': 'Posted May 1, 2012.'}, {'item_id': '2', 'posted': 'soon'}]}\n" +
            "{'user_id': 'b', 'reviews': [{'item_id': '1', 'posted': 'Posted May 1, 2012.'}]}\n");
        var (d, report) = DatasetLoaders.Load("steam", dir.Path, new LoadOptions { SkipBadRows = true });
        Assert.Equal(1, report.RowsSkipped);
        Assert.Equal(new[] { "b" }, d.UserExternalIds);
        Assert.Single(d.Interactions);
    }
}
