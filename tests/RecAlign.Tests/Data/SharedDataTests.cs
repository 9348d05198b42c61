using RecAlign.IO;
using System.Diagnostics;
using System.IO.Compression;
using RecAlign.Data;
using RecAlign.Data.Audit;
using RecAlign.Data.Candidates;
using RecAlign.Data.Formats;
using Xunit.Abstractions;

namespace RecAlign.Tests.Data;

/// <summary>Integration tests on the published S-DPO / CausalDPO files (skipped when /work/shared/data is absent).</summary>
public class SharedDataTests(ITestOutputHelper output)
{
    private const string LastFmVal = "lastfm/lastfm-sft-cans20/lastfm-val.json";
    private const string LastFmTrain = "lastfm/lastfm-sft-cans20/lastfm-train.json.gz";
    private const string MlVal = "causaldpo/ml-1m/ml-val.json";
    private const string MlOod = "causaldpo/ml-1m/ml-ood_test.json";
    private const string MlNames = "causaldpo/ml-1m/ood_id2name.txt";

    private static readonly Lazy<(CandidatePromptFile Train, CandidatePromptFile Val)> LastFm = new(() =>
    {
        var train = CandidatePromptJson.Read(SharedData.PathOf(LastFmTrain));
        var val = CandidatePromptJson.Read(SharedData.PathOf(LastFmVal), train.Catalog);
        return (train, val);
    });

    private static byte[] Bytes(string path)
    {
        using var s = AtomicFile.OpenRead(path);
        using var ms = new MemoryStream();
        s.CopyTo(ms);
        return ms.ToArray();
    }

    [SharedDataFact(LastFmVal, MlVal, MlOod)]
    public void PublishedFilesRoundTripByteForByte()
    {
        foreach (var rel in new[] { LastFmVal, MlVal, MlOod })
        {
            var file = CandidatePromptJson.Read(SharedData.PathOf(rel));
            using var ms = new MemoryStream();
            CandidatePromptJson.Write(ms, file.Examples, file.Catalog);
            Assert.True(Bytes(SharedData.PathOf(rel)).AsSpan().SequenceEqual(ms.ToArray()), $"{rel} did not round-trip");
            output.WriteLine($"{rel}: {file.Examples.Count} examples, {file.Catalog.Count} titles, {file.Warnings.Count} warnings");
        }
    }

    [SharedDataFact(LastFmTrain)]
    public void GzippedTrainFileRoundTrips()
    {
        var train = LastFm.Value.Train;
        Assert.Equal(47872, train.Examples.Count);
        using var tmp = new TempDir();
        CandidatePromptJson.Write(tmp.Sub("train.json.gz"), train.Examples, train.Catalog);
        Assert.True(Bytes(SharedData.PathOf(LastFmTrain)).AsSpan().SequenceEqual(Bytes(tmp.Sub("train.json.gz"))));
    }

    [SharedDataFact(MlVal, MlNames)]
    public void CausalDpoFilesMapOntoTheirItemList()
    {
        var names = ItemListFile.Read(SharedData.PathOf(MlNames));
        Assert.Equal(3471, names.Count);
        var val = CandidatePromptJson.Read(SharedData.PathOf(MlVal), names);
        Assert.Equal(2282, val.Examples.Count);
        Assert.Equal(10, val.Examples[0].Candidates.Count);
        Assert.Single(val.Warnings); // one list names "Mummy, The" twice
        Assert.Contains("element 883", val.Warnings[0]);
    }

    [SharedDataFact(LastFmTrain, LastFmVal)]
    public void AuditFlagsSdpoLastFmAndPassesOurResampledLists()
    {
        var (train, val) = LastFm.Value;
        var leaky = LeakAudit.Run(val.Examples, val.Catalog, train.Examples);
        output.WriteLine($"S-DPO: lookup {leaky.LookupHr1:F3} overlap {leaky.SameAnswerOverlap:F3} repeated {leaky.RepeatedSetRate:F3} pos {leaky.PositionMaxOverExpected:F2}");
        Assert.False(leaky.Passed);
        Assert.True(leaky.LookupHr1 > 0.9, $"lookup HR@1 {leaky.LookupHr1}");
        Assert.Contains(leaky.Failures, f => f.Contains("history-free lookup"));

        // The same histories and targets with lists from our sampler (independent of the target) pass.
        var catalog = val.Catalog;
        List<CandidateExample> Resample(CandidatePromptFile f, ulong seed) => CandidateSampler.Sample(
            f.Examples.Select(e => new SequenceExample(e.User, e.History, e.Target, 0)), new CandidateConfig { Seed = seed }, catalog.Count);
        var ours = LeakAudit.Run(Resample(val, 2), catalog, Resample(train, 1));
        output.WriteLine($"ours: lookup {ours.LookupHr1:F3} overlap {ours.SameAnswerOverlap:F3} repeated {ours.RepeatedSetRate:F3}");
        Assert.True(ours.Passed, string.Join("; ", ours.Failures));
        Assert.True(ours.LookupHr1 < 0.1);
    }

    [SharedDataFact(LastFmVal)]
    public void LeaveOneOutAuditFlagsTheValidationFileAlone()
    {
        var val = LastFm.Value.Val;
        var r = LeakAudit.Run(val.Examples, val.Catalog);
        output.WriteLine($"val LOO: lookup {r.LookupHr1:F3} overlap {r.SameAnswerOverlap:F3}");
        Assert.Equal("leave-one-out", r.LookupSource);
        Assert.False(r.Passed);
    }

    [SharedDataFact(MlVal, MlOod)]
    public void AuditPassesCausalDpoFiles()
    {
        var val = CandidatePromptJson.Read(SharedData.PathOf(MlVal));
        var ood = CandidatePromptJson.Read(SharedData.PathOf(MlOod), val.Catalog);
        var r = LeakAudit.Run(ood.Examples, ood.Catalog, val.Examples);
        output.WriteLine($"CausalDPO ood vs val: lookup {r.LookupHr1:F3} overlap {r.SameAnswerOverlap:F3} malformed {r.MalformedLists}");
        Assert.True(r.Passed, string.Join("; ", r.Failures));
        Assert.Equal(1, r.MalformedLists); // element 1496 names its answer twice
    }
}
