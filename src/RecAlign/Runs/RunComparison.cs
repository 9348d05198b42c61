using System.Text.Json.Nodes;

namespace RecAlign.Runs;

/// <summary>Side-by-side views of runs for <c>recalign runs show/compare</c>: flattened configs, their differences,
/// and final metrics.</summary>
public static class RunComparison
{
    /// <summary>Leaf values of a JSON config keyed by dotted path (<c>lora.rank</c>, <c>stages[1].beta</c>), sorted.</summary>
    public static SortedDictionary<string, string> Flatten(JsonNode? node)
    {
        var result = new SortedDictionary<string, string>(StringComparer.Ordinal);
        Walk(node, "", result);
        return result;

        static void Walk(JsonNode? n, string prefix, SortedDictionary<string, string> into)
        {
            switch (n)
            {
                case JsonObject o when o.Count > 0:
                    foreach (var (k, child) in o) Walk(child, prefix.Length == 0 ? k : prefix + "." + k, into);
                    break;
                case JsonArray a when a.Count > 0 && a.Any(e => e is JsonObject or JsonArray):
                    for (int i = 0; i < a.Count; i++) Walk(a[i], $"{prefix}[{i}]", into);
                    break;
                default:
                    into[prefix.Length == 0 ? "(root)" : prefix] = n is null ? "null"
                        : n is JsonValue v && v.TryGetValue<string>(out var s) ? s : n.ToJsonString();
                    break;
            }
        }
    }

    /// <summary>Keys whose values differ between two configs (absent on one side = null), sorted by key.</summary>
    public static IReadOnlyList<(string Key, string? A, string? B)> ConfigDifferences(JsonNode? a, JsonNode? b)
    {
        var fa = Flatten(a);
        var fb = Flatten(b);
        return fa.Keys.Union(fb.Keys).Order(StringComparer.Ordinal)
            .Select(k => (k, fa.GetValueOrDefault(k), fb.GetValueOrDefault(k)))
            .Where(t => t.Item2 != t.Item3)
            .Select(t => (t.k, t.Item2, t.Item3))
            .ToList();
    }

    /// <summary>Union of both runs' metric names (A's order first), with each side's value or null.</summary>
    public static IReadOnlyList<(string Metric, double? A, double? B)> MetricsSideBySide(
        IReadOnlyDictionary<string, double> a, IReadOnlyDictionary<string, double> b) =>
        a.Keys.Concat(b.Keys.Where(k => !a.ContainsKey(k)))
            .Select(k => (k, a.TryGetValue(k, out var x) ? x : (double?)null, b.TryGetValue(k, out var y) ? y : (double?)null))
            .ToList();

    /// <summary>A run's final metrics: summary.json's <c>final_metrics</c>, else the registry's copy, else empty.</summary>
    public static IReadOnlyDictionary<string, double> FinalMetrics(RunDirectory run, RunRecord? record = null)
    {
        if (run.ReadSummary() is { } summary) return summary.FinalMetrics;
        return record?.FinalMetrics ?? new Dictionary<string, double>();
    }

    public static string FormatValue(double? v) => v is double d ? Report.Format(d) : "";

    public static string FormatDelta(double? a, double? b) =>
        a is double x && b is double y && double.IsFinite(x) && double.IsFinite(y)
            ? (y - x >= 0 ? "+" : "") + Report.Format(y - x)
            : "";
}
