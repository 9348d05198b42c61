using System.CommandLine;
using System.Globalization;
using RecAlign.Data;
using RecAlign.Data.Loaders;
using RecAlign.Data.Preprocessing;
using RecAlign.Data.Storage;
using RecAlign.IO;

namespace RecAlign.Cli.Commands;

/// <summary><c>data prepare</c> (raw files → canonical dataset folder) and <c>data stats</c>; the lead mounts them
/// under the <c>data</c> command.</summary>
internal static class DataPrepareCommands
{
    public static IEnumerable<Command> Build()
    {
        yield return Prepare();
        yield return Stats();
    }

    private static Command Prepare()
    {
        var format = new Option<string>("--format", "-f")
        {
            Description = $"source format: {string.Join("|", DatasetLoaders.Formats)}",
            Required = true,
        };
        format.AcceptOnlyFromAmong([.. DatasetLoaders.Formats]);
        var input = new Option<string>("--input", "-i") { Description = "source folder (or file)", Required = true };
        var kcore = new Option<int>("--k-core") { Description = "minimum interactions per user and per item (0 = off)", DefaultValueFactory = _ => 0 };
        var minRating = new Option<float?>("--min-rating") { Description = "keep interactions rated at least this (implicit feedback)" };
        var dups = new Option<DuplicatePolicy>("--duplicates") { Description = "repeated (user, item) pairs", DefaultValueFactory = _ => DuplicatePolicy.KeepFirst };
        var output = new Option<string?>("--out", "-o") { Description = "output folder (default: datasets/<name>); new or empty, an existing dataset folder only with --overwrite" };
        var overwrite = CommonOptions.Overwrite("dataset folder");
        var name = new Option<string?>("--name") { Description = "dataset name (default: the input folder name)" };
        var skipBad = new Option<bool>("--skip-bad-rows") { Description = "skip malformed rows (counted and reported) instead of failing" };
        var items = new Option<string?>("--items")
        {
            Description = "seqcsv only: item list (id::name id2name.txt, u.item or data_statis.csv); default: the one beside the table",
        };
        var cmd = new Command("prepare", "load a raw dataset, filter it and write the canonical dataset folder");
        foreach (var o in new Option[] { format, input, kcore, minRating, dups, output, overwrite, name, skipBad, items }) cmd.Options.Add(o);
        cmd.SetAction(pr =>
        {
            var sw = System.Diagnostics.Stopwatch.StartNew();
            var itemList = pr.GetValue(items);
            if (itemList is not null && !pr.GetValue(format)!.Equals("seqcsv", StringComparison.OrdinalIgnoreCase))
                throw new ArgumentException($"--items applies to -f seqcsv only (the {pr.GetValue(format)} loader finds its item file itself)");
            if (itemList is not null && !File.Exists(itemList)) throw new ArgumentException($"--items {itemList}: file not found");
            if (pr.GetValue(name) is { } given) OutputGuard.SafeName("--name", given);
            (string, string?)[] inputs = [("the --input data", pr.GetValue(input)), ("the --items file", itemList)];
            string CheckOut(string dir) => OutputGuard.CheckDirectory(pr.GetValue(output) is null ? "the default output folder" : "--out", dir,
                OutputKind.Dataset, pr.GetValue(overwrite), inputs);
            if (pr.GetValue(output) is { } early) CheckOut(early); // fail before loading
            var options = new LoadOptions { Name = pr.GetValue(name), SkipBadRows = pr.GetValue(skipBad), ItemList = itemList };
            var (raw, report) = DatasetLoaders.Load(pr.GetValue(format)!, pr.GetValue(input)!, options);
            Console.WriteLine($"loaded {raw.Name}: {raw.UserCount} users, {raw.Catalog.Count} items, {raw.Interactions.Length} interactions ({sw.Elapsed.TotalSeconds:F1} s)");
            Console.WriteLine("  " + report.ToString().Replace("\n", "\n  "));
            int k = pr.GetValue(kcore);
            if (k < 0) throw new ArgumentException("--k-core must be >= 0");
            var config = new PreprocessConfig { UserCore = k, ItemCore = k, MinRating = pr.GetValue(minRating), Duplicates = pr.GetValue(dups) };
            var (dataset, pre) = Preprocessor.Apply(raw, config);
            Console.WriteLine("preprocessed: " + pre);
            var dir = CheckOut(pr.GetValue(output) ?? Path.Combine("datasets", OutputGuard.SafeName("dataset name", dataset.Name)));
            var source = new Dictionary<string, string>
            {
                ["format"] = pr.GetValue(format)!,
                ["input"] = Path.GetFullPath(pr.GetValue(input)!),
                ["k_core"] = k.ToString(CultureInfo.InvariantCulture),
                ["min_rating"] = pr.GetValue(minRating)?.ToString(CultureInfo.InvariantCulture) ?? "",
                ["duplicates"] = config.Duplicates.ToString(),
                ["rows_skipped"] = report.RowsSkipped.ToString(CultureInfo.InvariantCulture),
            };
            if (itemList is not null) source["items"] = Path.GetFullPath(itemList);
            var manifest = DatasetStore.Save(dataset, dir, source);
            Console.WriteLine($"wrote {Path.GetFullPath(dir)} ({manifest.ContentHash}) in {sw.Elapsed.TotalSeconds:F1} s");
            PrintStats(manifest.Stats);
            return 0;
        });
        return cmd;
    }

    private static Command Stats()
    {
        var dir = new Argument<string>("dir") { Description = "a dataset folder written by 'data prepare'" };
        var recompute = new Option<bool>("--verify") { Description = "load the data, check the content hash and recompute the stats" };
        var cmd = new Command("stats", "print a prepared dataset's statistics");
        cmd.Arguments.Add(dir);
        cmd.Options.Add(recompute);
        cmd.SetAction(pr =>
        {
            var path = pr.GetValue(dir)!;
            var manifest = DatasetStore.ReadManifest(path);
            Console.WriteLine($"{manifest.Name} (format v{manifest.FormatVersion}, {manifest.ContentHash})");
            var stats = manifest.Stats;
            if (pr.GetValue(recompute))
            {
                stats = DatasetStats.Compute(DatasetStore.Load(path, verify: true));
                Console.WriteLine("content hash verified");
            }
            PrintStats(stats);
            return 0;
        });
        return cmd;
    }

    private static void PrintStats(DatasetStats s)
    {
        Console.WriteLine($"users {s.Users} ({s.UsersWithInteractions} active), items {s.Items} ({s.ItemsWithInteractions} interacted), " +
            $"interactions {s.Interactions}, sparsity {s.Sparsity:P3}");
        Console.WriteLine($"sequence length: min {s.MinSequenceLength}, median {s.MedianSequenceLength:F1}, mean {s.MeanSequenceLength:F1}, max {s.MaxSequenceLength}");
        if (s.FirstTimestamp is long a && s.LastTimestamp is long b)
            Console.WriteLine($"time: {a} .. {b}{(s.HasRatings ? ", explicit ratings" : ", implicit")}");
        foreach (var bucket in s.SequenceLengthHistogram)
            Console.WriteLine($"  {bucket.Label,-9} {bucket.Users,8}");
    }
}
