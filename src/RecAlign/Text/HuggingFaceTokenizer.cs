using System.Text.Json.Nodes;
using System.Text;
using System.Text.Json;
using Microsoft.ML.Tokenizers;

namespace RecAlign.Text;

/// <summary>A HuggingFace <c>tokenizer.json</c> byte-level BPE (GPT-2, Llama-3, Qwen2, SmolLM), run by
/// Microsoft.ML.Tokenizers' <see cref="BpeTokenizer"/> with the file's own pre-tokenizer. Added tokens in the text
/// are matched as whole tokens (as HF does), so rendered chat templates encode correctly. Special ids come from
/// <c>tokenizer_config.json</c> when present.</summary>
public sealed class HuggingFaceTokenizer : ITokenizer
{
    public const string TokenizerFile = "tokenizer.json";
    public const string ConfigFile = "tokenizer_config.json";
    public const string SpecialTokensMapFile = "special_tokens_map.json";

    private readonly BpeTokenizer _bpe;
    private readonly HuggingFacePreTokenizer _preTokenizer;
    private readonly HuggingFaceNormalizer? _normalizer;
    private readonly bool _ignoreMerges;
    private readonly Dictionary<string, int> _vocab;
    private readonly Dictionary<int, string> _idToVocab;
    private readonly Dictionary<int, (string Content, bool Special)> _added;
    private readonly Dictionary<string, int> _addedByContent;
    private readonly string _tokenizerJson;
    private readonly string? _configJson;
    private readonly string? _specialMapJson;

    public int VocabSize { get; }
    public int? PadId { get; }
    public int? BosId { get; }
    public int? EosId { get; }
    public int? UnkId { get; }
    public IReadOnlyDictionary<string, int> SpecialTokens => _addedByContent;
    public IChatTemplate? ChatTemplate { get; }
    /// <summary>True when tokenizer.json asks for NFC/NFKC normalisation but the runtime runs with invariant
    /// globalization, so that step is skipped (only non-composed input can then tokenize differently from HF).</summary>
    public bool SkipsUnicodeNormalization => _normalizer?.SkipsUnicodeNormalization ?? false;

    private HuggingFaceTokenizer(string tokenizerJson, string? configJson, string? specialMapJson, string source)
    {
        _tokenizerJson = tokenizerJson;
        _configJson = configJson;
        _specialMapJson = specialMapJson;

        using var doc = Parse(tokenizerJson, source);
        var root = doc.RootElement;
        if (!root.TryGetProperty("model", out var model) || model.ValueKind != JsonValueKind.Object)
            throw new InvalidDataException($"{source}: missing object field 'model'.");
        var modelType = model.TryGetProperty("type", out var mt) ? mt.GetString() : "BPE";
        if (modelType != "BPE") throw new NotSupportedException($"{source}: model type '{modelType}' is not supported (BPE only).");
        if (model.TryGetProperty("byte_fallback", out var bf) && bf.ValueKind == JsonValueKind.True)
            throw new NotSupportedException($"{source}: model.byte_fallback=true is SentencePiece-style BPE, not supported (byte-level BPE only).");

        _vocab = ReadVocab(model, source);
        var merges = ReadMerges(model, source);

        _added = [];
        _addedByContent = new Dictionary<string, int>(StringComparer.Ordinal);
        if (root.TryGetProperty("added_tokens", out var addedEl) && addedEl.ValueKind == JsonValueKind.Array)
        {
            int i = 0;
            foreach (var a in addedEl.EnumerateArray())
            {
                if (!a.TryGetProperty("id", out var idEl) || !idEl.TryGetInt32(out var id) || id < 0 || id >= MaxId)
                    throw new InvalidDataException($"{source}: added_tokens[{i}].id must be an integer in [0, {MaxId}).");
                if (!a.TryGetProperty("content", out var c) || c.GetString() is not { Length: > 0 } content)
                    throw new InvalidDataException($"{source}: added_tokens[{i}].content must be a non-empty string.");
                bool special = a.TryGetProperty("special", out var sp) && sp.ValueKind == JsonValueKind.True;
                _added[id] = (content, special);
                _addedByContent[content] = id;
                i++;
            }
        }

        JsonElement? preSpec = root.TryGetProperty("pre_tokenizer", out var pre) && pre.ValueKind == JsonValueKind.Object ? pre : null;
        var preTokenizer = HuggingFacePreTokenizer.Create(preSpec, _addedByContent.Keys, source);
        bool decoderByteLevel = root.TryGetProperty("decoder", out var dec) && dec.ValueKind == JsonValueKind.Object && MentionsByteLevel(dec);
        if (!preTokenizer.IsByteLevel && !decoderByteLevel)
            throw new NotSupportedException($"{source}: neither pre_tokenizer nor decoder is ByteLevel; only byte-level BPE is supported.");
        JsonElement? normSpec = root.TryGetProperty("normalizer", out var norm) && norm.ValueKind == JsonValueKind.Object ? norm : null;

        _preTokenizer = preTokenizer;
        _normalizer = HuggingFaceNormalizer.Create(normSpec, preTokenizer.AddPrefixSpace, source);
        _ignoreMerges = model.TryGetProperty("ignore_merges", out var im) && im.ValueKind == JsonValueKind.True;
        // Normalisation, pre-tokenisation and added tokens are handled in Encode; the library runs the BPE per piece.
        _bpe = BpeTokenizer.Create(new BpeOptions(_vocab) { Merges = merges, ByteLevel = true });

        _idToVocab = new Dictionary<int, string>(_vocab.Count);
        foreach (var (tok, id) in _vocab) _idToVocab.TryAdd(id, tok);
        VocabSize = Math.Max(_vocab.Count == 0 ? 0 : _vocab.Values.Max() + 1, _added.Count == 0 ? 0 : _added.Keys.Max() + 1);

        // Special ids: tokenizer_config.json, then special_tokens_map.json, then well-known names.
        using var config = configJson is null ? null : Parse(configJson, ConfigFile);
        using var specialMap = specialMapJson is null ? null : Parse(specialMapJson, SpecialTokensMapFile);
        BosId = SpecialId("bos_token", config, specialMap, "<|begin_of_text|>", "<s>", "<|endoftext|>");
        EosId = SpecialId("eos_token", config, specialMap, "<|end_of_text|>", "</s>", "<|endoftext|>");
        PadId = SpecialId("pad_token", config, specialMap, "<|pad|>", "<pad>");
        UnkId = SpecialId("unk_token", config, specialMap, "<unk>");
        if (UnkId is null && model.TryGetProperty("unk_token", out var mu) && mu.GetString() is { } unk) UnkId = TokenToId(unk);

        string? jinja = config is not null && config.RootElement.TryGetProperty("chat_template", out var ct) && ct.ValueKind == JsonValueKind.String
            ? ct.GetString() : null;
        ChatTemplate = ChatTemplates.Detect(t => TokenToId(t) is not null, jinja);
    }

    /// <summary>Token ids (vocabulary and added tokens) must be below this: the vocabulary size follows from the
    /// largest id, and the largest released vocabularies are ~256k.</summary>
    public const int MaxId = 1 << 24;

    /// <summary>Loads <c>tokenizer.json</c> (+ <c>tokenizer_config.json</c>, <c>special_tokens_map.json</c> when present).</summary>
    public static HuggingFaceTokenizer Load(string directory)
    {
        var path = Path.GetFullPath(Path.Combine(directory, TokenizerFile));
        if (!File.Exists(path)) throw new FileNotFoundException($"Tokenizer not found: {path}", path);
        var config = Path.Combine(directory, ConfigFile);
        var map = Path.Combine(directory, SpecialTokensMapFile);
        try
        {
            return new HuggingFaceTokenizer(File.ReadAllText(path),
                File.Exists(config) ? File.ReadAllText(config) : null,
                File.Exists(map) ? File.ReadAllText(map) : null, path);
        }
        // JsonElement accessors and the BPE builder say what is wrong, not where: the file is named here.
        catch (Exception e) when (e is InvalidOperationException or KeyNotFoundException or IndexOutOfRangeException)
        {
            throw new InvalidDataException($"{path} (or its {ConfigFile}/{SpecialTokensMapFile}): {e.Message}", e);
        }
    }

    /// <summary>Builds from in-memory file contents.</summary>
    public static HuggingFaceTokenizer FromJson(string tokenizerJson, string? tokenizerConfigJson = null, string? specialTokensMapJson = null) =>
        new(tokenizerJson, tokenizerConfigJson, specialTokensMapJson, TokenizerFile);

    /// <summary>This tokenizer with extra added tokens (id, content) at the end of <c>added_tokens</c>: how another
    /// library (transformers' AutoTokenizer) learns that each of them is one token with that id.</summary>
    public HuggingFaceTokenizer WithAddedTokens(IEnumerable<(int Id, string Content)> tokens)
    {
        var root = JsonNode.Parse(_tokenizerJson)!.AsObject();
        if (root["added_tokens"] is not JsonArray added) root["added_tokens"] = added = [];
        foreach (var (id, content) in tokens)
            added.Add(new JsonObject
            {
                ["id"] = id, ["content"] = content, ["single_word"] = false, ["lstrip"] = false, ["rstrip"] = false,
                ["normalized"] = false, ["special"] = false,
            });
        return new HuggingFaceTokenizer(root.ToJsonString(), _configJson, _specialMapJson, TokenizerFile);
    }

    /// <summary>This tokenizer without the added tokens whose id is <paramref name="firstId"/> or above (undoes
    /// <see cref="WithAddedTokens"/>).</summary>
    public HuggingFaceTokenizer WithoutAddedTokensFrom(int firstId, string source)
    {
        var root = JsonNode.Parse(_tokenizerJson)!.AsObject();
        if (root["added_tokens"] is JsonArray added)
            foreach (var t in added.Where(t => t?["id"] is JsonValue v && v.TryGetValue<int>(out var id) && id >= firstId).ToList())
                added.Remove(t);
        return new HuggingFaceTokenizer(root.ToJsonString(), _configJson, _specialMapJson, source);
    }

    public int[] Encode(string text, bool addBos = false)
    {
        var ids = new List<int>(text.Length / 3 + 2);
        if (addBos && BosId is { } bos) ids.Add(bos);
        if (text.Length == 0) return [.. ids];
        var normalized = _normalizer?.Normalize(text) ?? text;
        foreach (var (offset, length) in _preTokenizer.PreTokenize(normalized))
        {
            var piece = normalized.Substring(offset, length);
            if (_addedByContent.TryGetValue(piece, out var added))
            {
                ids.Add(added);
                continue;
            }
            // Llama-3's ignore_merges: a pre-token that is itself a vocabulary entry is taken whole.
            if (_ignoreMerges && _vocab.TryGetValue(ByteLevel.Encode(piece), out var whole))
            {
                ids.Add(whole);
                continue;
            }
            ids.AddRange(_bpe.EncodeToIds(piece, considerPreTokenization: false, considerNormalization: false));
        }
        return [.. ids];
    }

    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = true)
    {
        var sb = new StringBuilder();
        var run = new List<int>();
        foreach (var id in ids)
        {
            if (_added.TryGetValue(id, out var a))
            {
                Flush(sb, run);
                if (!(a.Special && skipSpecialTokens)) sb.Append(a.Content);
                continue;
            }
            if (!_idToVocab.ContainsKey(id))
                throw new ArgumentOutOfRangeException(nameof(ids), id, "Token id is not in the vocabulary.");
            run.Add(id);
        }
        Flush(sb, run);
        return sb.ToString();
    }

    private void Flush(StringBuilder sb, List<int> run)
    {
        if (run.Count == 0) return;
        sb.Append(_bpe.Decode(run));
        run.Clear();
    }

    public int? TokenToId(string token) =>
        _addedByContent.TryGetValue(token, out var id) ? id : _vocab.TryGetValue(token, out id) ? id : null;

    public string? IdToToken(int id) =>
        _added.TryGetValue(id, out var a) ? a.Content : _idToVocab.TryGetValue(id, out var t) ? t : null;

    /// <summary>Writes back the files it was loaded from, unchanged, so HF tools read the same tokenizer.</summary>
    public void Save(string directory)
    {
        Directory.CreateDirectory(directory);
        TextFiles.WriteAtomic(Path.Combine(directory, TokenizerFile), _tokenizerJson);
        if (_configJson is not null) TextFiles.WriteAtomic(Path.Combine(directory, ConfigFile), _configJson);
        if (_specialMapJson is not null) TextFiles.WriteAtomic(Path.Combine(directory, SpecialTokensMapFile), _specialMapJson);
    }

    private int? SpecialId(string field, JsonDocument? config, JsonDocument? specialMap, params string[] fallbacks)
    {
        foreach (var (doc, file) in new[] { (config, ConfigFile), (specialMap, SpecialTokensMapFile) })
        {
            if (doc is null || !doc.RootElement.TryGetProperty(field, out var el)) continue;
            var content = el.ValueKind switch
            {
                JsonValueKind.String => el.GetString(),
                JsonValueKind.Object when el.TryGetProperty("content", out var c) => c.GetString(),
                JsonValueKind.Null => null,
                _ => throw new InvalidDataException($"{file}: field '{field}' must be a string, an object with 'content', or null."),
            };
            if (content is null) return null; // explicitly absent (e.g. Qwen2 has no BOS)
            return TokenToId(content) ?? throw new InvalidDataException(
                $"{file}: field '{field}' names '{content}', which is not in {TokenizerFile}.");
        }
        if (config is not null) return null; // a config that omits the field means the model has none
        foreach (var name in fallbacks)
            if (TokenToId(name) is { } id) return id;
        return null;
    }

    private static bool MentionsByteLevel(JsonElement e)
    {
        if (e.TryGetProperty("type", out var t) && t.GetString() == "ByteLevel") return true;
        foreach (var key in new[] { "decoders", "pretokenizers" })
            if (e.TryGetProperty(key, out var list) && list.ValueKind == JsonValueKind.Array && list.EnumerateArray().Any(MentionsByteLevel))
                return true;
        return false;
    }

    private static Dictionary<string, int> ReadVocab(JsonElement model, string source)
    {
        if (!model.TryGetProperty("vocab", out var vocab) || vocab.ValueKind != JsonValueKind.Object)
            throw new InvalidDataException($"{source}: missing object field 'model.vocab'.");
        var result = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var p in vocab.EnumerateObject())
        {
            if (!p.Value.TryGetInt32(out var id) || id < 0 || id >= MaxId)
                throw new InvalidDataException($"{source}: model.vocab[\"{p.Name}\"] must be an integer in [0, {MaxId}).");
            result[p.Name] = id;
        }
        return result;
    }

    private static List<string> ReadMerges(JsonElement model, string source)
    {
        var result = new List<string>();
        if (!model.TryGetProperty("merges", out var merges) || merges.ValueKind == JsonValueKind.Null) return result;
        if (merges.ValueKind != JsonValueKind.Array) throw new InvalidDataException($"{source}: model.merges must be an array.");
        int i = 0;
        foreach (var m in merges.EnumerateArray())
        {
            // Older files write "a b"; tokenizers >= 0.20 writes ["a", "b"].
            if (m.ValueKind == JsonValueKind.String && m.GetString() is { } s && s.IndexOf(' ') > 0)
                result.Add(s);
            else if (m.ValueKind == JsonValueKind.Array && m.GetArrayLength() == 2 && m[0].GetString() is { Length: > 0 } a && m[1].GetString() is { Length: > 0 } b)
            {
                if (a.Contains(' ') || b.Contains(' '))
                    throw new NotSupportedException($"{source}: model.merges[{i}] contains a space, which byte-level merges never do.");
                result.Add(a + " " + b);
            }
            else
                throw new InvalidDataException($"{source}: model.merges[{i}] must be \"a b\" or [\"a\", \"b\"].");
            i++;
        }
        return result;
    }

    private static JsonDocument Parse(string json, string source)
    {
        try
        {
            return JsonDocument.Parse(json, new JsonDocumentOptions { AllowTrailingCommas = true });
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{source}: not valid JSON (line {e.LineNumber + 1}): {RecAlign.IO.JsonErrors.Reason(e)}", e);
        }
    }
}

/// <summary>GPT-2's reversible byte → printable-character map used by byte-level BPE vocabularies.</summary>
internal static class ByteLevel
{
    private static readonly char[] Chars = Build();

    private static char[] Build()
    {
        var chars = new char[256];
        int n = 0;
        for (int b = 0; b < 256; b++)
        {
            bool printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            chars[b] = printable ? (char)b : (char)(256 + n++);
        }
        return chars;
    }

    /// <summary>The vocabulary spelling of <paramref name="text"/>'s UTF-8 bytes (space → 'Ġ', ...).</summary>
    public static string Encode(string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        return string.Create(bytes.Length, bytes, (span, b) =>
        {
            for (int i = 0; i < b.Length; i++) span[i] = Chars[b[i]];
        });
    }
}

/// <summary>Picks the tokenizer implementation from the files in a directory.</summary>
public static class TokenizerLoader
{
    /// <summary><c>tokenizer.json</c> → <see cref="HuggingFaceTokenizer"/>; <c>compact_vocab.json</c> →
    /// <see cref="CompactVocabularyTokenizer"/>; either wrapped in an <see cref="ItemTokenizer"/> when
    /// <c>item_tokens.json</c> is beside it.</summary>
    public static ITokenizer Load(string directory)
    {
        var inner = LoadBase(directory);
        return ItemTokenizer.Exists(directory) ? ItemTokenizer.Load(directory, inner) : inner;
    }

    private static ITokenizer LoadBase(string directory)
    {
        if (File.Exists(Path.Combine(directory, HuggingFaceTokenizer.TokenizerFile))) return HuggingFaceTokenizer.Load(directory);
        if (File.Exists(Path.Combine(directory, CompactVocabularyTokenizer.FileName))) return CompactVocabularyTokenizer.Load(directory);
        throw new FileNotFoundException(
            $"{Path.GetFullPath(directory)}: no tokenizer found (looked for {HuggingFaceTokenizer.TokenizerFile} and {CompactVocabularyTokenizer.FileName}).");
    }

    /// <summary>True when <see cref="Load"/> would find a tokenizer in <paramref name="directory"/>.</summary>
    public static bool Exists(string directory) =>
        File.Exists(Path.Combine(directory, HuggingFaceTokenizer.TokenizerFile)) ||
        File.Exists(Path.Combine(directory, CompactVocabularyTokenizer.FileName));
}
