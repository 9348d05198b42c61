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
        CandidateSampler sampler, CandidateBundleOptions? options = null)
    {
        options ??= new();
        Directory.CreateDirectory(dir);
        var written = new List<(string, int)>();
        foreach (var (name, part, gz) in new[]
                 {
                     (options.TrainName, split.Train, options.GzipTrain),
                     (options.ValidationName, split.Validation, false),
                     (options.TestName, split.Test, false),
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
