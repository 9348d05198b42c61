using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using RecAlign.Data;
using RecAlign.Evaluation;
using RecAlign.Inference;
using static TorchSharp.torch;

namespace RecAlign.Bench;

/// <summary>
/// Evaluation throughput: (1) full-catalog ranking metrics (HR/NDCG/MRR@{1,5,10,20}, 20 history items excluded per row) on a
/// random score matrix [N, C]: the [N, C]-mask path, the id-list path, and a managed per-row loop for reference; (2) grounding generated titles
/// to a catalog by exact title only, char 3-gram TF-IDF and MiniLM sentence embeddings (CausalDPO's ood_id2name.txt when ../shared/data is present, else synthetic
/// titles). Usage: <c>evaluation [--quick] [--rows N] [--catalog C] [--out FILE.json]</c>.
/// </summary>
public static class EvaluationBench
{
    public static int Run(string[] args)
    {
        bool quick = BenchOutput.Flag(args, "--quick");
        int rows = int.Parse(BenchOutput.Value(args, "--rows") ?? (quick ? "256" : "2048"), CultureInfo.InvariantCulture);
        int catalog = int.Parse(BenchOutput.Value(args, "--catalog") ?? (quick ? "5000" : "20000"), CultureInfo.InvariantCulture);
        int[] ks = [1, 5, 10, 20];
        var gen = new Random(42);
        manual_seed(42);

        using var scores = randn(rows, catalog);
        using var targets = randint(0, catalog, [rows], dtype: int64);
        var histories = Enumerable.Range(0, rows).Select(_ => (IReadOnlyList<int>)Enumerable.Range(0, 20).Select(_ => gen.Next(catalog)).ToArray()).ToList();
        using var mask = RecAlign.Models.RecommenderExtensions.ItemMask(histories, catalog);

        EvaluationResult? tensorResult = null;
        double tensorMs = Median(quick ? 3 : 7, () => tensorResult = Metrics.FromScores(scores, targets, ks, exclude: mask));
        EvaluationResult? idsResult = null;
        double idsMs = Median(quick ? 3 : 7, () => idsResult = Metrics.FromScores(scores, targets, ks, histories));

        // Reference: the same pessimistic ranks with a managed loop over every element.
        var flat = scores.data<float>().ToArray();
        var tgt = targets.data<long>().ToArray();
        var hist = histories.Select(h => h.ToHashSet()).ToArray();
        double[] loopRanks = new double[rows];
        double loopMs = Median(quick ? 1 : 3, () =>
        {
            for (int i = 0; i < rows; i++)
            {
                float ts = flat[(long)i * catalog + tgt[i]];
                int better = 0;
                for (int j = 0; j < catalog; j++)
                    if (j != tgt[i] && !hist[i].Contains(j) && flat[(long)i * catalog + j] >= ts) better++;
                loopRanks[i] = better + 1;
            }
        });
        using var loopRankTensor = tensor(loopRanks);
        var loopResult = Metrics.FromRanks(loopRankTensor, ks);
        bool agree = ks.All(k => Math.Abs(loopResult[Metrics.NdcgKey(k)] - tensorResult![Metrics.NdcgKey(k)]) < 1e-9
            && Math.Abs(loopResult[Metrics.NdcgKey(k)] - idsResult![Metrics.NdcgKey(k)]) < 1e-9);

        // Grounding.
        var titlesPath = Path.Combine("..", "shared", "data", "causaldpo", "ml-1m", "ood_id2name.txt");
        if (!File.Exists(titlesPath)) titlesPath = Path.Combine("/work", "shared", "data", "causaldpo", "ml-1m", "ood_id2name.txt");
        string source;
        List<Item> items;
        if (File.Exists(titlesPath))
        {
            items = File.ReadLines(titlesPath).Where(l => l.Contains("::")).Select((l, i) => new Item(i, l.Split("::", 2)[0], l.Split("::", 2)[1])).ToList();
            source = "causaldpo ood_id2name.txt";
        }
        else
        {
            string[] words = ["star", "love", "night", "city", "dream", "war", "river", "king", "blue", "last", "road", "house"];
            items = Enumerable.Range(0, 3500).Select(i => new Item(i, $"s{i}", $"{words[gen.Next(words.Length)]} {words[gen.Next(words.Length)]} {i}")).ToList();
            source = "synthetic titles (shared data not found)";
        }
        var itemCatalog = new ItemCatalog(items);
        var titles = itemCatalog.Items.Select(i => i.Title).ToArray();
        int nAnswers = quick ? 200 : 1000;
        var answerTargets = Enumerable.Range(0, nAnswers).Select(_ => gen.Next(itemCatalog.Count)).ToList();
        var answers = answerTargets.Select(t =>
        {
            var title = itemCatalog.Title(t);
            return gen.Next(4) switch
            {
                0 => title.ToLowerInvariant(),
                1 => title.Length > 6 ? title.Remove(gen.Next(title.Length - 1), 1) : title, // one deleted character
                2 => title.EndsWith(", The", StringComparison.Ordinal) ? "The " + title[..^5] : "I would recommend " + title, // as an LM writes it
                _ => "I would recommend " + title,
            };
        }).ToList();
        // Each grounding: catalog index (TF-IDF n-grams or MiniLM embeddings of every title, built once), then every
        // answer grounded and the whole catalog ranked.
        var groundings = new JsonObject();
        var lines = new List<(string, string)>();
        foreach (var kind in new[] { Grounding.Exact, Grounding.TfIdf, Grounding.MiniLm })
        {
            var sw = Stopwatch.StartNew();
            var similarity = TitleSimilarities.Create(kind, titles, out var used, out var fallback, threads: get_num_threads());
            var grounder = new CatalogGrounder(itemCatalog, similarity);
            double buildMs = sw.Elapsed.TotalMilliseconds;
            EvaluationResult? grounded = null;
            double groundMs = Median(quick ? 1 : 3, () => grounded = GenerationMetrics.FullCatalog(answers, answerTargets, grounder, [1, 10]));
            (similarity as IDisposable)?.Dispose();
            var name = used.ToString().ToLowerInvariant();
            groundings[name] = new JsonObject
            {
                ["fallback_reason"] = fallback, ["index_build_ms"] = buildMs, ["titles_per_s_index"] = itemCatalog.Count / (buildMs / 1000),
                ["ground_and_rank_ms"] = groundMs, ["answers_per_s"] = nAnswers / (groundMs / 1000),
                ["hr@1"] = grounded!["hr@1"], ["hr@10"] = grounded["hr@10"], ["orratio@10"] = grounded["orratio@10"],
            };
            lines.Add(($"{name}: index {itemCatalog.Count} titles (ms) / ground + rank {nAnswers} answers (median ms)",
                $"{buildMs:F0} / {groundMs:F0} ({nAnswers / (groundMs / 1000):F0} answers/s)"));
            lines.Add(($"{name}: grounded HR@1 / HR@10", $"{grounded["hr@1"]:F3} / {grounded["hr@10"]:F3}"));
        }

        var result = new JsonObject
        {
            ["machine"] = BenchOutput.Machine(),
            ["torch_threads"] = get_num_threads(),
            ["ranking"] = new JsonObject
            {
                ["rows"] = rows, ["catalog"] = catalog, ["ks"] = new JsonArray(ks.Select(k => (JsonNode)k).ToArray()),
                ["mask_path_ms"] = tensorMs, ["id_list_path_ms"] = idsMs, ["managed_loop_ms"] = loopMs, ["agree"] = agree,
                ["rows_per_s"] = rows / (Math.Min(tensorMs, idsMs) / 1000),
            },
            ["grounding"] = new JsonObject
            {
                ["source"] = source, ["catalog"] = itemCatalog.Count, ["answers"] = nAnswers,
                ["answer_kinds"] = "lower-cased title, one character deleted, 'The X' for 'X, The' (else 'I would recommend X'), 'I would recommend X'",
                ["by_similarity"] = groundings,
            },
        };
        BenchOutput.Write(args, "evaluation", result,
        [
            ("ranking shape [N, C]", $"[{rows}, {catalog}]"),
            ("ranking metrics, [N, C] mask path (median ms)", tensorMs.ToString("F1", CultureInfo.InvariantCulture)),
            ("ranking metrics, history id-list path (median ms)", idsMs.ToString("F1", CultureInfo.InvariantCulture)),
            ("ranking, managed loop reference (median ms)", loopMs.ToString("F1", CultureInfo.InvariantCulture)),
            ("results agree", agree ? "yes" : "NO"),
            ("grounding catalog", $"{itemCatalog.Count} titles ({source})"),
            .. lines,
        ]);
        return agree ? 0 : 1;
    }

    private static double Median(int repeats, Action body)
    {
        body(); // warm-up
        var times = new double[repeats];
        for (int i = 0; i < repeats; i++)
        {
            var sw = Stopwatch.StartNew();
            body();
            times[i] = sw.Elapsed.TotalMilliseconds;
        }
        Array.Sort(times);
        return times[repeats / 2];
    }
}
