using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;

namespace RecAlign.Text;

/// <summary>The <c>pre_tokenizer</c> section of a byte-level HF tokenizer.json (Split / Digits / ByteLevel, possibly in a
/// Sequence), with added tokens isolated first so they reach the BPE as whole pieces.</summary>
internal sealed class HuggingFacePreTokenizer : PreTokenizer
{
    /// <summary>GPT-2's pattern, used by the ByteLevel pre-tokenizer when <c>use_regex</c> is true.</summary>
    internal const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    private enum Behavior { Isolated, Removed, MergedWithPrevious, MergedWithNext }

    private sealed record Step(Regex Pattern, Behavior Behavior);

    private readonly List<Step> _steps;
    private readonly Regex? _added;

    public bool IsByteLevel { get; }
    public bool AddPrefixSpace { get; }

    private readonly string _source;

    /// <summary>Longest one regex match may take: a tokenizer.json regex that backtracks catastrophically must fail
    /// in seconds, not hang (.NET's non-backtracking engine lacks the lookarounds the GPT-2 family uses).</summary>
    public static readonly TimeSpan MatchTimeout = TimeSpan.FromSeconds(2);

    private HuggingFacePreTokenizer(List<Step> steps, Regex? added, bool byteLevel, bool addPrefixSpace, string source)
    {
        _source = source;
        _steps = steps;
        _added = added;
        IsByteLevel = byteLevel;
        AddPrefixSpace = addPrefixSpace;
    }

    /// <summary>Builds from the <c>pre_tokenizer</c> JSON (may be null) and the added-token strings.</summary>
    public static HuggingFacePreTokenizer Create(JsonElement? spec, IEnumerable<string> addedTokens, string source)
    {
        var steps = new List<Step>();
        bool byteLevel = false, prefix = false;
        if (spec is { ValueKind: JsonValueKind.Object } s) Add(s, steps, ref byteLevel, ref prefix, source);

        // Longest first so that alternation picks the longest added token at each position.
        var tokens = addedTokens.Where(t => t.Length > 0).Distinct(StringComparer.Ordinal)
            .OrderByDescending(t => t.Length).ThenBy(t => t, StringComparer.Ordinal).ToList();
        var added = tokens.Count == 0 ? null
            : new Regex(string.Join("|", tokens.Select(Regex.Escape)), RegexOptions.Compiled | RegexOptions.CultureInvariant);
        return new HuggingFacePreTokenizer(steps, added, byteLevel, prefix, source);
    }

    private static void Add(JsonElement s, List<Step> steps, ref bool byteLevel, ref bool prefix, string source)
    {
        var type = s.TryGetProperty("type", out var t) ? t.GetString() : null;
        switch (type)
        {
            case "Sequence":
                if (!s.TryGetProperty("pretokenizers", out var list) || list.ValueKind != JsonValueKind.Array)
                    throw new InvalidDataException($"{source}: pre_tokenizer Sequence needs an array 'pretokenizers'.");
                foreach (var item in list.EnumerateArray()) Add(item, steps, ref byteLevel, ref prefix, source);
                break;
            case "Split":
            {
                string? pattern = null;
                if (s.TryGetProperty("pattern", out var p))
                {
                    if (p.TryGetProperty("Regex", out var r)) pattern = r.GetString();
                    else if (p.TryGetProperty("String", out var str)) pattern = Regex.Escape(str.GetString() ?? "");
                }
                if (string.IsNullOrEmpty(pattern)) throw new InvalidDataException($"{source}: pre_tokenizer Split has no pattern.");
                if (s.TryGetProperty("invert", out var inv) && inv.ValueKind == JsonValueKind.True)
                    throw new NotSupportedException($"{source}: pre_tokenizer Split with invert=true is not supported.");
                var behavior = s.TryGetProperty("behavior", out var b) ? b.GetString() : "Isolated";
                steps.Add(new Step(Compile(pattern, source), behavior switch
                {
                    "Isolated" => Behavior.Isolated,
                    "Removed" => Behavior.Removed,
                    "MergedWithPrevious" => Behavior.MergedWithPrevious,
                    "MergedWithNext" => Behavior.MergedWithNext,
                    _ => throw new NotSupportedException($"{source}: pre_tokenizer Split behavior '{behavior}' is not supported."),
                }));
                break;
            }
            case "Digits":
            {
                bool individual = s.TryGetProperty("individual_digits", out var d) && d.ValueKind == JsonValueKind.True;
                steps.Add(new Step(new Regex(individual ? @"\p{N}" : @"\p{N}+", RegexOptions.Compiled), Behavior.Isolated));
                break;
            }
            case "ByteLevel":
                byteLevel = true;
                prefix |= s.TryGetProperty("add_prefix_space", out var aps) && aps.ValueKind == JsonValueKind.True;
                if (!s.TryGetProperty("use_regex", out var ur) || ur.ValueKind != JsonValueKind.False)
                    steps.Add(new Step(new Regex(Gpt2Pattern, RegexOptions.Compiled), Behavior.Isolated));
                break;
            default:
                throw new NotSupportedException($"{source}: pre_tokenizer type '{type}' is not supported (byte-level BPE only).");
        }
    }

    private static Regex Compile(string pattern, string source)
    {
        try
        {
            return new Regex(pattern, RegexOptions.Compiled, MatchTimeout);
        }
        catch (ArgumentException e)
        {
            throw new NotSupportedException($"{source}: pre_tokenizer regex cannot be compiled by .NET: {e.Message}", e);
        }
    }

    public override IEnumerable<(int Offset, int Length)> PreTokenize(ReadOnlySpan<char> text) => PreTokenize(text.ToString());

    public override IEnumerable<(int Offset, int Length)> PreTokenize(string text)
    {
        try { return PreTokenizeUnchecked(text); }
        catch (RegexMatchTimeoutException e)
        {
            throw new FormatException($"{_source}: the pre_tokenizer regex took over {MatchTimeout.TotalSeconds:0} s on a text of {text.Length} characters " +
                $"(catastrophic backtracking in '{(e.Pattern.Length > 60 ? e.Pattern[..57] + "..." : e.Pattern)}'); fix the regex in the tokenizer file", e);
        }
    }

    private List<(int, int)> PreTokenizeUnchecked(string text)
    {
        var result = new List<(int, int)>();
        if (string.IsNullOrEmpty(text)) return result;
        int pos = 0;
        if (_added is not null)
        {
            for (var m = _added.Match(text); m.Success; m = m.NextMatch())
            {
                if (m.Index > pos) SplitPlain(text, pos, m.Index - pos, result);
                result.Add((m.Index, m.Length));
                pos = m.Index + m.Length;
            }
        }
        if (pos < text.Length) SplitPlain(text, pos, text.Length - pos, result);
        return result;
    }

    private void SplitPlain(string text, int start, int length, List<(int, int)> output)
    {
        var pieces = new List<(int Start, int Length)> { (start, length) };
        foreach (var step in _steps)
        {
            var next = new List<(int, int)>(pieces.Count * 2);
            foreach (var (s, l) in pieces) Apply(step, text, s, l, next);
            pieces = next;
        }
        output.AddRange(pieces);
    }

    private static void Apply(Step step, string text, int start, int length, List<(int, int)> output)
    {
        int end = start + length;
        int pos = start;
        int pendingStart = -1; // MergedWithNext: a match waiting to be joined to what follows
        for (var m = step.Pattern.Match(text, start, length); m.Success; m = m.NextMatch())
        {
            if (m.Length == 0) continue;
            int ms = m.Index, me = m.Index + m.Length;
            switch (step.Behavior)
            {
                case Behavior.Isolated:
                    if (ms > pos) output.Add((pos, ms - pos));
                    output.Add((ms, me - ms));
                    break;
                case Behavior.Removed:
                    if (ms > pos) output.Add((pos, ms - pos));
                    break;
                case Behavior.MergedWithPrevious:
                    output.Add((pos, me - pos));
                    break;
                case Behavior.MergedWithNext:
                    int from = pendingStart >= 0 ? pendingStart : pos;
                    if (ms > from) output.Add((from, ms - from));
                    pendingStart = ms;
                    break;
            }
            pos = me;
        }
        if (pendingStart >= 0) output.Add((pendingStart, end - pendingStart));
        else if (pos < end) output.Add((pos, end - pos));
    }
}

/// <summary>The <c>normalizer</c> section (NFC/NFKC/NFD/NFKD, in a Sequence or alone), plus ByteLevel's
/// <c>add_prefix_space</c>.</summary>
internal sealed class HuggingFaceNormalizer : Normalizer
{
    /// <summary>False when the runtime cannot normalise Unicode (InvariantGlobalization=true makes
    /// string.Normalize a silent no-op); NFC/NFKC steps are then skipped, which only matters for input that is not
    /// already composed.</summary>
    public static readonly bool UnicodeNormalizationAvailable = "e\u0301".Normalize(NormalizationForm.FormC).Length == 1;

    /// <summary>True when the file asks for Unicode normalisation that this runtime cannot do.</summary>
    public bool SkipsUnicodeNormalization => _forms.Count > 0 && !UnicodeNormalizationAvailable;

    private readonly List<NormalizationForm> _forms;
    private readonly bool _prefixSpace;

    private HuggingFaceNormalizer(List<NormalizationForm> forms, bool prefixSpace)
    {
        _forms = forms;
        _prefixSpace = prefixSpace;
    }

    /// <summary>Null when there is nothing to do.</summary>
    public static HuggingFaceNormalizer? Create(JsonElement? spec, bool addPrefixSpace, string source)
    {
        var forms = new List<NormalizationForm>();
        if (spec is { ValueKind: JsonValueKind.Object } s) Add(s, forms, source);
        return forms.Count == 0 && !addPrefixSpace ? null : new HuggingFaceNormalizer(forms, addPrefixSpace);
    }

    private static void Add(JsonElement s, List<NormalizationForm> forms, string source)
    {
        var type = s.TryGetProperty("type", out var t) ? t.GetString() : null;
        switch (type)
        {
            case "Sequence":
                if (s.TryGetProperty("normalizers", out var list) && list.ValueKind == JsonValueKind.Array)
                    foreach (var item in list.EnumerateArray()) Add(item, forms, source);
                break;
            case "NFC": forms.Add(NormalizationForm.FormC); break;
            case "NFD": forms.Add(NormalizationForm.FormD); break;
            case "NFKC": forms.Add(NormalizationForm.FormKC); break;
            case "NFKD": forms.Add(NormalizationForm.FormKD); break;
            default:
                throw new NotSupportedException($"{source}: normalizer type '{type}' is not supported.");
        }
    }

    public override string Normalize(ReadOnlySpan<char> original) => Normalize(original.ToString());

    public override string Normalize(string original)
    {
        var s = original;
        if (UnicodeNormalizationAvailable)
            foreach (var f in _forms) s = s.Normalize(f);
        if (_prefixSpace && s.Length > 0 && s[0] != ' ') s = " " + s;
        return s;
    }
}
