namespace RecAlign.Text;

/// <summary>The one tokenizer interface every layer uses (prompts, training, inference).</summary>
public interface ITokenizer
{
    /// <summary>Number of ids (max id + 1); the model's embedding table needs at least this many rows.</summary>
    int VocabSize { get; }
    int? PadId { get; }
    int? BosId { get; }
    int? EosId { get; }
    int? UnkId { get; }

    /// <summary>Special/added tokens by their text form.</summary>
    IReadOnlyDictionary<string, int> SpecialTokens { get; }

    /// <summary>The chat format of an instruct checkpoint, or null when the tokenizer has none.</summary>
    IChatTemplate? ChatTemplate { get; }

    /// <summary>Encodes text; prepends <see cref="BosId"/> when <paramref name="addBos"/> and the tokenizer has one.
    /// Never appends EOS: callers decide where sequences end.</summary>
    int[] Encode(string text, bool addBos = false);

    /// <summary>Decodes ids to text; special tokens are dropped when <paramref name="skipSpecialTokens"/>.</summary>
    string Decode(IEnumerable<int> ids, bool skipSpecialTokens = true);

    /// <summary>Id of a special token (or a whole vocabulary entry); null when unknown.</summary>
    int? TokenToId(string token);

    /// <summary>Text form of an id (special token name or vocabulary entry); null when out of range.</summary>
    string? IdToToken(int id);

    /// <summary>Writes the files <see cref="TokenizerLoader.Load"/> needs to rebuild this tokenizer.</summary>
    void Save(string directory);
}

/// <summary>Helpers over <see cref="ITokenizer"/>.</summary>
public static class TokenizerExtensions
{
    /// <summary>The id used for padding: <see cref="ITokenizer.PadId"/>, else EOS (as HF does for Llama-3), else 0.</summary>
    public static int PadOrEosId(this ITokenizer tokenizer) => tokenizer.PadId ?? tokenizer.EosId ?? 0;

    /// <summary>Ids that end generation: EOS plus the chat template's end-of-turn token when it differs.</summary>
    public static IReadOnlyList<int> StopIds(this ITokenizer tokenizer)
    {
        var ids = new List<int>();
        if (tokenizer.EosId is { } eos) ids.Add(eos);
        if (tokenizer.ChatTemplate?.EndOfTurn is { } end && tokenizer.TokenToId(end) is { } endId && !ids.Contains(endId)) ids.Add(endId);
        return ids;
    }
}
