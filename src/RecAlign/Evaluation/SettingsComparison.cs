using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace RecAlign.Evaluation;

/// <summary>
/// One model evaluated on several settings (in-distribution beside OOD test sets) side by side: one JSON with a
/// section per setting (each <see cref="EvaluationResult.ToJson"/> as it is) and a markdown table, rows = settings,
/// columns = the headline figures every setting has (HR/NDCG@10 and @20, ORRatio@10 and @20, hr1, valid_ratio,
/// MGU@10, under whatever protocol prefix the results carry).
/// </summary>
public static class SettingsComparison
{
    /// <summary>First line of every table written here: an existing file without it is not ours to replace.</summary>
    public const string Marker = "<!-- recalign eval: settings side by side -->";

    private static readonly string[] Headline = ["hr1", "valid_ratio", "hr@10", "ndcg@10", "hr@20", "ndcg@20", "orratio@10", "orratio@20", "mgu@10"];

    /// <summary>The headline metric keys present in every setting, in <see cref="Headline"/> order.</summary>
    public static IReadOnlyList<string> Columns(IReadOnlyList<(string Name, EvaluationResult Result)> settings)
    {
        if (settings.Count == 0) return [];
        var common = settings.Skip(1).Aggregate(settings[0].Result.Metrics.Keys.ToHashSet(StringComparer.Ordinal),
            (set, s) => { set.IntersectWith(s.Result.Metrics.Keys); return set; });
        return common.Select(k => (Key: k, Rank: Array.IndexOf(Headline, Unprefixed(k))))
            .Where(c => c.Rank >= 0).OrderBy(c => c.Rank).ThenBy(c => c.Key, StringComparer.Ordinal).Select(c => c.Key).ToList();
    }

    public static string Markdown(IReadOnlyList<(string Name, EvaluationResult Result)> settings)
    {
        var columns = Columns(settings);
        var sb = new StringBuilder(Marker).Append('\n');
        sb.Append("| setting | n | ").Append(string.Join(" | ", columns)).Append(" |\n");
        sb.Append("|---|---:|").Append(string.Concat(columns.Select(_ => "---:|"))).Append('\n');
        foreach (var (name, result) in settings)
            sb.Append($"| {name.Replace("|", "\\|")} | {result.N} | ")
              .Append(string.Join(" | ", columns.Select(c => result[c].ToString("F4", CultureInfo.InvariantCulture)))).Append(" |\n");
        return sb.ToString();
    }

    /// <summary><c>{"evaluated": {...}, "settings": {"NAME": {result}, ...}}</c>; <paramref name="evaluated"/> holds what
    /// all settings share (the model, the mode), each section what it alone evaluated.</summary>
    public static JsonObject Json(IReadOnlyList<(string Name, EvaluationResult Result)> settings, JsonObject? evaluated)
    {
        var sections = new JsonObject();
        foreach (var (name, result) in settings) sections[name] = JsonNode.Parse(result.ToJson(indented: false));
        return new JsonObject { [EvaluationResult.EvaluatedKey] = evaluated?.DeepClone(), ["settings"] = sections };
    }

    /// <summary>Writes the JSON to <paramref name="jsonPath"/> and the table beside it (same name, <c>.md</c>), each
    /// atomically; an existing <c>.md</c> that this class did not write is refused, never replaced.</summary>
    public static string Write(IReadOnlyList<(string Name, EvaluationResult Result)> settings, JsonObject? evaluated, string jsonPath)
    {
        var mdPath = TablePath(jsonPath);
        CheckTablePath(mdPath);
        IO.AtomicFile.WriteAllText(jsonPath, Json(settings, evaluated).ToJsonString(new System.Text.Json.JsonSerializerOptions
        {
            WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        }) + "\n");
        IO.AtomicFile.WriteAllText(mdPath, Markdown(settings));
        return mdPath;
    }

    /// <summary>Where <see cref="Write"/> puts the table for a JSON path.</summary>
    public static string TablePath(string jsonPath) => Path.ChangeExtension(jsonPath, ".md");

    /// <summary>Refuses a table path that holds a file this class did not write.</summary>
    public static void CheckTablePath(string mdPath)
    {
        if (Directory.Exists(mdPath)) throw new ArgumentException($"{mdPath}: that is a folder; the settings table is written beside --out with the extension .md");
        if (File.Exists(mdPath) && !File.ReadLines(mdPath).Take(1).SequenceEqual([Marker]))
            throw new ArgumentException($"{mdPath}: exists and is not a table `recalign eval` wrote; it would be replaced by the settings table: move it or choose another --out");
    }

    private static string Unprefixed(string key) =>
        key.StartsWith(Metrics.CatalogPrefix, StringComparison.Ordinal) ? key[Metrics.CatalogPrefix.Length..]
        : key.StartsWith(Metrics.GeneratedPrefix, StringComparison.Ordinal) ? key[Metrics.GeneratedPrefix.Length..] : key;
}
