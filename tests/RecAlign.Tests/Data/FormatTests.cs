using System.IO.Compression;
using System.Text;
using RecAlign.Data;
using RecAlign.Data.Candidates;
using RecAlign.Data.Formats;
using RecAlign.Data.Synthetic;
using RecAlign.Prompts;

namespace RecAlign.Tests.Data;

public class CandidatePromptJsonTests
{
    private static ItemCatalog Catalog(params string[] titles) => new(titles.Select((t, i) => new Item(i, i.ToString(), t)));

    [Fact]
    public void WritesPythonJsonLayoutAndReadsItBack()
    {
        var cat = Catalog("Boris", "Fever Ray", "µ-Ziq", "Say \"Hi\"", "Lion King, The");
        var ex = new List<CandidateExample> { new(0, [0, 1], 2, [3, 2, 4]) };
        using var ms = new MemoryStream();
        CandidatePromptJson.Write(ms, ex, cat);
        var text = Encoding.UTF8.GetString(ms.ToArray());
        const string expected = "[\n    {\n        \"historyList\": \"Boris::Fever Ray\",\n        \"itemList\": [\n            \"Say \\\"Hi\\\"\",\n" +
            "            \"\\u00b5-Ziq\",\n            \"Lion King, The\"\n        ],\n        \"trueSelection\": \"\\u00b5-Ziq\"\n    }\n]";
        Assert.Equal(expected, text);
        ms.Position = 0;
        var back = CandidatePromptJson.Read(ms, "x.json");
        Assert.Single(back.Examples);
        var e = back.Examples[0];
        Assert.Equal(["Boris", "Fever Ray"], e.History.Select(back.Catalog.Title));
        Assert.Equal(["Say \"Hi\"", "µ-Ziq", "Lion King, The"], e.Candidates.Select(back.Catalog.Title));
        Assert.Equal("µ-Ziq", back.Catalog.Title(e.Target));
    }

    private static string Element(int i) =>
        $"    {{\n        \"historyList\": \"A{i}\",\n        \"itemList\": [\n            \"B{i}\",\n            \"C{i}\"\n        ],\n        \"trueSelection\": \"C{i}\"\n    }}";

    [Fact]
    public void ContentAfterTheArrayIsAnErrorButTrailingWhitespaceIsNot()
    {
        var array = "[\n" + string.Join(",\n", Enumerable.Range(0, 2).Select(Element)) + "\n]";
        var path = Path.Combine(Path.GetTempPath(), $"recalign-trail-{Guid.NewGuid():N}.json");
        try
        {
            File.WriteAllText(path, array + "\r\n  \n");
            Assert.Equal(2, CandidatePromptJson.Read(path).Examples.Count);
            File.WriteAllText(path, array + "\n" + array); // two arrays back to back
            var e = Assert.Throws<DataFormatException>(() => CandidatePromptJson.Read(path));
            Assert.Equal(array.Split('\n').Length + 1, e.Line);
            Assert.Contains("after the JSON array", e.Message);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void TruncatedFileNamesTheFullPathTheLineAndTheElement()
    {
        // 8 lines per element after the opening bracket: element [3] starts on line 26; cut inside it (line 28).
        var text = "[\n" + string.Join(",\n", Enumerable.Range(0, 5).Select(Element)) + "\n]";
        var lines = text.Split('\n');
        var path = Path.Combine(Path.GetTempPath(), $"recalign-trunc-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, string.Join('\n', lines.Take(28)));
        try
        {
            var e = Assert.Throws<DataFormatException>(() => CandidatePromptJson.Read(path));
            Assert.Equal(path, e.File);
            Assert.Equal(28, e.Line);
            Assert.Equal("[3]", e.Field);
            Assert.DoesNotContain("LineNumber", e.Message);
            Assert.DoesNotContain("Path:", e.Message);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void ErrorsPastTheFirstBufferKeepFileWideLinesAndElementIndexes()
    {
        // ~300 KB: several 64 KB chunks; element 2000's candidate is a number.
        var elements = Enumerable.Range(0, 3000).Select(Element).ToList();
        elements[2000] = elements[2000].Replace("\"B2000\"", "7");
        var text = "[\n" + string.Join(",\n", elements) + "\n]";
        var e = Assert.Throws<DataFormatException>(() => CandidatePromptJson.Read(new MemoryStream(Encoding.UTF8.GetBytes(text)), "big.json"));
        Assert.Equal(2 + 8 * 2000, e.Line);
        Assert.Equal("[2000].itemList[0]", e.Field);

        elements[2000] = Element(2000).Replace("\"B2000\",", "\"B2000\" oops,");
        text = "[\n" + string.Join(",\n", elements) + "\n]";
        e = Assert.Throws<DataFormatException>(() => CandidatePromptJson.Read(new MemoryStream(Encoding.UTF8.GetBytes(text)), "big.json"));
        Assert.Equal(2 + 8 * 2000 + 3, e.Line);
        Assert.Equal("[2000]", e.Field);

        var ok = CandidatePromptJson.Read(new MemoryStream(Encoding.UTF8.GetBytes("\uFEFF[\n" + string.Join(",\n", Enumerable.Range(0, 3000).Select(Element)) + "\n]")), "big.json");
        Assert.Equal(3000, ok.Examples.Count);
        Assert.Equal("C2999", ok.Catalog.Title(ok.Examples[^1].Target));
    }

    [Fact]
    public void HistoryMayBeAListAndCatalogsCanBeSupplied()
    {
        const string json = """[{"historyList": ["A", "B"], "itemList": ["C", "D"], "trueSelection": "D"}, {"historyList": "", "itemList": ["A", "C"], "trueSelection": "A"}]""";
        var cat = Catalog("D", "C", "B", "A");
        var r = CandidatePromptJson.Read(new MemoryStream(Encoding.UTF8.GetBytes(json)), "l.json", cat);
        Assert.Same(cat, r.Catalog);
        Assert.Equal([3, 2], r.Examples[0].History);
        Assert.Equal(0, r.Examples[0].Target);
        Assert.Empty(r.Examples[1].History);
        Assert.Equal(1, r.Examples[1].User);
        var strict = new CandidatePromptReadOptions { UnknownTitles = UnknownTitlePolicy.Error };
        var err = Assert.Throws<DataFormatException>(() => CandidatePromptJson.Read(new MemoryStream(Encoding.UTF8.GetBytes(json)), "l.json", Catalog("A", "B", "C"), strict));
        Assert.Contains("'D' is not in the catalog", err.Message);
        var grown = CandidatePromptJson.Read(new MemoryStream(Encoding.UTF8.GetBytes(json)), "l.json", Catalog("A", "B", "C"));
        Assert.Equal(4, grown.Catalog.Count);
    }

    [Fact]
    public void MissingAnswerIsReportedWithTheElementIndex()
    {
        const string json = """[{"historyList": "A", "itemList": ["B", "C"], "trueSelection": "B"}, {"historyList": "A", "itemList": ["B", "C"], "trueSelection": "Z"}]""";
        var e = Assert.Throws<DataFormatException>(() => CandidatePromptJson.Read(new MemoryStream(Encoding.UTF8.GetBytes(json)), "val.json"));
        Assert.Equal("val.json", e.File);
        Assert.Equal("[1].trueSelection", e.Field);
        Assert.Contains("element 1", e.Message);
        Assert.StartsWith("val.json:1: field '[1].trueSelection': ", e.Message); // the line the element starts on
        var bad = Assert.Throws<DataFormatException>(() => CandidatePromptJson.Read(new MemoryStream("[{\"historyList\": 3}]"u8.ToArray()), "b.json"));
        Assert.Equal("[0].historyList", bad.Field);
        var broken = Assert.Throws<DataFormatException>(() => CandidatePromptJson.Read(new MemoryStream("[{\"historyList\": \"a\",\n ]"u8.ToArray()), "c.json"));
        Assert.Equal(2, broken.Line);
    }

    [Fact]
    public void DuplicateCandidatesAreKeptWithAWarningOrRejected()
    {
        const string json = """[{"historyList": "A", "itemList": ["B", "C", "B"], "trueSelection": "C"}]""";
        var r = CandidatePromptJson.Read(new MemoryStream(Encoding.UTF8.GetBytes(json)), "d.json");
        Assert.Single(r.Warnings);
        Assert.Equal(3, r.Examples[0].Candidates.Count);
        Assert.Throws<DataFormatException>(() => CandidatePromptJson.Read(new MemoryStream(Encoding.UTF8.GetBytes(json)), "d.json", null,
            new CandidatePromptReadOptions { RejectDuplicateCandidates = true }));
    }

    [Fact]
    public void SyntheticExportRoundTripsThroughGzipFiles()
    {
        var world = SyntheticWorld.Generate(SyntheticConfig.Tiny);
        var examples = world.Dataset.Sequences().Take(30).Select(s => new SequenceExample(s.User, s.Items[..^1], s.Items[^1], s.Timestamps[^1]));
        var lists = CandidateSampler.Sample(examples, new CandidateConfig { Seed = 1 }, world.Catalog.Count);
        using var tmp = new TempDir();
        CandidatePromptJson.Write(tmp.Sub("a.json.gz"), lists, world.Catalog);
        var back = CandidatePromptJson.Read(tmp.Sub("a.json.gz"), world.Catalog, new CandidatePromptReadOptions { UnknownTitles = UnknownTitlePolicy.Error });
        Assert.Equal(lists.Select(l => l.Candidates), back.Examples.Select(l => l.Candidates));
        Assert.Equal(lists.Select(l => l.History), back.Examples.Select(l => l.History));
        Assert.Equal(lists.Select(l => l.Target), back.Examples.Select(l => l.Target));
        Assert.Empty(Directory.GetFiles(tmp.Path, "*.tmp"));
    }

    [Fact]
    public void ItemListFileReadsIdTitleLines()
    {
        using var tmp = new TempDir();
        System.IO.File.WriteAllText(tmp.Sub("id2name.txt"), "0::Morcheeba\n1::Café Del Mar\n2::A::B\n");
        var cat = ItemListFile.Read(tmp.Sub("id2name.txt"));
        Assert.Equal(["Morcheeba", "Café Del Mar", "A::B"], cat.Items.Select(i => i.Title));
        Assert.Equal("2", cat[2].ExternalId);
        ItemListFile.Write(tmp.Sub("out.txt"), cat);
        Assert.Equal(System.IO.File.ReadAllText(tmp.Sub("id2name.txt")), System.IO.File.ReadAllText(tmp.Sub("out.txt")));
        System.IO.File.WriteAllText(tmp.Sub("bad.txt"), "0::A\nno separator\n");
        var e = Assert.Throws<DataFormatException>(() => ItemListFile.Read(tmp.Sub("bad.txt")));
        Assert.Equal(2, e.Line);
    }
}

public class TrlJsonlTests
{
    [Fact]
    public void PreferencesRoundTripWithStringOrListRejected()
    {
        using var tmp = new TempDir();
        var prefs = new List<PreferenceExample>
        {
            new("p1 \"q\" é", "A", ["B"]),
            new("p2\nline", "C", ["D", "E", "F"]),
        };
        TrlJsonl.WritePreferences(tmp.Sub("p.jsonl"), prefs);
        var lines = System.IO.File.ReadAllLines(tmp.Sub("p.jsonl"));
        Assert.Equal("{\"prompt\":\"p1 \\\"q\\\" é\",\"chosen\":\"A\",\"rejected\":\"B\"}", lines[0]);
        Assert.Contains("\"rejected\":[\"D\",\"E\",\"F\"]", lines[1]);
        var back = TrlJsonl.ReadPreferences(tmp.Sub("p.jsonl"));
        TrlJsonl.WritePreferences(tmp.Sub("l.jsonl"), prefs.Take(1), rejectedAsList: true);
        Assert.EndsWith("\"rejected\":[\"B\"]}", System.IO.File.ReadAllLines(tmp.Sub("l.jsonl"))[0]);
        Assert.Equal(prefs.Select(p => (p.Prompt, p.Chosen, string.Join("|", p.Rejected))), back.Select(p => (p.Prompt, p.Chosen, string.Join("|", p.Rejected))));
    }

    [Fact]
    public void ReadsSdpoRejectedColumnsAndReportsBadLines()
    {
        using var tmp = new TempDir();
        System.IO.File.WriteAllText(tmp.Sub("s.jsonl"), "{\"prompt\":\"p\",\"chosen\":\"a\",\"rejected1\":\"b\",\"rejected2\":\"c\"}\n\n{\"prompt\":\"p\",\"chosen\":\"a\"}\n");
        var e = Assert.Throws<DataFormatException>(() => TrlJsonl.ReadPreferences(tmp.Sub("s.jsonl")));
        Assert.Equal(3, e.Line);
        Assert.Equal("rejected", e.Field);
        System.IO.File.WriteAllText(tmp.Sub("s.jsonl"), "{\"prompt\":\"p\",\"chosen\":\"a\",\"rejected1\":\"b\",\"rejected2\":\"c\"}\n");
        Assert.Equal(["b", "c"], TrlJsonl.ReadPreferences(tmp.Sub("s.jsonl"))[0].Rejected);
    }

    [Fact]
    public void SftRoundTripsGzipped()
    {
        using var tmp = new TempDir();
        var sft = new List<PromptExample> { new("prompt one ", "Answer"), new("two", "B") };
        TrlJsonl.WriteSft(tmp.Sub("sft.jsonl.gz"), sft);
        using (var gz = new GZipStream(System.IO.File.OpenRead(tmp.Sub("sft.jsonl.gz")), CompressionMode.Decompress))
        using (var r = new StreamReader(gz))
            Assert.Equal("{\"prompt\":\"prompt one \",\"completion\":\"Answer\"}", r.ReadLine());
        Assert.Equal(sft, TrlJsonl.ReadSft(tmp.Sub("sft.jsonl.gz")));
    }
}

public class CandidateBundleTests
{
    [Fact]
    public void WritesSplitPartsAndItemListThatReadBack()
    {
        var world = SyntheticWorld.Generate(SyntheticConfig.Tiny with { Users = 40 });
        var split = RecAlign.Data.Splits.Splitter.Split(world.Dataset, new RecAlign.Data.Splits.SplitConfig());
        var (train, eval) = CandidateBundle.Samplers(new CandidateConfig { Seed = 4, Count = 10 }, world.Catalog.Count, split);
        using var tmp = new TempDir();
        var files = CandidateBundle.Write(tmp.Path, world.Catalog, split, train, eval,
            new CandidateBundleOptions { Prefix = "syn-", MaxHistory = 5, GzipTrain = true });
        Assert.Equal(["syn-train.json.gz", "syn-val.json", "syn-test.json", "id2name.txt"], files.Select(f => System.IO.Path.GetFileName(f.Path)));
        var names = ItemListFile.Read(tmp.Sub("id2name.txt"));
        Assert.Equal(world.Catalog.Items.Select(i => i.Title), names.Items.Select(i => i.Title));
        var test = CandidatePromptJson.Read(tmp.Sub("syn-test.json"), names, new CandidatePromptReadOptions { UnknownTitles = UnknownTitlePolicy.Error });
        Assert.Equal(split.Test.Count, test.Examples.Count);
        Assert.All(test.Examples, e => { Assert.InRange(e.History.Count, 1, 5); Assert.Equal(10, e.Candidates.Count); });
        Assert.Equal(split.Test.Select(e => e.Target), test.Examples.Select(e => e.Target));
    }

    [Fact]
    public void ExposureShiftRefusesANegativePolicyOfItsOwn()
    {
        var world = SyntheticWorld.Generate(SyntheticConfig.Tiny with { Users = 40 });
        var split = RecAlign.Data.Splits.Splitter.Split(world.Dataset,
            new RecAlign.Data.Splits.SplitConfig { Method = RecAlign.Data.Splits.SplitMethod.ExposureShift });
        var (train, _) = CandidateBundle.Samplers(new CandidateConfig { Seed = 4, Count = 10 }, world.Catalog.Count, split);
        Assert.NotNull(train);
        var error = Assert.Throws<ArgumentException>(() => CandidateBundle.Samplers(
            new CandidateConfig { Seed = 4, Count = 10, Negatives = NegativeSampling.Popularity }, world.Catalog.Count, split));
        Assert.Contains("exposure_shift", error.Message);
    }
}
