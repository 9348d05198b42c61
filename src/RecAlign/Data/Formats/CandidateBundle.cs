using RecAlign.Data.Candidates;
using RecAlign.Data.Splits;

namespace RecAlign.Data.Formats;

/// <summary>Options of <see cref="CandidateBundle.Write"/>.</summary>
public sealed record CandidateBundleOptions
{
    /// <summary>File name prefix (S-DPO names files <c>lastfm-train.json</c>: prefix <c>lastfm-</c>).</summary>
    public string Prefix { get; init; } = "";
    /// <summary>Names of the three parts.</summary>
    public string TrainName { get; init; } = "train";
    public string ValidationName { get; init; } = "val";
    public string TestName { get; init; } = "test";
    /// <summary>Keep only the latest N history items in the files (0 = all; S-DPO keeps 10).</summary>
    public int MaxHistory { get; init; }
    /// <summary>Gzip the training file (<c>.json.gz</c>).</summary>
    public bool GzipTrain { get; init; }
    public CandidatePromptWriteOptions Json { get; init; } = new();
}

/// <summary>Candidate lists of a split written as S-DPO candidate-prompt JSON files plus an <c>id2name.txt</c> item
/// list (dense ids), the layout S-DPO/CausalDPO code reads.</summary>
public static class CandidateBundle
{
    /// <summary>Samples candidates for every part of <paramref name="split"/> and writes them under
    /// <paramref name="dir"/>. Returns the written files with their example counts.</summary>
    public static IReadOnlyList<(string Path, int Examples)> Write(string dir, ItemCatalog catalog, SplitResult split,
        CandidateSampler sampler, CandidateBundleOptions? options = null) => Write(dir, catalog, split, sampler, sampler, options);

    /// <summary>Samplers for a split: popularity weights from the training targets; with an exposure-shift split
    /// (<see cref="SplitResult.Exposure"/>), weighted sampling by the training policy for train and the test policy
    /// for validation/test.</summary>
    public static (CandidateSampler Train, CandidateSampler Evaluation) Samplers(CandidateConfig config, int itemCount, SplitResult split)
    {
        var trainInteractions = split.Train.Select(e => new Interaction(e.User, e.Target, e.TargetTimestamp));
        if (split.Exposure is { } x)
        {
            // The exposure-shift split's point is its own two exposure policies; another policy would silently replace them.
            if (config.Negatives is not NegativeSampling.Uniform and not NegativeSampling.Weighted)
                throw new ArgumentException($"negatives: the exposure_shift split draws candidates from its train and test exposure policies; '{config.Negatives.ToString().ToLowerInvariant()}' negatives do not apply (leave the default)");
            var weighted = config with { Negatives = NegativeSampling.Weighted };
            return (new CandidateSampler(weighted, itemCount, x.Train), new CandidateSampler(weighted, itemCount, x.Test));
        }
        var s = CandidateSampler.For(config, itemCount, trainInteractions);
        return (s, s);
    }

    public static IReadOnlyList<(string Path, int Examples)> Write(string dir, ItemCatalog catalog, SplitResult split,
        CandidateSampler trainSampler, CandidateSampler evaluationSampler, CandidateBundleOptions? options = null)
    {
        options ??= new();
        Directory.CreateDirectory(dir);
        var written = new List<(string, int)>();
        foreach (var (name, part, gz, sampler) in new[]
                 {
                     (options.TrainName, split.Train, options.GzipTrain, trainSampler),
                     (options.ValidationName, split.Validation, false, evaluationSampler),
                     (options.TestName, split.Test, false, evaluationSampler),
                 })
        {
            if (part.Count == 0) continue;
            var lists = sampler.Sample(part);
            if (options.MaxHistory > 0)
                lists = lists.Select(e => e.History.Count <= options.MaxHistory ? e
                    : e with { History = e.History.Skip(e.History.Count - options.MaxHistory).ToArray() }).ToList();
            var path = Path.Combine(dir, $"{options.Prefix}{name}.json{(gz ? ".gz" : "")}");
            CandidatePromptJson.Write(path, lists, catalog, options.Json);
            written.Add((path, lists.Count));
        }
        var names = Path.Combine(dir, "id2name.txt");
        ItemListFile.Write(names, catalog, denseIds: true);
        written.Add((names, catalog.Count));
        return written;
    }
}
