using System.Runtime.CompilerServices;
using System.Text.Json;
using RecAlign.Text;

namespace RecAlign.Tests.Text;

/// <summary>Ids from HuggingFace's reference implementation (see Fixtures/hf-golden/README.md) for four
/// byte-level pre-tokenizer styles; our tokenizer must reproduce them exactly and decode back to the text.</summary>
public sealed class HuggingFaceTokenizerGoldenTests
{
    private static string FixtureDir([CallerFilePath] string thisFile = "") =>
        Path.Combine(Path.GetDirectoryName(thisFile)!, "Fixtures", "hf-golden");

    [Theory]
    [InlineData("gpt2")]
    [InlineData("smollm")]
    [InlineData("qwen2")]
    [InlineData("llama3")]
    public void MatchesReferenceIds(string style)
    {
        var dir = FixtureDir();
        var texts = JsonSerializer.Deserialize<string[]>(File.ReadAllText(Path.Combine(dir, "texts.json")))!;
        var expected = JsonSerializer.Deserialize<Dictionary<string, int[][]>>(File.ReadAllText(Path.Combine(dir, "expected_ids.json")))![style];
        var tok = TokenizerLoader.Load(Path.Combine(dir, style));
        Assert.Equal(texts.Length, expected.Length);
        for (int i = 0; i < texts.Length; i++)
        {
            Assert.True(expected[i].SequenceEqual(tok.Encode(texts[i])), $"{style} text #{i} {JsonSerializer.Serialize(texts[i])}: expected [{string.Join(",", expected[i])}], got [{string.Join(",", tok.Encode(texts[i]))}]");
            Assert.Equal(texts[i], tok.Decode(expected[i], skipSpecialTokens: false));
        }
    }
}
