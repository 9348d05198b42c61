using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using RecAlign.Data.Loaders;
using RecAlign.Data.Preprocessing;
using RecAlign.Data.Splits;
using RecAlign.Data.Storage;

namespace RecAlign.Bench;

/// <summary>Data preparation at MovieLens-10M scale: generates a deterministic ratings.dat (10M rows, ~70k users,
/// ~10.7k items, Zipf-like item popularity) in a temp folder, then times load → 5-core (with duplicate removal) →
/// leave-one-out split (every prefix a training example), then (extra) saves and reloads the canonical dataset. Writes JSON (seconds per phase, peak RSS) and a markdown
/// table. Args: [--quick] (1M rows) [--rows N] [--seed S] [--out FILE.json | DIR] [--keep].</summary>
public static class DataPrepBench
{
    public static int Run(string[] args)
    {
        long rows = 10_000_000;
        int seed = 1;
        string? outPath = null;
        bool keep = false;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--quick": rows = 1_000_000; break;
                case "--rows": rows = long.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--seed": seed = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--out": outPath = args[++i]; break;
                case "--keep": keep = true; break;
                default: Console.Error.WriteLine($"data: unknown argument '{args[i]}'"); return 2;
            }
        }
        var dir = Path.Combine(Path.GetTempPath(), $"recalign-dataprep-{rows}-{seed}");
        Directory.CreateDirectory(dir);
        var file = Path.Combine(dir, "ratings.dat");
        var sw = Stopwatch.StartNew();
        if (!File.Exists(file)) Generate(file, rows, seed);
        double gen = sw.Elapsed.TotalSeconds;
        long bytes = new FileInfo(file).Length;

        sw.Restart();
        var (raw, report) = MovieLensLoader.Load(dir);
        double load = sw.Elapsed.TotalSeconds;

        sw.Restart();
        var (core, pre) = Preprocessor.Apply(raw, PreprocessConfig.KCore(5));
        double kcore = sw.Elapsed.TotalSeconds;

        sw.Restart();
        var split = Splitter.Split(core, new SplitConfig());
        double splitSeconds = sw.Elapsed.TotalSeconds;

        long peak = Process.GetCurrentProcess().PeakWorkingSet64; // the load -> k-core -> split target

        // the canonical dataset's disk round trip, reported apart from the target phases
        var store = Path.Combine(dir, "dataset");
        sw.Restart();
        DatasetStore.Save(core, store);
        double save = sw.Elapsed.TotalSeconds;
        sw.Restart();
        var reloaded = DatasetStore.Load(store, verify: true);
        double reload = sw.Elapsed.TotalSeconds;
        if (reloaded.Interactions.Length != core.Interactions.Length) throw new InvalidOperationException("reload lost interactions");
        long storeBytes = Directory.GetFiles(store).Sum(f => new FileInfo(f).Length);
        var result = new Dictionary<string, object>
        {
            ["benchmark"] = "data",
            ["rows"] = rows,
            ["file_mb"] = Math.Round(bytes / 1048576.0, 1),
            ["cores"] = Environment.ProcessorCount,
            ["generate_s"] = Math.Round(gen, 2),
            ["load_s"] = Math.Round(load, 2),
            ["kcore_s"] = Math.Round(kcore, 2),
            ["split_s"] = Math.Round(splitSeconds, 2),
            ["total_s"] = Math.Round(load + kcore + splitSeconds, 2),
            ["peak_rss_mb"] = Math.Round(peak / 1048576.0, 0),
            ["save_parquet_s"] = Math.Round(save, 2),
            ["reload_verify_s"] = Math.Round(reload, 2),
            ["dataset_dir_mb"] = Math.Round(storeBytes / 1048576.0, 1),
            ["peak_rss_with_store_mb"] = Math.Round(Process.GetCurrentProcess().PeakWorkingSet64 / 1048576.0, 0),
            ["users"] = core.UserCount,
            ["items"] = core.Catalog.Count,
            ["interactions_after_kcore"] = core.Interactions.Length,
            ["kcore_passes"] = pre.KCoreIterations,
            ["train_examples"] = split.Train.Count,
            ["validation_examples"] = split.Validation.Count,
            ["test_examples"] = split.Test.Count,
            ["rows_read"] = report.RowsRead,
        };
        var json = JsonSerializer.Serialize(result, new JsonSerializerOptions { WriteIndented = true });
        var md = new StringBuilder()
            .AppendLine($"## data prep ({rows:N0} rows, {bytes / 1048576.0:F0} MB ratings.dat, {Environment.ProcessorCount} cores)")
            .AppendLine()
            .AppendLine("| phase | seconds |")
            .AppendLine("|---|---:|")
            .AppendLine($"| load (stream + parse) | {load:F2} |")
            .AppendLine($"| dedupe + 5-core ({pre.KCoreIterations} passes) | {kcore:F2} |")
            .AppendLine($"| leave-one-out split ({split.Train.Count:N0} train examples) | {splitSeconds:F2} |")
            .AppendLine($"| **total** | **{load + kcore + splitSeconds:F2}** |")
            .AppendLine()
            .AppendLine($"| (extra) save canonical dataset, Parquet ({storeBytes / 1048576.0:F0} MB) | {save:F2} |")
            .AppendLine($"| (extra) reload + verify content hash | {reload:F2} |")
            .AppendLine()
            .AppendLine($"peak RSS after split: {peak / 1048576.0:F0} MB; generation (not timed above): {gen:F1} s")
            .ToString();
        Console.WriteLine(json);
        Console.WriteLine(md);
        if (outPath is not null)
        {
            string jsonPath = outPath.EndsWith(".json", StringComparison.OrdinalIgnoreCase) ? outPath : Path.Combine(outPath, "data-prep.json");
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(jsonPath))!);
            WriteAtomic(jsonPath, json);
            WriteAtomic(Path.ChangeExtension(jsonPath, ".md"), md);
        }
        if (!keep) Directory.Delete(dir, recursive: true);
        return 0;
    }

    private static void WriteAtomic(string path, string text)
    {
        var tmp = path + ".tmp";
        File.WriteAllText(tmp, text);
        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>Users in order with heavy-tailed lengths (mean ~143, like ML-10M), Zipf(0.9) items, half-star ratings,
    /// increasing timestamps with some exact repeats.</summary>
    internal static void Generate(string path, long rows, int seed)
    {
        var rng = new Random(seed);
        int items = (int)Math.Max(100, Math.Min(10_677, rows / 900));
        var cdf = new double[items];
        double acc = 0;
        for (int i = 0; i < items; i++) { acc += 1.0 / Math.Pow(i + 1, 0.9); cdf[i] = acc; }
        for (int i = 0; i < items; i++) cdf[i] /= acc;
        var itemIds = Enumerable.Range(1, items).ToArray();
        rng.Shuffle(itemIds); // popularity is not ordered by id
        var tmp = path + ".tmp";
        using (var w = new StreamWriter(tmp, false, new UTF8Encoding(false), 1 << 20))
        {
            long written = 0;
            int user = 0;
            Span<char> buf = stackalloc char[64];
            while (written < rows)
            {
                user++;
                long n = Math.Min(rows - written, 20 + (long)(-Math.Log(1 - rng.NextDouble()) * 123));
                long t = 789_000_000 + rng.Next(0, 400_000_000);
                for (long k = 0; k < n; k++)
                {
                    int idx = Array.BinarySearch(cdf, rng.NextDouble());
                    if (idx < 0) idx = Math.Min(items - 1, ~idx);
                    if (rng.Next(4) != 0) t += rng.Next(1, 5000);
                    int stars = rng.Next(1, 11);
                    int len = 0;
                    user.TryFormat(buf, out int c); len += c;
                    buf[len++] = ':'; buf[len++] = ':';
                    itemIds[idx].TryFormat(buf[len..], out c, default, CultureInfo.InvariantCulture); len += c;
                    buf[len++] = ':'; buf[len++] = ':';
                    buf[len++] = (char)('0' + stars / 2);
                    if (stars % 2 == 1) { buf[len++] = '.'; buf[len++] = '5'; }
                    buf[len++] = ':'; buf[len++] = ':';
                    t.TryFormat(buf[len..], out c, default, CultureInfo.InvariantCulture); len += c;
                    buf[len++] = '\n';
                    w.Write(buf[..len]);
                }
                written += n;
            }
        }
        File.Move(tmp, path, overwrite: true);
    }
}
