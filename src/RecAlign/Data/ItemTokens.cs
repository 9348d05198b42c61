using System.Text.RegularExpressions;

namespace RecAlign.Data;

/// <summary>How catalog items are written in text for a language model: by title (what the LM reads as words), by a
/// dedicated item token (one vocabulary entry per item, P5/TIGER-style), or both ("&lt;item_k&gt; Title").</summary>
public enum ItemText
{
    Title,
    Token,
    TitleToken,
}

/// <summary>The text form of item tokens, <c>&lt;item_k&gt;</c> with k the catalog id, shared by prompts (which write
/// them) and the tokenizer (which gives each one vocabulary entry).</summary>
public static partial class ItemTokens
{
    public static string Token(int item) => $"<item_{item.ToString(System.Globalization.CultureInfo.InvariantCulture)}>";

    /// <summary>An item token with at most one space before it (absorbed into the token, as a byte-level BPE word
    /// carries its leading space); group 1 is the id.</summary>
    [GeneratedRegex(@" ?<item_(0|[1-9][0-9]{0,8})>", RegexOptions.CultureInvariant)]
    public static partial Regex Pattern();

    /// <summary>The item id of a text that is exactly one item token, else null.</summary>
    public static int? Parse(string text)
    {
        var m = Pattern().Match(text);
        return m.Success && m.Index == 0 && m.Length == text.Length && text[0] == '<' ? int.Parse(m.Groups[1].ValueSpan, provider: System.Globalization.CultureInfo.InvariantCulture) : null;
    }

    /// <summary>Item <paramref name="id"/> of <paramref name="catalog"/> as <paramref name="mode"/> writes it.</summary>
    public static string Render(ItemCatalog catalog, int id, ItemText mode) => mode switch
    {
        ItemText.Title => catalog.Title(id),
        ItemText.Token => Token(id),
        ItemText.TitleToken => $"{Token(id)} {catalog.Title(id)}",
        _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, null),
    };

    /// <summary>What a model answers for item <paramref name="id"/>: its title, or with item tokens the token alone (one
    /// token: ranking the answer is one softmax, and generation constrained to tokens is always a valid item).</summary>
    public static string Answer(ItemCatalog catalog, int id, ItemText mode) => mode == ItemText.Title ? catalog.Title(id) : Token(id);
}
