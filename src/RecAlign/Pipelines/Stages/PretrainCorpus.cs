using RecAlign.Data;
using RecAlign.Prompts;
using RecAlign.Text;

namespace RecAlign.Pipelines.Stages;

/// <summary>What a from-scratch model reads before SFT: every user's history (minus the items held out for validation
/// and test, so no target leaks) and every catalog item with its genres, written as <see cref="ItemText"/> says.</summary>
public static class PretrainCorpus
{
    /// <summary>Each user's items in order, without the last <paramref name="holdOutLast"/>.</summary>
    public static List<int[]> Histories(InteractionDataset dataset, int holdOutLast = 2) =>
        Data.Splits.Splitter.Sequences(dataset)
            .Select(s => s.Items.Length > holdOutLast ? s.Items[..^holdOutLast] : [])
            .Where(items => items.Length > 0)
            .ToList();

    /// <summary>Each next-item example as one sequence: the last <paramref name="maxHistory"/> history items (0: all),
    /// then the target, so pretraining sees histories as long as prompts show them.</summary>
    public static List<int[]> Windows(IReadOnlyList<SequenceExample> examples, int maxHistory) =>
        examples.Select(e => (int[])[.. maxHistory > 0 && e.History.Count > maxHistory ? e.History.Skip(e.History.Count - maxHistory) : e.History, e.Target]).ToList();

    /// <summary>Titles: each history as a comma-joined title list, each item as "Title (genres)". With item tokens:
    /// each history as its item tokens alone (next-item prediction is then plain language modelling, and a history
    /// prompt ranks the whole catalog in one softmax), and each item as "&lt;item_k&gt; Title (genres)", which ties the
    /// token to the words of its title.</summary>
    /// <param name="catalogText">Append the catalog lines; without them an item-token corpus is the histories alone.</param>
    public static List<string> Render(IReadOnlyList<int[]> histories, ItemCatalog catalog, ItemText mode, bool catalogText = true)
    {
        bool tokens = mode != ItemText.Title;
        var lines = histories.Select(items => PromptBuilder.Sequence(items, catalog, mode));
        var items = catalog.Items.Select(i => (tokens ? ItemTokens.Token(i.Id) + " " : "") + (i.Genres.Count > 0 ? $"{i.Title} ({string.Join(", ", i.Genres)})" : i.Title));
        return catalogText ? lines.Concat(items).ToList() : lines.ToList();
    }

    /// <summary>The corpus as training examples. <see cref="PretrainLoss.All"/>: every token of every text carries the
    /// loss. <see cref="PretrainLoss.Target"/> with item tokens: a window (a text of item tokens only) is read up to its
    /// last item, which alone carries the loss (no EOS after it: predicting the end of a window halved how fast the
    /// target was learned, docs/benchmarks.md, session 16); any other text keeps the loss on every token. The flag says
    /// whether the objective trains on the examples' prompts.</summary>
    public static (List<TokenizedExample> Examples, bool TrainOnPrompt) Tokenize(IReadOnlyList<string> corpus, ITokenizer tokenizer, PretrainLoss lossOn)
    {
        var eos = tokenizer.EosId ?? throw new InvalidOperationException("pretraining needs a tokenizer with EOS");
        if (lossOn == PretrainLoss.All || tokenizer is not ItemTokenizer items)
            return (corpus.Select(text => new TokenizedExample(tokenizer.Encode(text, addBos: true), [eos])).ToList(), true);
        int start = tokenizer.BosId is null ? 0 : 1;
        var examples = corpus.Select(text =>
        {
            var ids = tokenizer.Encode(text, addBos: true);
            bool window = ids.Length >= 2 && ids.Skip(start).All(id => items.ItemOf(id) is not null);
            return window ? new TokenizedExample(ids[..^1], [ids[^1]]) : new TokenizedExample(ids[..start], [.. ids[start..], eos]);
        }).ToList();
        return (examples, false);
    }
}
