using RecAlign.Training;
using RecAlign.Data;
using RecAlign.Prompts;

namespace RecAlign.Pipelines.Stages;

/// <summary>What a from-scratch model reads before SFT: every catalog title (with its genres) and every user's
/// history rendered as a title list, minus the items held out for validation and test, so no target leaks.</summary>
public static class PretrainCorpus
{
    public static List<string> FromDataset(InteractionDataset dataset, int holdOutLast = 2)
    {
        var histories = Data.Splits.Splitter.Sequences(dataset)
            .Select(s => s.Items.Length > holdOutLast ? s.Items[..^holdOutLast] : [])
            .Where(items => items.Length > 0)
            .Select(items => PromptBuilder.Join(items.Select(dataset.Catalog.Title), ItemListStyle.Comma));
        var catalog = dataset.Catalog.Items.Select(i => i.Genres.Count > 0 ? $"{i.Title} ({string.Join(", ", i.Genres)})" : i.Title);
        return histories.Concat(catalog).ToList();
    }
}
