using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using RecAlign.Data.Loaders;
using RecAlign.Evaluation;
using RecAlign.Models.Sequential;
using RecAlign.Training;
using RecAlign.Training.Optimization;
using static TorchSharp.torch;

namespace RecAlign.Bench;

/// <summary>
/// SASRec side by side with PyTorch on the same shapes: training throughput (sequences/s, seconds per epoch) and
/// full-catalog evaluation throughput (users/s, batch 256) on a sequence-table dataset (LastFM by default, or
/// DreamRec's zhihu), then the same with <c>bench/python/sasrec_torch.py</c> under Debian's <c>python3-torch</c> when
/// it is installed. Usage: <c>sequential [--quick] [--data DIR] [--threads T] [--epochs N] [--flatten] [--no-pytorch] [--out FILE.json]</c>.
/// </summary>
public static class SequentialBench
{
    public static int Run(string[] args)
    {
        bool quick = BenchOutput.Flag(args, "--quick");
        var data = BenchOutput.Value(args, "--data") ?? Path.Combine("..", "shared", "data", "lastfm", "ref-sdpo");
        int threads = int.Parse(BenchOutput.Value(args, "--threads") ?? "1", CultureInfo.InvariantCulture);
        int epochs = int.Parse(BenchOutput.Value(args, "--epochs") ?? (quick ? "1" : "3"), CultureInfo.InvariantCulture);
        if (!Directory.Exists(data))
        {
            Console.Error.WriteLine($"sequential: {Path.GetFullPath(data)} not found (the shared data folder is absent); nothing measured");
            return 0;
        }
        string Find(string name) => Directory.GetFiles(data).First(f => string.Equals(Path.GetFileName(f), name, StringComparison.OrdinalIgnoreCase));
        var items = SequenceTableLoader.FindCatalog(data) ?? throw new FileNotFoundException($"{data}: no item list");
        var train = SequenceTableLoader.Load(Find("train_data.csv"), items);
        var validation = SequenceTableLoader.Load(Find("val_data.csv"), items);
        set_num_threads(threads);

        const int batch = 256, maxLen = 10;
        var config = SequentialModelConfig.For("sasrec") with { NItems = train.Catalog.Count, MaxSeqLength = maxLen };
        using var model = SequentialModel.Create(config, 42);
        var training = new TrainingConfig
        {
            Epochs = epochs, BatchSize = batch, BucketFactor = 1, Precision = Precision.Fp32, LogEvery = 1000, Seed = 42,
            Optimizer = new OptimizerConfig { LearningRate = 1e-3, WeightDecay = 0, Schedule = LrScheduleKind.Constant, WarmupRatio = 0, MaxGradNorm = 0,
                Flatten = BenchOutput.Flag(args, "--flatten") },
        };
        var objective = new NextItemObjective(model, train.Examples);
        var sw = Stopwatch.StartNew();
        var result = new Trainer(model, objective, training).Train();
        double trainSeconds = sw.Elapsed.TotalSeconds;
        using var recommender = new SequentialRecommender(model, train.Catalog, ownsModel: false);
        sw.Restart();
        var full = RecommenderEvaluator.Catalog(recommender, validation.Examples);
        double evalSeconds = sw.Elapsed.TotalSeconds;
        double seqPerS = result.Tokens / trainSeconds, usersPerS = validation.Examples.Count / evalSeconds;

        var csharp = new JsonObject
        {
            ["implementation"] = "recalign (TorchSharp)", ["threads"] = threads, ["epochs"] = epochs, ["rows"] = train.Examples.Count,
            ["train_seconds"] = trainSeconds, ["seconds_per_epoch"] = trainSeconds / epochs, ["train_sequences_per_s"] = seqPerS,
            ["flattened_optimizer"] = training.Optimizer.Flatten, ["eval_users"] = validation.Examples.Count, ["eval_users_per_s"] = usersPerS, ["final_loss"] = result.FinalLoss,
            ["full_catalog"] = new JsonObject(full.Metrics.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))),
        };
        var torchResult = BenchOutput.Flag(args, "--no-pytorch") ? null : RunPyTorch(data, threads, epochs, batch, maxLen);
        var rows = new List<(string, string)>
        {
            ("dataset", $"{Path.GetFileName(Path.GetFullPath(data))}: {train.Examples.Count} training sequences, {train.Catalog.Count} items"),
            ("shapes", $"SASRec 2 layers, 2 heads, d 64, inner 256, L {maxLen}, batch {batch}, fp32, {threads} thread(s), {epochs} epoch(s)"),
            ("RecAlign train sequences/s", $"{seqPerS:F0} ({trainSeconds / epochs:F1} s/epoch)"),
            ("RecAlign full-catalog eval users/s", $"{usersPerS:F0}"),
        };
        if (torchResult is not null)
        {
            double torchSeq = torchResult["train_sequences_per_s"]!.GetValue<double>(), torchUsers = torchResult["eval_users_per_s"]!.GetValue<double>();
            rows.Add(("PyTorch train sequences/s", $"{torchSeq:F0} ({torchResult["seconds_per_epoch"]!.GetValue<double>():F1} s/epoch)"));
            rows.Add(("PyTorch full-catalog eval users/s", $"{torchUsers:F0}"));
            rows.Add(("training speed vs PyTorch", $"{seqPerS / torchSeq:F2}x"));
            rows.Add(("evaluation speed vs PyTorch", $"{usersPerS / torchUsers:F2}x"));
        }
        else rows.Add(("PyTorch", "not measured: /usr/bin/python3 with torch is not installed (apt-get install python3-torch libopenblas0-pthread)"));
        BenchOutput.Write(args, "sequential", new JsonObject
        {
            ["benchmark"] = "sequential", ["machine"] = BenchOutput.Machine(), ["recalign"] = csharp, ["pytorch"] = torchResult,
        }, rows);
        return 0;
    }

    /// <summary>The PyTorch peer's JSON, or null when Debian's python3-torch is not there.</summary>
    private static JsonObject? RunPyTorch(string data, int threads, int epochs, int batch, int maxLen)
    {
        var script = Path.Combine("bench", "python", "sasrec_torch.py");
        if (!File.Exists("/usr/bin/python3") || !File.Exists(script)) return null;
        var probe = Process.Start(new ProcessStartInfo("/usr/bin/python3", ["-c", "import torch"]) { RedirectStandardError = true })!;
        probe.WaitForExit();
        if (probe.ExitCode != 0) return null;
        var output = Path.Combine(Path.GetTempPath(), $"sasrec-torch-{Guid.NewGuid():N}.json");
        var psi = new ProcessStartInfo("/usr/bin/python3", [script, "--data", Path.GetFullPath(data), "--threads", $"{threads}", "--epochs", $"{epochs}",
            "--batch", $"{batch}", "--max-len", $"{maxLen}", "--out", output]);
        using var p = Process.Start(psi)!;
        p.WaitForExit();
        if (p.ExitCode != 0 || !File.Exists(output)) { Console.Error.WriteLine($"sequential: the PyTorch peer exited with {p.ExitCode}"); return null; }
        try { return JsonNode.Parse(File.ReadAllText(output))!.AsObject(); }
        finally { File.Delete(output); }
    }
}
