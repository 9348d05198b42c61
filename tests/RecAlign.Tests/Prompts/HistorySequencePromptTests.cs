using RecAlign.Data;
using RecAlign.Data.Candidates;
using RecAlign.Pipelines.Stages;
using RecAlign.Prompts;
using RecAlign.Text;

namespace RecAlign.Tests.Prompts;

/// <summary>The <c>history</c> templates ask in the pretraining format: prompt + answer must be a pretraining text.</summary>
public class HistorySequencePromptTests
{
    private static readonly ItemCatalog Catalog = new([
        new Item(0, "a", "Lion King, The"), new Item(1, "b", "Live (Acoustic)"), new Item(2, "c", "Gamma Ray"), new Item(3, "d", "Delta")]);

    private static ITokenizer Tokenizer(ItemText mode)
    {
        var inner = CompactVocabularyTokenizer.Build(PretrainCorpus.Render([[0, 1, 2, 3]], Catalog, ItemText.Title));
        return mode == ItemText.Title ? inner : new ItemTokenizer(inner, Catalog);
    }

    [Theory]
    [InlineData(ItemText.Title)]
    [InlineData(ItemText.Token)]
    [InlineData(ItemText.TitleToken)]
    public void PromptThenAnswerTokenizeAsThePretrainingTextOfHistoryThenTarget(ItemText mode)
    {
        var tok = Tokenizer(mode);
        var builder = new PromptBuilder(Catalog, PromptTemplates.Named("history"), new PromptConfig { ItemText = mode });
        var example = new CandidateExample(7, [0, 1, 3], 2, [2, 3]);
        var pe = builder.Build(example);
        var joined = PromptTokenization.Example(tok, pe);
        var line = PretrainCorpus.Render([[0, 1, 3, 2]], Catalog, mode, catalogText: false).Single();
        var pretraining = tok.Encode(line, addBos: true);
        // Titles end with EOS, as the pretraining text does; an item-token answer is the one token (with titles beside
        // the tokens, the pretraining text goes on with the target's title).
        int[] expected = mode switch
        {
            ItemText.Title => [.. pretraining, tok.EosId!.Value],
            ItemText.Token => pretraining,
            _ => pretraining[..^tok.Encode(" Gamma Ray").Length],
        };
        Assert.Equal(expected, (int[])[.. joined.Prompt, .. joined.Response]);
        Assert.Equal(mode switch
        {
            ItemText.Title => "Lion King, The, Live (Acoustic), Delta,",
            ItemText.Token => "<item_0> <item_1> <item_3>",
            _ => "<item_0> Lion King, The <item_1> Live (Acoustic) <item_3> Delta",
        }, pe.Prompt);
        if (mode == ItemText.TitleToken) Assert.Equal("<item_0> Lion King, The <item_1> Live (Acoustic) <item_3> Delta <item_2> Gamma Ray", line);
    }

    [Fact]
    public void ShowsTheLastMaxHistoryItems_AndAnEmptyHistoryIsAnEmptyPrompt()
    {
        var builder = new PromptBuilder(Catalog, PromptTemplates.HistorySequence, new PromptConfig { ItemText = ItemText.Token, MaxHistory = 2 });
        Assert.Equal("<item_1> <item_3>", builder.Prompt(new CandidateExample(1, [0, 1, 3], 2, [2, 0])));
        var bare = new PromptBuilder(Catalog, PromptTemplates.HistorySequence, new PromptConfig { ItemText = ItemText.Title, OmitHistory = true });
        Assert.Equal("", bare.Prompt(new CandidateExample(1, [0, 1, 3], 2, [2, 0])));
        Assert.Equal([Tokenizer(ItemText.Title).BosId!.Value], PromptTokenization.Prompt(Tokenizer(ItemText.Title), ""));
    }

    [Fact]
    public void OnlyTheBareSequenceTemplateIsThePretrainingFormat()
    {
        Assert.True(Assert.Single(PromptTemplates.Named("history")).IsSequence);
        Assert.False(new PromptTemplate("History: {history_sequence}").IsSequence);
        Assert.False(new PromptTemplate("{history_sequence} {candidates}").IsSequence);
        Assert.All(PromptTemplates.Item, t => Assert.False(t.IsSequence));
        Assert.Throws<ArgumentException>(() => new PromptTemplate("Pick one of {candidates}"));
    }
}
