using System.Text;
using System.Text.RegularExpressions;

namespace RecAlign.Prompts;

/// <summary>
/// One prompt template with named placeholders: <c>{history}</c>, <c>{candidates}</c>, <c>{count}</c> (number of
/// candidates), <c>{history_embeddings}</c> (hybrid prompts: each history title followed by an embedding slot
/// token) and <c>{history_sequence}</c> (the history as the pretraining corpus writes a sequence, up to where its next
/// item goes: <see cref="PromptBuilder.SequencePrefix"/>). <c>{target}</c> is rejected: the answer never goes into a prompt. <c>{{</c>/<c>}}</c> are literal braces.
/// Template files hold one template per line (blank lines and <c>#</c> comments skipped), as S-DPO's
/// <c>prompt/*.txt</c>; S-DPO's <c>[HistoryHere]</c>/<c>[CansHere]</c> markers are accepted as aliases.
/// </summary>
public sealed partial class PromptTemplate
{
    public const string History = "history", Candidates = "candidates", Count = "count", HistoryEmbeddings = "history_embeddings",
        HistorySequence = "history_sequence";
    private static readonly HashSet<string> Known = [History, Candidates, Count, HistoryEmbeddings, HistorySequence];

    [GeneratedRegex(@"\{\{|\}\}|\{([^{}]*)\}")]
    private static partial Regex PlaceholderPattern();

    public string Text { get; }
    public IReadOnlySet<string> Placeholders { get; }

    public PromptTemplate(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        Text = text.Replace("[HistoryHere]", "{history}", StringComparison.Ordinal).Replace("[CansHere]", "{candidates}", StringComparison.Ordinal);
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (Match m in PlaceholderPattern().Matches(Text))
        {
            if (!m.Groups[1].Success) continue;
            var name = m.Groups[1].Value;
            if (name == "target")
                throw new ArgumentException($"prompt template '{Clip(Text)}' contains {{target}}: the answer must never appear in a prompt");
            if (!Known.Contains(name))
                throw new ArgumentException($"prompt template '{Clip(Text)}' has unknown placeholder {{{name}}} (known: {string.Join(", ", Known.Select(k => "{" + k + "}"))})");
            names.Add(name);
        }
        if (!names.Contains(History) && !names.Contains(HistoryEmbeddings) && !names.Contains(HistorySequence))
            throw new ArgumentException($"prompt template '{Clip(Text)}' needs {{history}}, {{history_embeddings}} or {{history_sequence}}");
        Placeholders = names;
    }

    /// <summary>The template is the pretraining format itself: <c>{history_sequence}</c> and nothing else, so the prompt
    /// and answer together are a pretraining text, and a pretrained model answers it without SFT.</summary>
    public bool IsSequence => Text == "{" + HistorySequence + "}";

    /// <summary>Fills the placeholders; values for placeholders the template lacks are ignored.</summary>
    public string Render(IReadOnlyDictionary<string, string> values)
        => PlaceholderPattern().Replace(Text, m => m.Value switch
        {
            "{{" => "{",
            "}}" => "}",
            _ => values.TryGetValue(m.Groups[1].Value, out var v) ? v
                : throw new ArgumentException($"no value for placeholder {m.Value} of template '{Clip(Text)}'"),
        });

    /// <summary>Templates from text: one per line, trimmed; blank and <c>#</c> lines skipped.</summary>
    public static IReadOnlyList<PromptTemplate> Parse(string text, string source = "templates")
    {
        var result = new List<PromptTemplate>();
        int lineNo = 0;
        foreach (var raw in text.Split('\n'))
        {
            lineNo++;
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            try { result.Add(new PromptTemplate(line)); }
            catch (ArgumentException e) { throw new RecAlign.Data.DataFormatException(source, lineNo, null, e.Message); }
        }
        if (result.Count == 0) throw new RecAlign.Data.DataFormatException(source, 0, null, "no templates found");
        return result;
    }

    /// <summary>Loads a template file (UTF-8, one template per line).</summary>
    public static IReadOnlyList<PromptTemplate> Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"prompt template file not found: {path}", path);
        return Parse(File.ReadAllText(path, Encoding.UTF8), Path.GetFullPath(path));
    }

    public override string ToString() => Text;

    private static string Clip(string s) => s.Length <= 60 ? s : s[..57] + "...";
}
