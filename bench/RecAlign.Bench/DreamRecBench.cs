using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using RecAlign.Data;
using RecAlign.Data.Loaders;
using RecAlign.Evaluation;
using RecAlign.Models;
using RecAlign.Models.Sequential;
using RecAlign.Pipelines.Stages;
using RecAlign.Training;
using static TorchSharp.torch;

namespace RecAlign.Bench;

/// <summary>
/// DreamRec's samplers side by side on one trained model: full-catalog validation HR/NDCG@10/20/50 and sampling
/// throughput (users/s) for DDPM over all T steps, DDIM at 20 and 50 steps, and DDPM with dropout left on while
/// sampling (the released behaviour); plus the seconds of one training epoch. Usage:
/// <c>dreamrec-sampling --model DIR [--data DIR] [--threads T] [--limit N] [--out FILE.json]</c> (DIR from
/// <c>recalign train dreamrec</c>; data: DreamRec's zhihu by default, empty histories kept as its protocol scores them).
/// </summary>
public static class DreamRecBench
{
    public static int Run(string[] args)
    {
        var modelDir = BenchOutput.Value(args, "--model");
        var data = BenchOutput.Value(args, "--data") ?? Path.Combine("..", "shared", "data", "DreamRec-baiyimeng-fork", "zhihu");
        int threads = int.Parse(BenchOutput.Value(args, "--threads") ?? "2", CultureInfo.InvariantCulture);
        int? limit = BenchOutput.Value(args, "--limit") is { } l ? int.Parse(l, CultureInfo.InvariantCulture) : null;
        if (modelDir is null) { Console.Error.WriteLine("dreamrec-sampling: give --model DIR (a DreamRec model directory)"); return 2; }
        if (!Directory.Exists(data))
        {
            Console.Error.WriteLine($"dreamrec-sampling: {Path.GetFullPath(data)} not found (the shared data folder is absent); nothing measured");
            return 0;
        }
        set_num_threads(threads);
        var items = SequenceTableLoader.FindCatalog(data) ?? throw new FileNotFoundException($"{data}: no item list");
        var keep = new LoadOptions { KeepEmptyHistories = true };
        var train = SequenceTableLoader.Load(Path.Combine(data, "train_data.csv"), items, keep);
        var validation = SequenceTableLoader.Load(Path.Combine(data, "val_data.csv"), items, keep).Examples;
        if (limit is { } n) validation = validation.Take(n).ToList();

        // One training epoch of a fresh model with the same config (the trainer, batch 256, fp32).
        using var probe = Recommenders.Load(modelDir);
        var trained = ((SequentialRecommender)probe).Model;
        var t = trained.Config;
        using var fresh = SequentialModel.Create(t, seed: 1);
        var training = SequentialTrainConfig.For("dreamrec").Training with { Epochs = 1, LogEvery = 1000, MetricForBestModel = "", EarlyStoppingPatience = 0 };
        var sw = Stopwatch.StartNew();
        new Trainer(fresh, new NextItemObjective(fresh, train.Examples), training).Train();
        double epochSeconds = sw.Elapsed.TotalSeconds;

        var ks = new[] { 10, 20, 50 };
        var settings = new (string Name, Dictionary<string, string> Set)[]
        {
            ($"DDPM, T = {t.Timesteps}", new() { ["sampler"] = "ddpm" }),
            ("DDIM, 50 steps", new() { ["sampler"] = "ddim", ["sampling_steps"] = "50" }),
            ("DDIM, 20 steps", new() { ["sampler"] = "ddim", ["sampling_steps"] = "20" }),
            ($"DDPM, T = {t.Timesteps}, dropout on while sampling (released)", new() { ["sampler"] = "ddpm", ["sample_dropout"] = "true" }),
        };
        var results = new JsonArray();
        var rows = new List<(string, string)>
        {
            ("dataset", $"{Path.GetFileName(Path.GetFullPath(data))}: {train.Examples.Count} training rows, {validation.Count} validation users, {train.Catalog.Count} items"),
            ("model", $"{modelDir}: T = {t.Timesteps} {t.BetaSche}, w = {t.GuidanceWeight}, {t.DiffuserType}, d = {t.HiddenSize}; {threads} thread(s)"),
            ("training epoch", $"{epochSeconds:F1} s"),
        };
        double? ddpmRate = null;
        foreach (var (name, set) in settings)
        {
            manual_seed(7); // the dropout-on variant draws from the global generator
            using var recommender = Recommenders.Load(modelDir, overrides: set);
            sw.Restart();
            var metrics = RecommenderEvaluator.Catalog(recommender, validation, ks).Metrics;
            double seconds = sw.Elapsed.TotalSeconds, rate = validation.Count / seconds;
            ddpmRate ??= rate;
            results.Add(new JsonObject
            {
                ["sampler"] = name, ["settings"] = new JsonObject(set.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))),
                ["seconds"] = seconds, ["users_per_s"] = rate, ["speedup_vs_ddpm"] = rate / ddpmRate.Value,
                ["metrics"] = new JsonObject(metrics.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))),
            });
            rows.Add((name, $"{rate:F0} users/s ({rate / ddpmRate.Value:F1}x); HR@10/20/50 {metrics["catalog_hr@10"]:F4} / {metrics["catalog_hr@20"]:F4} / {metrics["catalog_hr@50"]:F4}; " +
                $"NDCG@10/20/50 {metrics["catalog_ndcg@10"]:F4} / {metrics["catalog_ndcg@20"]:F4} / {metrics["catalog_ndcg@50"]:F4}"));
        }
        BenchOutput.Write(args, "dreamrec-sampling", new JsonObject
        {
            ["benchmark"] = "dreamrec-sampling", ["machine"] = BenchOutput.Machine(), ["model"] = Path.GetFullPath(modelDir), ["data"] = Path.GetFullPath(data),
            ["threads"] = threads, ["validation_users"] = validation.Count, ["training_epoch_seconds"] = epochSeconds, ["samplers"] = results,
        }, rows);
        return 0;
    }
}
