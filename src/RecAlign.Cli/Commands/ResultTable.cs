using RecAlign.Pipelines;
using Spectre.Console;

namespace RecAlign.Cli.Commands;

/// <summary>The comparison table every pipeline command prints.</summary>
internal static class ResultTable
{
    public static Table Build(string title, PipelineResult result)
    {
        var extras = result.Methods.SelectMany(m => m.Metrics.Keys).Where(k => k.EndsWith("/hr1")).Distinct().ToList();
        // Ranking answers from the list by construction (ValidRatio 1); generated answers may name no candidate.
        bool generated = result.Methods.Any(m => m.Metrics.ContainsKey(RecommendationPipeline.GeneratedHr1Key));
        bool ablation = result.Methods.Any(m => m.Metrics.ContainsKey(RecommendationPipeline.Hr1WithoutHistoryKey));
        bool catalog = result.Methods.Any(m => m.Metrics.ContainsKey(RecommendationPipeline.CatalogHr10Key));
        string[] catalogKeys = [RecommendationPipeline.CatalogHr10Key, RecommendationPipeline.CatalogNdcg10Key];
        // Item-side fairness: the full catalog's MGU@K where rows have it, else the candidate lists'.
        var keys = result.Methods.SelectMany(m => m.Metrics.Keys).Distinct().ToList();
        var mgu = keys.FirstOrDefault(k => k.StartsWith("catalog_mgu@", StringComparison.Ordinal)) ?? keys.FirstOrDefault(k => k.StartsWith("mgu@", StringComparison.Ordinal));
        var table = new Table().Title(title);
        table.AddColumns(["method", "HR@1", "NDCG@5", "MRR", .. generated ? (string[])["HR@1 (generated)", "ValidRatio (generated)"] : ["ValidRatio"],
            .. extras.Select(e => e.Replace("/hr1", " HR@1")), .. ablation ? (string[])["HR@1 without history"] : [], .. catalog ? (string[])["catalog HR@10", "catalog NDCG@10"] : [],
            .. mgu is null ? [] : (string[])[mgu.Replace("catalog_", "catalog ").Replace("mgu", "MGU")], "stage time"]);
        foreach (var m in result.Methods)
            table.AddRow([Markup.Escape(m.Method) + (m.Failure is null ? "" : " [red](failed)[/]"), F(m.Metrics, "hr1"), F(m.Metrics, "ndcg@5"), F(m.Metrics, "mrr"),
                .. generated ? (string[])[F(m.Metrics, RecommendationPipeline.GeneratedHr1Key), F(m.Metrics, RecommendationPipeline.GeneratedValidRatioKey)] : [F(m.Metrics, "valid_ratio")],
                .. extras.Select(e => F(m.Metrics, e)), .. ablation ? (string[])[F(m.Metrics, RecommendationPipeline.Hr1WithoutHistoryKey)] : [],
                .. catalog ? catalogKeys.Select(k => F(m.Metrics, k)) : [], .. mgu is null ? [] : (string[])[F(m.Metrics, mgu)], m.StageSeconds is { } t ? $"{t:F0}s" : "-"]);
        var failed = result.Methods.Where(m => m.Failure is not null).ToList();
        if (failed.Count > 0)
            table.Caption(string.Join("\n", failed.Select(m => Markup.Escape($"{m.Method}: {m.Failure}"))));
        return table;
    }

    private static string F(IReadOnlyDictionary<string, double> m, string key) => m.TryGetValue(key, out var v) ? v.ToString("F4") : "-";
}
