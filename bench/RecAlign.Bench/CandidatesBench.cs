using System.Diagnostics;
using System.Text.Json.Nodes;
using RecAlign.Data.Audit;
using RecAlign.Data.Candidates;
using RecAlign.Data.Splits;
using RecAlign.Data.Synthetic;
using RecAlign.Prompts;

namespace RecAlign.Bench;

/// <summary>The data pipeline after loading, on the synthetic world: generation, leave-one-out split, candidate
/// sampling (uniform and popularity, every training prefix), prompt rendering, preference building and the leak
/// audit. Args: [--size tiny|small] (default small) [--seed S] [--out FILE.json].</summary>
public static class CandidatesBench
{
    public static int Run(string[] args)
    {
        var size = BenchOutput.Value(args, "--size") ?? "small";
        ulong seed = ulong.Parse(BenchOutput.Value(args, "--seed") ?? "42", System.Globalization.CultureInfo.InvariantCulture);
        var sw = Stopwatch.StartNew();
        var world = SyntheticWorld.Generate(SyntheticConfig.Preset(size) with { Seed = seed });
        double gen = sw.Elapsed.TotalSeconds;
        var dataset = world.Dataset;

        sw.Restart();
        var split = Splitter.Split(dataset, new SplitConfig());
        double splitS = sw.Elapsed.TotalSeconds;

        sw.Restart();
        var uniform = CandidateSampler.Sample(split.Train, new CandidateConfig { Seed = 1 }, dataset.Catalog.Count);
        double uniformS = sw.Elapsed.TotalSeconds;

        sw.Restart();
        var popSampler = CandidateBundle(split, dataset.Catalog.Count);
        var popular = popSampler.Sample(split.Train);
        double popS = sw.Elapsed.TotalSeconds;

        sw.Restart();
        var builder = new PromptBuilder(dataset.Catalog, PromptTemplates.Item, new PromptConfig { Seed = 1 });
        var sft = builder.Build(uniform);
        double promptS = sw.Elapsed.TotalSeconds;

        sw.Restart();
        var prefs = builder.BuildPreferences(uniform, 3);
        double prefS = sw.Elapsed.TotalSeconds;

        sw.Restart();
        var test = CandidateSampler.Sample(split.Test, new CandidateConfig { Seed = 2 }, dataset.Catalog.Count);
        var audit = LeakAudit.Run(test, dataset.Catalog, uniform);
        double auditS = sw.Elapsed.TotalSeconds;

        int n = uniform.Count;
        var result = new JsonObject
        {
            ["benchmark"] = "candidates",
            ["machine"] = BenchOutput.Machine(),
            ["size"] = size,
            ["users"] = dataset.UserCount,
            ["items"] = dataset.Catalog.Count,
            ["interactions"] = dataset.Interactions.Length,
            ["train_examples"] = n,
            ["generate_s"] = Math.Round(gen, 3),
            ["split_s"] = Math.Round(splitS, 3),
            ["uniform_lists_per_s"] = Math.Round(n / uniformS),
            ["popularity_lists_per_s"] = Math.Round(popular.Count / popS),
            ["prompts_per_s"] = Math.Round(sft.Count / promptS),
            ["preferences_per_s"] = Math.Round(prefs.Count / prefS),
            ["audit_s"] = Math.Round(auditS, 3),
            ["audit_passed"] = audit.Passed,
            ["peak_rss_mb"] = Math.Round(BenchOutput.PeakRssMb()),
        };
        BenchOutput.Write(args, "candidates", result,
        [
            ("world", $"{size}: {dataset.UserCount} users, {dataset.Catalog.Count} items, {dataset.Interactions.Length} interactions"),
            ("generate", $"{gen:F2} s"),
            ("leave-one-out split", $"{splitS:F2} s ({n} train examples)"),
            ("uniform candidate lists (20)", $"{n / uniformS:N0} /s"),
            ("popularity candidate lists (20)", $"{popular.Count / popS:N0} /s"),
            ("prompts", $"{sft.Count / promptS:N0} /s"),
            ("preferences (k = 3)", $"{prefs.Count / prefS:N0} /s"),
            ("leak audit (test vs train)", $"{auditS:F2} s, passed: {audit.Passed}"),
        ]);
        return 0;
    }

    private static CandidateSampler CandidateBundle(SplitResult split, int items) =>
        CandidateSampler.For(new CandidateConfig { Seed = 1, Negatives = NegativeSampling.Popularity }, items,
            split.Train.Select(e => new RecAlign.Data.Interaction(e.User, e.Target, e.TargetTimestamp)));
}
