using RecAlign.Data;
using RecAlign.Data.Candidates;
using RecAlign.Data.Formats;
using RecAlign.Models;
using RecAlign.Models.Checkpoints;
using RecAlign.Prompts;
using RecAlign.Text;
using static TorchSharp.torch;

namespace RecAlign.Server;

/// <summary>A model to serve: the name requests use, its directory, and where it came from.</summary>
public sealed record ModelSpec(string Name, string Directory)
{
    /// <summary>The run whose <c>models/</c> folder holds it (<c>--run</c>), for <c>GET /v1/models</c>.</summary>
    public string? Run { get; init; }
    /// <summary>Prompt templates the model was trained with (LMs; ignored by id-based models).</summary>
    public string Template { get; init; } = "item";
    /// <summary>How prompts write items; null: item tokens when the directory has them, else titles.</summary>
    public ItemText? ItemText { get; init; }
}

/// <summary>One item a request names: by title, or by the id the data used (<see cref="Item.ExternalId"/>).</summary>
public readonly record struct ItemRef(string? Title, string? Id)
{
    public override string ToString() => Id is not null ? $"id '{Id}'" : $"'{Title}'";
}

/// <summary>A request's items that are not in a model's catalog (never guessed at: the request is refused).</summary>
public sealed class UnknownItemsException(string field, IReadOnlyList<string> unknown)
    : ArgumentException($"{field}: not in the model's catalog: {string.Join(", ", unknown.Take(10))}{(unknown.Count > 10 ? $" (and {unknown.Count - 10} more)" : "")}")
{
    public IReadOnlyList<string> Unknown { get; } = unknown;
}

/// <summary>
/// A loaded recommender behind a name, with what the server needs around the <see cref="IRecommender"/> contract: the
/// catalog requests name items in, and the prompt builder that turns (history, candidates) into the question the model
/// answers. Every kind of model goes through the same two calls (<see cref="IRecommender.ScoreCandidates"/> for a
/// candidate list, <see cref="IRecommender.ScoreCatalog"/> for the whole catalog), so the server never asks what it holds.
/// </summary>
public sealed class ServedModel : IDisposable
{
    private readonly IRecommender _own;
    private readonly IReadOnlyList<PromptTemplate> _templates;
    private readonly Dictionary<string, int> _byTitleIgnoringCase;

    public string Name { get; }
    /// <summary>The model directory it was loaded from (null for one built in code).</summary>
    public string? Directory { get; }
    public string? Run { get; }
    /// <summary>The model's kind as its config names it (<c>SASRec</c>, <c>llama</c>...), or "retriever→re-ranker".</summary>
    public string Kind => Recommender.Name;
    public long Parameters { get; }
    /// <summary>What answers requests: the model itself, or a retrieval + re-ranking composition (<see cref="UseRetriever"/>).</summary>
    public IRecommender Recommender { get; private set; }
    /// <summary>The items requests name and catalog requests rank; null for a title LM without a retriever (its
    /// requests name items by title and bring their candidates).</summary>
    public ItemCatalog? Catalog => Recommender.Catalog;
    public ItemText ItemText { get; }

    private ServedModel(string name, string? directory, string? run, string template, IRecommender recommender, long parameters, ItemText itemText)
    {
        Name = name;
        Directory = directory is null ? null : Path.GetFullPath(directory);
        Run = run;
        _own = Recommender = recommender;
        Parameters = parameters;
        ItemText = itemText;
        _templates = PromptTemplates.NamedOrFile(template);
        _byTitleIgnoringCase = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        IndexTitles();
    }

    /// <summary>Serves a recommender built in code (a baseline, a composition, a test double) under <paramref name="name"/>;
    /// the served model owns it from now on.</summary>
    public static ServedModel Create(string name, IRecommender recommender, ItemText itemText = ItemText.Title, string template = "item", long parameters = 0) =>
        new(name, null, null, template, recommender, parameters, itemText);

    /// <summary>Loads <paramref name="spec"/>'s directory; any failure names the model and its directory.</summary>
    public static ServedModel Load(ModelSpec spec, Device? device = null, int batchSize = 32)
    {
        try
        {
            var itemText = spec.ItemText ?? (ItemTokenizer.Exists(spec.Directory) ? ItemText.Token : ItemText.Title);
            if (itemText != ItemText.Title && !ItemTokenizer.Exists(spec.Directory))
                throw new ArgumentException($"item text {itemText} needs item tokens, and the directory has none ({ItemTokenizer.FileName})");
            var recommender = Recommenders.Load(spec.Directory, device);
            // One forward for a whole gathered batch (id-based models already score 256 at a time).
            if (recommender is Models.Language.LanguageModelRecommender lm) lm.BatchSize = batchSize;
            return new ServedModel(spec.Name, spec.Directory, spec.Run, spec.Template, recommender, CountParameters(spec.Directory), itemText);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new ModelLoadException(spec, e);
        }
    }

    /// <summary>Catalog requests go through <paramref name="retriever"/>'s top <paramref name="depth"/> items, which this
    /// model re-ranks (an LM without a catalog of its own can then rank the catalog; candidate lists stay its own).</summary>
    public void UseRetriever(ServedModel retriever, int depth)
    {
        if (retriever.Catalog is null) throw new ArgumentException($"model '{retriever.Name}' has no catalog to retrieve from");
        var catalog = retriever.Catalog;
        var builder = Builder(catalog);
        Recommender = new RetrieveThenRerank(retriever.Recommender, _own, depth,
            (history, retrieved) => CandidateQuestions.From(builder, catalog, [new CandidateExample(0, history, retrieved[0], retrieved)])[0]);
        IndexTitles();
    }

    private void IndexTitles()
    {
        _byTitleIgnoringCase.Clear();
        if (Catalog is not { } catalog) return;
        var ambiguous = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var item in catalog.Items)
            if (!_byTitleIgnoringCase.TryAdd(item.Title, item.Id)) ambiguous.Add(item.Title);
        foreach (var title in ambiguous) _byTitleIgnoringCase[title] = -1; // resolved only by exact title or id
    }

    /// <summary>Catalog ids of <paramref name="items"/>: by id, by exact title, or by a title that matches one item
    /// ignoring case. Anything else is an <see cref="UnknownItemsException"/> naming every such item.</summary>
    public int[] Resolve(IReadOnlyList<ItemRef> items, string field)
    {
        var catalog = Catalog ?? throw new InvalidOperationException($"model '{Name}' has no catalog");
        var ids = new int[items.Count];
        List<string>? unknown = null;
        for (int i = 0; i < items.Count; i++)
        {
            var r = items[i];
            int id = -1;
            if (r.Id is { } external) { if (!catalog.TryGetByExternalId(external, out id)) id = -1; }
            else if (!catalog.TryGetByTitle(r.Title!, out id) && !_byTitleIgnoringCase.TryGetValue(r.Title!, out id)) id = -1;
            if (id < 0) (unknown ??= []).Add(r.ToString());
            ids[i] = id;
        }
        if (unknown is not null) throw new UnknownItemsException(field, unknown);
        return ids;
    }

    /// <summary>The question a candidate request asks: the history and the candidates as this model reads them.</summary>
    public CandidateQuestion Question(IReadOnlyList<ItemRef> history, IReadOnlyList<ItemRef> candidates)
    {
        ItemCatalog catalog;
        int[] h, c;
        if (Catalog is { } own)
        {
            catalog = own;
            h = Resolve(history, "history");
            c = Resolve(candidates, "candidates");
        }
        else
        {
            // A title LM reads text: the request's own titles are its universe (ids are meaningless to it).
            var named = history.Concat(candidates).Where(r => r.Id is not null).Select(r => r.ToString()).ToList();
            if (named.Count > 0)
                throw new ArgumentException($"model '{Name}' reads titles and has no catalog of ids: name items by title ({string.Join(", ", named.Take(5))})");
            var titles = history.Concat(candidates).Select(r => r.Title!).Distinct(StringComparer.Ordinal).ToList();
            var index = titles.Select((t, i) => (t, i)).ToDictionary(p => p.t, p => p.i, StringComparer.Ordinal);
            catalog = new ItemCatalog(titles.Select((t, i) => new Item(i, i.ToString(System.Globalization.CultureInfo.InvariantCulture), t)));
            h = history.Select(r => index[r.Title!]).ToArray();
            c = candidates.Select(r => index[r.Title!]).ToArray();
        }
        if (c.Distinct().Count() != c.Length)
            throw new ArgumentException("candidates: each item may be listed once");
        return CandidateQuestions.From(Builder(catalog), catalog, [new CandidateExample(0, h, c[0], c)])[0];
    }

    /// <summary>Prompts as the model was trained on them: an item-token LM shows as many history items as its
    /// pretraining windows held (the pipeline's <c>max_history</c>).</summary>
    private PromptBuilder Builder(ItemCatalog catalog) => new(catalog, _templates, new PromptConfig
    {
        ItemText = ItemText,
        MaxHistory = _own is Models.Language.LanguageModelRecommender { Tokenizer: ItemTokenizer items } ? items.HistoryWindow : new PromptConfig().MaxHistory,
    });

    /// <summary>Catalog titles containing <paramref name="query"/> (ignoring case), shortest first: the web page's search.</summary>
    public IReadOnlyList<Item> Search(string query, int limit)
    {
        if (Catalog is not { } catalog) return [];
        var q = query.Trim();
        return catalog.Items.Where(i => q.Length == 0 || i.Title.Contains(q, StringComparison.OrdinalIgnoreCase))
            .OrderBy(i => i.Title.StartsWith(q, StringComparison.OrdinalIgnoreCase) ? 0 : 1).ThenBy(i => i.Title.Length).ThenBy(i => i.Id)
            .Take(limit).ToList();
    }

    /// <summary>Parameters stored in the directory's safetensors files (read from the headers, no weights loaded).</summary>
    private static long CountParameters(string directory)
    {
        if (!SafetensorsCheckpoint.Exists(directory)) return 0;
        using var checkpoint = SafetensorsCheckpoint.Open(directory);
        return checkpoint.TensorNames.Sum(n => checkpoint.GetInfo(n).ElementCount);
    }

    public void Dispose()
    {
        (Recommender as IDisposable)?.Dispose();
        if (!ReferenceEquals(Recommender, _own)) _own.Dispose();
    }
}

/// <summary>A model directory that could not be served; the message names the model and the directory.</summary>
public sealed class ModelLoadException(ModelSpec spec, Exception inner)
    : Exception($"model '{spec.Name}' ({Path.GetFullPath(spec.Directory)}) could not be loaded: {inner.Message}", inner)
{
    public ModelSpec Spec { get; } = spec;
}
