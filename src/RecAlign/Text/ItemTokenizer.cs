using System.Text;
using System.Text.Json.Nodes;
using RecAlign.Data;
using RecAlign.Data.Formats;

namespace RecAlign.Text;

/// <summary>
/// A tokenizer with one dedicated token per catalog item: ids <c>base.VocabSize + k</c> for item k, written
/// <c>&lt;item_k&gt;</c> in text (<see cref="ItemTokens"/>). Text between item tokens goes through the base tokenizer;
/// an item token absorbs one space before it (HF's <c>lstrip</c>), so "a, &lt;item_3&gt;" and the answer
/// " &lt;item_3&gt;" hold the same single token, and a history of tokens joined by spaces is a plain item-id sequence.
/// Decoding writes a space before an item token that follows text, so prompts round-trip. Saved beside the base
/// tokenizer's files as <c>item_tokens.json</c> plus the catalog (<c>items.jsonl</c>).
/// </summary>
public sealed class ItemTokenizer : ITokenizer
{
    public const string FileName = "item_tokens.json";
    private const string FormatName = "recalign.item_tokens";
    private const int FormatVersion = 1;

    public ItemTokenizer(ITokenizer inner, ItemCatalog catalog)
    {
        if (inner is ItemTokenizer) throw new ArgumentException("the tokenizer already has item tokens", nameof(inner));
        if (catalog.Count == 0) throw new ArgumentException("item tokens need a non-empty catalog", nameof(catalog));
        Inner = inner;
        Catalog = catalog;
        if ((long)inner.VocabSize + catalog.Count > int.MaxValue)
            throw new ArgumentException($"{inner.VocabSize} base ids + {catalog.Count} item tokens exceed the int32 id range", nameof(catalog));
    }

    /// <summary>The tokenizer every non-item text goes through.</summary>
    public ITokenizer Inner { get; }
    /// <summary>The items, token k ↔ catalog id k.</summary>
    public ItemCatalog Catalog { get; }
    /// <summary>How many of a history's last items a model of this vocabulary reads when it ranks the whole catalog
    /// (the window length it was pretrained on; 0: the whole history).</summary>
    public int HistoryWindow { get; init; }
    /// <summary>True when the model's pretraining texts write each item's title after its token ("&lt;item_k&gt;
    /// Title", <c>item_text=title_token</c>): ranking the catalog then reads the history in that format too.</summary>
    public bool HistoryTitles { get; init; }
    /// <summary>The first item token's id (= the base vocabulary size).</summary>
    public int FirstItemId => Inner.VocabSize;

    public int VocabSize => Inner.VocabSize + Catalog.Count;
    public int? PadId => Inner.PadId;
    public int? BosId => Inner.BosId;
    public int? EosId => Inner.EosId;
    public int? UnkId => Inner.UnkId;
    public IReadOnlyDictionary<string, int> SpecialTokens => Inner.SpecialTokens;
    public IChatTemplate? ChatTemplate => Inner.ChatTemplate;

    public int ItemTokenId(int item) => (uint)item < (uint)Catalog.Count ? FirstItemId + item
        : throw new ArgumentOutOfRangeException(nameof(item), item, $"item ids are 0..{Catalog.Count - 1}");

    /// <summary>The catalog id of token <paramref name="id"/>, or null when it is not an item token.</summary>
    public int? ItemOf(int id) => id >= FirstItemId && id < VocabSize ? id - FirstItemId : null;

    public int[] Encode(string text, bool addBos = false)
    {
        var ids = new List<int>(text.Length / 3 + 2);
        if (addBos && BosId is { } bos) ids.Add(bos);
        int at = 0;
        foreach (System.Text.RegularExpressions.Match m in ItemTokens.Pattern().Matches(text))
        {
            int item = int.Parse(m.Groups[1].ValueSpan, provider: System.Globalization.CultureInfo.InvariantCulture);
            if (item >= Catalog.Count) continue; // not one of ours: stays text
            if (m.Index > at) ids.AddRange(Inner.Encode(text[at..m.Index]));
            ids.Add(FirstItemId + item);
            at = m.Index + m.Length;
        }
        if (at < text.Length) ids.AddRange(Inner.Encode(at == 0 ? text : text[at..]));
        return [.. ids];
    }

    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = true)
    {
        var sb = new StringBuilder();
        var run = new List<int>();
        void Flush()
        {
            if (run.Count == 0) return;
            sb.Append(Inner.Decode(run, skipSpecialTokens));
            run.Clear();
        }
        foreach (var id in ids)
        {
            if (ItemOf(id) is not { } item)
            {
                run.Add(id);
                continue;
            }
            Flush();
            if (sb.Length > 0 && !char.IsWhiteSpace(sb[^1])) sb.Append(' ');
            sb.Append(ItemTokens.Token(item));
        }
        Flush();
        return sb.ToString();
    }

    public int? TokenToId(string token) =>
        ItemTokens.Parse(token) is { } item && item < Catalog.Count ? FirstItemId + item : Inner.TokenToId(token);

    public string? IdToToken(int id) => ItemOf(id) is { } item ? ItemTokens.Token(item) : Inner.IdToToken(id);

    public void Save(string directory)
    {
        // A HuggingFace tokenizer.json also lists the item tokens as added tokens (ids after the base vocabulary), so
        // transformers encodes "<item_k>" as the one token this model has for it; loading strips them again.
        if (Inner is HuggingFaceTokenizer hf)
            hf.WithAddedTokens(Enumerable.Range(0, Catalog.Count).Select(i => (FirstItemId + i, ItemTokens.Token(i)))).Save(directory);
        else Inner.Save(directory);
        var root = new JsonObject
        {
            ["format"] = FormatName,
            ["version"] = FormatVersion,
            ["base_vocab_size"] = Inner.VocabSize,
            ["item_count"] = Catalog.Count,
            ["token_format"] = ItemTokens.Token(0).Replace("0", "{id}"),
            ["history_window"] = HistoryWindow,
            ["history_titles"] = HistoryTitles,
        };
        var options = new System.Text.Json.JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        TextFiles.WriteAtomic(Path.Combine(directory, FileName), root.ToJsonString(options) + "\n");
        CatalogJsonl.Write(Catalog, directory);
    }

    /// <summary>True when <paramref name="directory"/> holds item tokens beside its tokenizer.</summary>
    public static bool Exists(string directory) => File.Exists(Path.Combine(directory, FileName));

    /// <summary>Wraps <paramref name="inner"/> with the item tokens saved in <paramref name="directory"/>, checking that
    /// they fit it (the base vocabulary the ids start after, the catalog size).</summary>
    public static ItemTokenizer Load(string directory, ITokenizer inner)
    {
        var path = Path.GetFullPath(Path.Combine(directory, FileName));
        JsonObject obj;
        try { obj = JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new InvalidDataException($"{path}: top level must be an object."); }
        catch (System.Text.Json.JsonException e) { throw new InvalidDataException($"{path}: not valid JSON (line {e.LineNumber + 1}): {RecAlign.IO.JsonErrors.Reason(e)}", e); }
        if ((string?)(obj["format"] as JsonValue) != FormatName) throw new InvalidDataException($"{path}: field 'format' must be '{FormatName}'.");
        int Int(string field) => obj[field] is JsonValue v && v.TryGetValue<int>(out var n) && n >= 0 ? n
            : throw new InvalidDataException($"{path}: field '{field}' must be a non-negative integer.");
        if (Int("version") != FormatVersion) throw new InvalidDataException($"{path}: field 'version' must be {FormatVersion}.");
        // tokenizer.json lists the item tokens for other libraries (see Save); this tokenizer adds them itself.
        if (inner is HuggingFaceTokenizer hf && hf.VocabSize > Int("base_vocab_size"))
            inner = hf.WithoutAddedTokensFrom(Int("base_vocab_size"), Path.GetFullPath(Path.Combine(directory, HuggingFaceTokenizer.TokenizerFile)));
        if (Int("base_vocab_size") != inner.VocabSize)
            throw new InvalidDataException($"{path}: field 'base_vocab_size' is {Int("base_vocab_size")} but the tokenizer beside it has {inner.VocabSize} ids");
        var catalog = CatalogJsonl.Read(Path.Combine(directory, CatalogJsonl.FileName));
        if (catalog.Count != Int("item_count"))
            throw new InvalidDataException($"{path}: field 'item_count' is {Int("item_count")} but {CatalogJsonl.FileName} holds {catalog.Count} items");
        int window = obj["history_window"] is null ? 0 : Int("history_window");
        bool titles = obj["history_titles"] switch
        {
            null => false,
            JsonValue v when v.TryGetValue<bool>(out var b) => b,
            _ => throw new InvalidDataException($"{path}: field 'history_titles' must be true or false."),
        };
        return new ItemTokenizer(inner, catalog) { HistoryWindow = window, HistoryTitles = titles };
    }
}
