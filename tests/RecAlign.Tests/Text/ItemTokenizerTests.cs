using RecAlign.Data;
using RecAlign.Prompts;
using RecAlign.Text;

namespace RecAlign.Tests.Text;

public sealed class ItemTokenizerTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "recalign-itemtok-" + Guid.NewGuid().ToString("N"));
    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    internal static ItemCatalog Catalog(int n = 5) => new(Enumerable.Range(0, n).Select(i => new Item(i, $"x{i}", $"Band {(char)('A' + i)}")));

    internal static ItemTokenizer Make(int n = 5)
    {
        var catalog = Catalog(n);
        var inner = CompactVocabularyTokenizer.Build(["History: a, b. Candidates: c. Answer:", .. catalog.Items.Select(i => " " + i.Title)]);
        return new ItemTokenizer(inner, catalog);
    }

    [Fact]
    public void EachItemIsOneTokenAfterTheBaseVocabulary_AndAbsorbsOneLeadingSpace()
    {
        var tok = Make();
        int first = tok.Inner.VocabSize;
        Assert.Equal(first + 5, tok.VocabSize);
        Assert.Equal([first + 3], tok.Encode("<item_3>"));
        Assert.Equal([first + 3], tok.Encode(" <item_3>")); // the answer as it follows the prompt
        Assert.Equal([tok.BosId!.Value, first + 0, first + 4, first + 2], tok.Encode("<item_0> <item_4> <item_2>", addBos: true));
        var ids = tok.Encode("History: <item_1>, <item_2>. Answer:");
        Assert.Equal(2, ids.Count(i => tok.ItemOf(i) is not null));
        Assert.Equal("History: <item_1>, <item_2>. Answer:", tok.Decode(ids));
        Assert.Equal(1, tok.ItemOf(first + 1));
        Assert.Null(tok.ItemOf(first - 1));
        Assert.Equal(first + 2, tok.TokenToId("<item_2>"));
        Assert.Equal("<item_2>", tok.IdToToken(first + 2));
    }

    [Fact]
    public void TokensOutsideTheCatalogStayText()
    {
        var tok = Make();
        var ids = tok.Encode("<item_7>");
        Assert.True(ids.Length > 1);
        Assert.All(ids, i => Assert.Null(tok.ItemOf(i)));
        Assert.Equal("<item_7>", tok.Decode(ids));
        Assert.True(tok.Encode("<item_01>").Length > 1); // not the canonical form of item 1
    }

    [Fact]
    public void AnItemTokenAnswerIsOneTokenWithoutEos_ATitleAnswerEndsWithEos()
    {
        var tok = Make();
        Assert.Equal([tok.ItemTokenId(2)], PromptTokenization.Response(tok, ItemTokens.Token(2)));
        var title = PromptTokenization.Response(tok, "Band C");
        Assert.Equal(tok.EosId, title[^1]);
        Assert.Equal(tok.Inner.Encode(" Band C"), title[..^1]);
    }

    [Fact]
    public void SaveAndLoadRoundTripThroughTheTokenizerLoader()
    {
        var tok = new ItemTokenizer(Make().Inner, Catalog()) { HistoryWindow = 10, HistoryTitles = true };
        tok.Save(_dir);
        Assert.True(File.Exists(Path.Combine(_dir, ItemTokenizer.FileName)));
        Assert.True(File.Exists(Path.Combine(_dir, "items.jsonl")));
        var loaded = Assert.IsType<ItemTokenizer>(TokenizerLoader.Load(_dir));
        Assert.Equal(tok.VocabSize, loaded.VocabSize);
        Assert.Equal(10, loaded.HistoryWindow);
        Assert.True(loaded.HistoryTitles);
        Assert.True(tok.Catalog.SameItems(loaded.Catalog));
        var text = "History: <item_1>, Band A <item_0>. Answer: <item_4>";
        Assert.Equal(tok.Encode(text, addBos: true), loaded.Encode(text, addBos: true));
    }

    [Fact]
    public void OverAHuggingFaceTokenizer_ItemTokensAreAddedTokensInTokenizerJson_AndRoundTrip()
    {
        var hf = HuggingFaceTokenizer.FromJson(HuggingFaceTokenizerTests.BuildTokenizerJson(HuggingFaceTokenizerTests.QwenPreTokenizer(), arrayMerges: true).Json);
        var tok = new ItemTokenizer(hf, Catalog()) { HistoryWindow = 10 };
        tok.Save(_dir);
        // What transformers reads: tokenizer.json alone, where each <item_k> is an added token with this model's id.
        var added = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(_dir, "tokenizer.json")))!["added_tokens"]!.AsArray();
        for (int k = 0; k < 5; k++)
            Assert.Contains(added, t => (string?)t!["content"] == $"<item_{k}>" && (int)t["id"]! == hf.VocabSize + k);
        var plain = HuggingFaceTokenizer.Load(_dir);
        Assert.Equal(tok.VocabSize, plain.VocabSize);
        Assert.Equal([hf.VocabSize + 3], plain.Encode("<item_3>"));
        // What RecAlign reads: the item tokenizer over the base vocabulary, ids unchanged.
        var loaded = Assert.IsType<ItemTokenizer>(TokenizerLoader.Load(_dir));
        Assert.Equal(hf.VocabSize, loaded.Inner.VocabSize);
        Assert.Equal(tok.VocabSize, loaded.VocabSize);
        var text = "the <item_1> the <item_4>";
        Assert.Equal(tok.Encode(text, addBos: true), loaded.Encode(text, addBos: true));
        Assert.Equal(plain.Encode("<item_2>"), loaded.Encode("<item_2>"));
        // Saved again, the file does not list them twice.
        loaded.Save(_dir);
        Assert.Equal(5, System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(_dir, "tokenizer.json")))!["added_tokens"]!.AsArray()
            .Count(t => ((string?)t!["content"])!.StartsWith("<item_", StringComparison.Ordinal)));
    }

    [Fact]
    public void ItemTokensThatDoNotFitTheTokenizerBesideThemAreAClearError()
    {
        Make().Save(_dir);
        CompactVocabularyTokenizer.Build(["something else entirely, with other words"]).Save(_dir); // replace the base vocabulary
        var e = Assert.Throws<InvalidDataException>(() => TokenizerLoader.Load(_dir));
        Assert.Contains("item_tokens.json", e.Message);
        Assert.Contains("base_vocab_size", e.Message);
    }

    [Fact]
    public void PromptsWriteItemsAsConfigured()
    {
        var catalog = Catalog();
        var example = new CandidateExample(7, [0, 1], 3, [2, 3, 4]);
        var template = new[] { new PromptTemplate("History: {history}. Candidates: {candidates}. Answer:") };
        string Prompt(ItemText mode) => new PromptBuilder(catalog, template, new PromptConfig { ItemText = mode }).Prompt(example);
        Assert.Equal("History: Band A, Band B. Candidates: Band C, Band D, Band E. Answer:", Prompt(ItemText.Title));
        Assert.Equal("History: <item_0>, <item_1>. Candidates: <item_2>, <item_3>, <item_4>. Answer:", Prompt(ItemText.Token));
        Assert.Equal("History: <item_0> Band A, <item_1> Band B. Candidates: <item_2> Band C, <item_3> Band D, <item_4> Band E. Answer:", Prompt(ItemText.TitleToken));
        var builder = new PromptBuilder(catalog, template, new PromptConfig { ItemText = ItemText.TitleToken });
        Assert.Equal("<item_3>", builder.Build(example).Response);
        var preference = builder.BuildPreference(example, 2);
        Assert.Equal("<item_3>", preference.Chosen);
        Assert.All(preference.Rejected, r => Assert.Matches("^<item_[24]>$", r));
        var question = CandidateQuestions.From(builder, catalog, [example])[0];
        Assert.Equal(["<item_2>", "<item_3>", "<item_4>"], question.Candidates);
    }
}
