using RecAlign.Data;
using RecAlign.Pipelines.Stages;

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
    }

    [Fact]
    public void WindowsAreTheLastItemsAPromptShowsThenTheTarget()
    {
        var examples = new List<SequenceExample> { new(0, [0, 1, 2, 0, 1], 2, 0), new(1, [], 1, 0), new(2, [2], 0, 0) };
        Assert.Equal([[0, 1, 2], [1], [2, 0]], PretrainCorpus.Windows(examples, maxHistory: 2));
        Assert.Equal([0, 1, 2, 0, 1, 2], PretrainCorpus.Windows(examples, maxHistory: 0)[0]);
    }
}
