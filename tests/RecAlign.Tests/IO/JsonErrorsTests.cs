using System.Text.Json;
using RecAlign.IO;

namespace RecAlign.Tests.IO;

public class JsonErrorsTests
{
    private enum Colour { DarkRed, Blue }

    [Fact]
    public void ReasonDropsDotNetLocationAndTypeNames()
    {
        var e = Assert.Throws<JsonException>(() => JsonSerializer.Deserialize<int[]>("[1, \"x\"]"));
        Assert.Equal("expected an integer", JsonErrors.Reason(e));
        e = Assert.ThrowsAny<JsonException>(() => JsonDocument.Parse("[{\"a\": 1}"));
        Assert.DoesNotContain("LineNumber", JsonErrors.Reason(e));
        Assert.DoesNotContain("Path:", JsonErrors.Reason(e));
    }

    [Fact]
    public void ExpectedDescribesShapes()
    {
        Assert.Equal("an integer", JsonErrors.Expected(typeof(int)));
        Assert.Equal("a number or null", JsonErrors.Expected(typeof(double?)));
        Assert.Equal("true or false", JsonErrors.Expected(typeof(bool)));
        Assert.Equal("one of dark_red, blue", JsonErrors.Expected(typeof(Colour)));
        Assert.Equal("a list", JsonErrors.Expected(typeof(List<string>)));
    }
}
