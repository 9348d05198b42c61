using RecAlign.Randomness;
using RecAlign.Data;
using RecAlign.Data.Candidates;

namespace RecAlign.Prompts;

/// <summary>
/// Renders candidate examples into prompt/response pairs and preference examples. The template is sampled per
/// example and rejected items are chosen per example from RNGs seeded by (seed, user, history length) — never by
/// the target. Response = the target title, or its item token (<see cref="PromptConfig.ItemText"/>; the tokenizer appends EOS). An optional chat template hook wraps the
/// rendered prompt (user message in, full chat-formatted prompt out) for instruct checkpoints.
/// </summary>
public sealed class PromptBuilder
{
    private readonly IReadOnlyList<PromptTemplate> _templates;
    private readonly ItemCatalog _catalog;
    private readonly Func<string, string>? _chat;

    public PromptConfig Config { get; }

    public PromptBuilder(ItemCatalog catalog, IReadOnlyList<PromptTemplate>? templates = null, PromptConfig? config = null, Func<string, string>? chatTemplate = null)
    {
        _catalog = catalog;
        _templates = templates ?? PromptTemplates.Item;
        if (_templates.Count == 0) throw new ArgumentException("at least one prompt template is needed", nameof(templates));
        Config = config ?? new PromptConfig();
        if (Config.MaxHistory < 0) throw new ArgumentException($"prompt config: max_history must be >= 0, got {Config.MaxHistory}");
        _chat = chatTemplate;
    }

    /// <summary>The prompt for <paramref name="example"/> (no answer in it).</summary>
    public string Prompt(CandidateExample example)
    {
        var rng = Rng(example, 1);
        var template = _templates[_templates.Count == 1 ? 0 : rng.NextInt(_templates.Count)];
        var history = Config.OmitHistory ? [] : example.History;
        if (Config.MaxHistory > 0 && history.Count > Config.MaxHistory)
            history = history.Skip(history.Count - Config.MaxHistory).ToArray();
        var values = new Dictionary<string, string>(4, StringComparer.Ordinal)
        {
            [PromptTemplate.History] = Join(history.Select(Render), Config.HistoryStyle),
            [PromptTemplate.Candidates] = Join(example.Candidates.Select(Render), Config.CandidateStyle),
            [PromptTemplate.Count] = example.Candidates.Count.ToString(System.Globalization.CultureInfo.InvariantCulture),
            [PromptTemplate.HistoryEmbeddings] = string.Join(", ", history.Select(h => $"{Render(h)} {Config.EmbeddingToken}")),
            [PromptTemplate.HistorySequence] = SequencePrefix(history, _catalog, Config.ItemText),
        };
        var text = template.Render(values) + Config.PromptSuffix;
        return _chat is null ? text : _chat(text);
    }

    public PromptExample Build(CandidateExample example) => new(Prompt(example), Answer(example.Target));

    public List<PromptExample> Build(IEnumerable<CandidateExample> examples) => examples.Select(Build).ToList();

    /// <summary>Chosen = target title; rejected = <paramref name="rejectedCount"/> (default
    /// <see cref="PromptConfig.RejectedCount"/>) distinct negative titles from the candidate list, seeded per example.</summary>
    public PreferenceExample BuildPreference(CandidateExample example, int? rejectedCount = null)
    {
        int k = rejectedCount ?? Config.RejectedCount;
        if (k < 1) throw new ArgumentException($"rejected count must be >= 1, got {k}");
        var chosen = Answer(example.Target);
        var negatives = example.Candidates.Select(Answer).Where(t => t != chosen).Distinct(StringComparer.Ordinal).ToArray();
        if (negatives.Length < k)
            throw new ArgumentException($"example of user {example.User}: {negatives.Length} negatives in the candidate list, {k} rejected requested");
        var rng = Rng(example, 2);
        for (int i = 0; i < k; i++) // partial Fisher-Yates: the first k are a uniform k-subset in random order
        {
            int j = i + rng.NextInt(negatives.Length - i);
            (negatives[i], negatives[j]) = (negatives[j], negatives[i]);
        }
        return new PreferenceExample(Prompt(example), chosen, negatives[..k]);
    }

    public List<PreferenceExample> BuildPreferences(IEnumerable<CandidateExample> examples, int? rejectedCount = null)
        => examples.Select(e => BuildPreference(e, rejectedCount)).ToList();

    /// <summary>Item <paramref name="id"/> as prompts show it (<see cref="PromptConfig.ItemText"/>).</summary>
    public string Render(int id) => ItemTokens.Render(_catalog, id, Config.ItemText);

    /// <summary>The answer naming item <paramref name="id"/>: its title, or its item token.</summary>
    public string Answer(int id) => ItemTokens.Answer(_catalog, id, Config.ItemText);

    /// <summary>A sequence of items as the LM's pretraining corpus writes it (one text per history or window): titles
    /// joined by ", ", item tokens separated by spaces, or with <see cref="ItemText.TitleToken"/> each item's token then
    /// its title ("&lt;item_0&gt; A &lt;item_1&gt; B": the token delimits items, so the history carries the titles a
    /// hybrid prompt keeps beside its item embeddings, as LLaRA's does).</summary>
    public static string Sequence(IEnumerable<int> items, ItemCatalog catalog, ItemText mode) => mode switch
    {
        ItemText.Title => Join(items.Select(catalog.Title), ItemListStyle.Comma),
        ItemText.Token => string.Join(" ", items.Select(ItemTokens.Token)),
        _ => string.Join(" ", items.Select(i => ItemTokens.Render(catalog, i, mode))),
    };

    /// <summary><see cref="Sequence"/> of a history, up to where its next item goes: titles end with their ","
    /// separator (the answer's leading space completes it), item tokens need none. Prompt + answer is then exactly a
    /// pretraining text: "A, B," + " C" + EOS (with <see cref="ItemText.TitleToken"/>, the text up to the target's
    /// title: the answer is its token). An empty history is empty.</summary>
    public static string SequencePrefix(IReadOnlyList<int> history, ItemCatalog catalog, ItemText mode) =>
        history.Count == 0 ? "" : Sequence(history, catalog, mode) + (mode == ItemText.Title ? "," : "");

    /// <summary>Joins titles in <paramref name="style"/>.</summary>
    public static string Join(IEnumerable<string> titles, ItemListStyle style) => style switch
    {
        ItemListStyle.Comma => string.Join(", ", titles),
        ItemListStyle.Quoted => string.Join(", ", titles.Select(t => "\"" + t + "\"")),
        ItemListStyle.Numbered => string.Join("\n", titles.Select((t, i) => $"{i + 1}. {t}")),
        _ => throw new ArgumentOutOfRangeException(nameof(style), style, null),
    };

    private Pcg32 Rng(CandidateExample e, long purpose) => new(ExampleSeed.Of(Config.Seed, e.User, e.History.Count, purpose), 0x9207);
}
