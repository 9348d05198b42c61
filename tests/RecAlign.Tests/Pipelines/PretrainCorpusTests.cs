using RecAlign.Data;
using RecAlign.Pipelines.Stages;
using RecAlign.Text;

namespace RecAlign.Tests.Pipelines;

public class PretrainCorpusTests
{
    private static readonly ItemCatalog Catalog = new([new Item(0, "a", "Alpha") { Genres = ["rock"] }, new Item(1, "b", "Beta"), new Item(2, "c", "Gamma")]);

    [Fact]
    public void HistoriesAreTitleListsOrItemTokenSequences_AndEveryItemGetsALine()
    {
        int[][] histories = [[0, 1, 2], [2, 0]];
        Assert.Equal(["Alpha, Beta, Gamma", "Gamma, Alpha", "Alpha (rock)", "Beta", "Gamma"], PretrainCorpus.Render(histories, Catalog, ItemText.Title));
        Assert.Equal(["<item_0> <item_1> <item_2>", "<item_2> <item_0>", "<item_0> Alpha (rock)", "<item_1> Beta", "<item_2> Gamma"],
            PretrainCorpus.Render(histories, Catalog, ItemText.Token));
        Assert.Equal(["<item_0> <item_1> <item_2>", "<item_2> <item_0>"], PretrainCorpus.Render(histories, Catalog, ItemText.Token, catalogText: false));
    }

    [Fact]
    public void WindowsAreTheLastItemsAPromptShowsThenTheTarget()
    {
        var examples = new List<SequenceExample> { new(0, [0, 1, 2, 0, 1], 2, 0), new(1, [], 1, 0), new(2, [2], 0, 0) };
        Assert.Equal([[0, 1, 2], [1], [2, 0]], PretrainCorpus.Windows(examples, maxHistory: 2));
        Assert.Equal([0, 1, 2, 0, 1, 2], PretrainCorpus.Windows(examples, maxHistory: 0)[0]);
    }

    [Fact]
    public void TargetLossReadsAWindowsHistoryAndTrainsOnlyItsLastItem_TextLinesTrainOnEveryToken()
    {
        var tok = new ItemTokenizer(CompactVocabularyTokenizer.Build(["Alpha (rock)", "Beta", "Gamma"]), Catalog);
        var corpus = PretrainCorpus.Render([[0, 1, 2], [2]], Catalog, ItemText.Token);
        var (all, allOnPrompt) = PretrainCorpus.Tokenize(corpus, tok, PretrainLoss.All);
        Assert.True(allOnPrompt);
        Assert.All(all, e => Assert.Equal([tok.EosId!.Value], e.Response));

        var (target, onPrompt) = PretrainCorpus.Tokenize(corpus, tok, PretrainLoss.Target);
        Assert.False(onPrompt);
        int bos = tok.BosId!.Value, eos = tok.EosId!.Value;
        Assert.Equal([bos, tok.ItemTokenId(0), tok.ItemTokenId(1)], target[0].Prompt);
        Assert.Equal([tok.ItemTokenId(2)], target[0].Response);      // the target alone: no end-of-window token
        Assert.Equal([bos], target[1].Prompt);                       // a one-item window: its item from BOS
        Assert.Equal([tok.ItemTokenId(2)], target[1].Response);
        Assert.Equal([bos], target[2].Prompt);                       // "<item_0> Alpha (rock)": every token trained
        Assert.Equal([.. tok.Encode(corpus[2]), eos], target[2].Response);
        // The same tokens either way (but a window's EOS): only where the loss falls differs.
        for (int i = 0; i < corpus.Count; i++)
            Assert.Equal([.. all[i].Prompt, .. all[i].Response], [.. target[i].Prompt, .. target[i].Response, .. (i < 2 ? new[] { eos } : [])]);

        // A title model has no windows of item tokens: everything trains.
        Assert.True(PretrainCorpus.Tokenize(["Alpha, Beta"], tok.Inner, PretrainLoss.Target).TrainOnPrompt);
    }
}
