using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace RecAlign.Text;

/// <summary>The default tokenizer for from-scratch models: cl100k_base BPE restricted to the ranks a training corpus
/// uses, renumbered densely after four specials (pad=0, bos=1, eos=2, unk=3). All 256 single-byte ranks are always
/// kept, so a merged token the corpus never produced is re-encoded as its bytes: any text round-trips and unk is
/// never emitted by <see cref="Encode"/>.</summary>
public sealed class CompactVocabularyTokenizer : ITokenizer
{
    public const string FileName = "compact_vocab.json";
    private const string FormatName = "recalign.compact_vocab";
    private const int FormatVersion = 1;
    private const int SpecialCount = 4;

    public const string PadToken = "<|pad|>";
    public const string BosToken = "<|bos|>";
    public const string EosToken = "<|eos|>";
    public const string UnkToken = "<|unk|>";
    private static readonly string[] SpecialNames = [PadToken, BosToken, EosToken, UnkToken];

    private readonly int[] _ranks;          // compact id - 4 → cl100k rank, ascending
    private readonly int[] _rankToCompact;  // cl100k rank → compact id, or -1

    /// <summary>The cl100k ranks kept, ascending; compact id = 4 + position.</summary>
    public IReadOnlyList<int> Cl100kIds => _ranks;
    public int VocabSize => SpecialCount + _ranks.Length;
    public int? PadId => 0;
    public int? BosId => 1;
    public int? EosId => 2;
    public int? UnkId => 3;
    public IReadOnlyDictionary<string, int> SpecialTokens { get; } =
        SpecialNames.Select((n, i) => KeyValuePair.Create(n, i)).ToDictionary();
    public IChatTemplate? ChatTemplate => null;

    private CompactVocabularyTokenizer(int[] ranks)
    {
        _ranks = ranks;
        _rankToCompact = Enumerable.Repeat(-1, Cl100kBase.RankCount).ToArray();
        for (int i = 0; i < ranks.Length; i++) _rankToCompact[ranks[i]] = SpecialCount + i;
    }

    /// <summary>Keeps every cl100k rank seen at least <paramref name="minCount"/> times in <paramref name="corpus"/>,
    /// plus the 256 byte ranks. Ids are ordered by cl100k rank, so the result depends only on the set of ranks
    /// kept, not on corpus order.</summary>
    public static CompactVocabularyTokenizer Build(IEnumerable<string> corpus, int minCount = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(minCount, 1);
        var tok = Cl100kBase.Tokenizer;
        var counts = new int[Cl100kBase.RankCount];
        foreach (var text in corpus)
        {
            if (string.IsNullOrEmpty(text)) continue;
            foreach (var rank in tok.EncodeToIds(text)) counts[rank]++;
        }
        var keep = new bool[Cl100kBase.RankCount];
        foreach (var r in Cl100kBase.ByteToRank) keep[r] = true;
        for (int r = 0; r < counts.Length; r++) if (counts[r] >= minCount) keep[r] = true;
        var ranks = Enumerable.Range(0, Cl100kBase.RankCount).Where(r => keep[r]).ToArray();
        return new CompactVocabularyTokenizer(ranks);
    }

    public int[] Encode(string text, bool addBos = false)
    {
        var result = new List<int>(text.Length / 3 + 2);
        if (addBos) result.Add(BosId!.Value);
        if (text.Length == 0) return [.. result];
        var byteToRank = Cl100kBase.ByteToRank;
        foreach (var rank in Cl100kBase.Tokenizer.EncodeToIds(text))
        {
            int id = _rankToCompact[rank];
            if (id >= 0)
            {
                result.Add(id);
                continue;
            }
            foreach (var b in Cl100kBase.TokenBytes[rank])
                result.Add(_rankToCompact[byteToRank[b]] is var byteId and >= 0 ? byteId : UnkId!.Value);
        }
        return [.. result];
    }

    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = true)
    {
        var sb = new StringBuilder();
        var pending = new List<byte>();
        foreach (var id in ids)
        {
            if ((uint)id >= (uint)VocabSize)
                throw new ArgumentOutOfRangeException(nameof(ids), id, $"Token id outside 0..{VocabSize - 1}.");
            if (id < SpecialCount)
            {
                if (skipSpecialTokens) continue;
                Flush(sb, pending);
                sb.Append(SpecialNames[id]);
                continue;
            }
            pending.AddRange(Cl100kBase.TokenBytes[_ranks[id - SpecialCount]]);
        }
        Flush(sb, pending);
        return sb.ToString();
    }

    private static void Flush(StringBuilder sb, List<byte> pending)
    {
        if (pending.Count == 0) return;
        sb.Append(Encoding.UTF8.GetString(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(pending)));
        pending.Clear();
    }

    public int? TokenToId(string token)
    {
        if (SpecialTokens.TryGetValue(token, out var s)) return s;
        var ranks = Cl100kBase.Tokenizer.EncodeToIds(token);
        return ranks.Count == 1 && _rankToCompact[ranks[0]] is var id and >= 0 ? id : null;
    }

    public string? IdToToken(int id)
    {
        if ((uint)id >= (uint)VocabSize) return null;
        return id < SpecialCount ? SpecialNames[id] : Encoding.UTF8.GetString(Cl100kBase.TokenBytes[_ranks[id - SpecialCount]]);
    }

    /// <summary>Writes <c>compact_vocab.json</c> (specials + kept cl100k ranks) atomically into <paramref name="directory"/>.</summary>
    public void Save(string directory)
    {
        Directory.CreateDirectory(directory);
        var root = new JsonObject
        {
            ["format"] = FormatName,
            ["version"] = FormatVersion,
            ["base_encoding"] = "cl100k_base",
            ["special_tokens"] = new JsonObject(SpecialNames.Select((n, i) => KeyValuePair.Create(n, (JsonNode?)i))),
            ["cl100k_ids"] = new JsonArray(_ranks.Select(r => (JsonNode?)r).ToArray()),
        };
        TextFiles.WriteAtomic(Path.Combine(directory, FileName), root.ToJsonString() + "\n");
    }

    /// <summary>Reads <c>compact_vocab.json</c> from <paramref name="directory"/>, validating every field.</summary>
    public static CompactVocabularyTokenizer Load(string directory)
    {
        var path = Path.GetFullPath(Path.Combine(directory, FileName));
        if (!File.Exists(path)) throw new FileNotFoundException($"Compact vocabulary not found: {path}", path);
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(File.ReadAllText(path));
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not valid JSON (line {e.LineNumber + 1}): {RecAlign.IO.JsonErrors.Reason(e)}", e);
        }
        if (root is not JsonObject obj) throw new InvalidDataException($"{path}: top level must be an object.");
        if ((string?)obj["format"] != FormatName) throw new InvalidDataException($"{path}: field 'format' must be '{FormatName}'.");
        if (obj["version"] is not JsonValue v || !v.TryGetValue<int>(out var version) || version != FormatVersion)
            throw new InvalidDataException($"{path}: field 'version' must be {FormatVersion}.");
        if ((string?)obj["base_encoding"] != "cl100k_base") throw new InvalidDataException($"{path}: field 'base_encoding' must be 'cl100k_base'.");
        if (obj["special_tokens"] is not JsonObject specials)
            throw new InvalidDataException($"{path}: missing object field 'special_tokens'.");
        for (int i = 0; i < SpecialNames.Length; i++)
        {
            if (specials[SpecialNames[i]] is not JsonValue sv || !sv.TryGetValue<int>(out var sid) || sid != i)
                throw new InvalidDataException($"{path}: field 'special_tokens.{SpecialNames[i]}' must be {i}.");
        }
        if (obj["cl100k_ids"] is not JsonArray arr) throw new InvalidDataException($"{path}: missing array field 'cl100k_ids'.");
        var ranks = new int[arr.Count];
        for (int i = 0; i < arr.Count; i++)
        {
            if (arr[i] is not JsonValue rv || !rv.TryGetValue<int>(out var r) || r < 0 || r >= Cl100kBase.RankCount)
                throw new InvalidDataException($"{path}: field 'cl100k_ids[{i}]' must be an integer in 0..{Cl100kBase.RankCount - 1}.");
            if (i > 0 && r <= ranks[i - 1])
                throw new InvalidDataException($"{path}: field 'cl100k_ids[{i}]' ({r}) must be greater than the previous id ({ranks[i - 1]}).");
            ranks[i] = r;
        }
        return new CompactVocabularyTokenizer(ranks);
    }
}

internal static class TextFiles
{
    /// <summary>UTF-8 (no BOM) via a temp file in the same directory, then rename.</summary>
    public static void WriteAtomic(string path, string text)
    {
        var full = Path.GetFullPath(path);
        var tmp = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.tmp-{Guid.NewGuid():N}");
        try
        {
            File.WriteAllText(tmp, text, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false));
            File.Move(tmp, full, overwrite: true);
        }
        catch
        {
            try { File.Delete(tmp); } catch (IOException) { }
            throw;
        }
    }
}
