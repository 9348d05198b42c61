using RecAlign.Data;
using RecAlign.Data.Storage;

namespace RecAlign.Tests.Data;

public class StorageTests
{
    internal static InteractionDataset Small() => new("small",
        new ItemCatalog([
            new Item(0, "10", "Heat (1995)") { Genres = ["Action", "Crime"], Year = 1995 },
            new Item(1, "20", "Café") { Genres = [] },
            new Item(2, "30", "Up (2009)") { Genres = ["Animation"], Year = 2009 },
        ]),
        ["u1", "u2", "u3"],
        [
            new Interaction(0, 0, 100, 4f), new Interaction(0, 1, 200), new Interaction(1, 2, 150, 3.5f),
            new Interaction(1, 0, 150, 5f), new Interaction(0, 2, 300, 1f),
        ]);

    [Fact]
    public void SaveLoad_RoundTripsEverything()
    {
        using var dir = new TempDir();
        var d = Small();
        var manifest = DatasetStore.Save(d, dir.Sub("ds"));
        var back = DatasetStore.Load(dir.Sub("ds"));
        Assert.Equal(d.Name, back.Name);
        Assert.Equal(d.UserExternalIds, back.UserExternalIds);
        Assert.Equal(d.Interactions, back.Interactions); // NaN ratings compare equal as record structs
        for (int i = 0; i < d.Catalog.Count; i++)
        {
            Assert.Equal((d.Catalog[i].ExternalId, d.Catalog[i].Title, d.Catalog[i].Year), (back.Catalog[i].ExternalId, back.Catalog[i].Title, back.Catalog[i].Year));
            Assert.Equal(d.Catalog[i].Genres, back.Catalog[i].Genres);
        }
        Assert.Equal(manifest.ContentHash, DatasetStore.ContentHash(back));
        Assert.StartsWith("sha256:", manifest.ContentHash);
        Assert.True(File.Exists(Path.Combine(dir.Sub("ds"), "dataset.json")));
        Assert.Equal(new[] { "ds" }, Directory.GetFileSystemEntries(dir.Path).Select(Path.GetFileName)); // no temp leftovers
    }

    [Fact]
    public void Save_ReplacesAnExistingFolderAtomically()
    {
        using var dir = new TempDir();
        DatasetStore.Save(Small(), dir.Sub("ds"));
        File.WriteAllText(Path.Combine(dir.Sub("ds"), "stale.txt"), "x");
        DatasetStore.Save(Small(), dir.Sub("ds"));
        Assert.False(File.Exists(Path.Combine(dir.Sub("ds"), "stale.txt")));
        Assert.Single(Directory.GetFileSystemEntries(dir.Path));
    }

    [Fact]
    public void ContentHash_ChangesWithContentNotName()
    {
        var d = Small();
        var renamed = new InteractionDataset("other", d.Catalog, d.UserExternalIds, d.Interactions);
        Assert.Equal(DatasetStore.ContentHash(d), DatasetStore.ContentHash(renamed));
        var changed = new InteractionDataset("small", d.Catalog, d.UserExternalIds, [.. d.Interactions[..4], d.Interactions[4] with { Timestamp = 301 }]);
        Assert.NotEqual(DatasetStore.ContentHash(d), DatasetStore.ContentHash(changed));
    }

    [Fact]
    public void Load_DetectsTamperedManifestHash()
    {
        using var dir = new TempDir();
        DatasetStore.Save(Small(), dir.Sub("ds"));
        var mpath = Path.Combine(dir.Sub("ds"), "dataset.json");
        var text = File.ReadAllText(mpath);
        File.WriteAllText(mpath, System.Text.RegularExpressions.Regex.Replace(text, "sha256:[0-9a-f]{4}", "sha256:0000"));
        var e = Assert.Throws<DataFormatException>(() => DatasetStore.Load(dir.Sub("ds")));
        Assert.Equal("content_hash", e.Field);
    }

    [Fact]
    public void Load_MissingFolderNamesTheManifest()
    {
        using var dir = new TempDir();
        var e = Assert.Throws<DataFormatException>(() => DatasetStore.Load(dir.Sub("nope")));
        Assert.EndsWith("dataset.json", e.File);
    }

    [Fact]
    public void Stats_WorkedExample()
    {
        var s = DatasetStats.Compute(Small());
        Assert.Equal((3, 3, 5L), (s.Users, s.Items, s.Interactions));
        Assert.Equal(1 - 5 / 9.0, s.Sparsity, 12);
        Assert.Equal(2, s.UsersWithInteractions); // u3 has none
        Assert.Equal((2, 2.5, 2.5, 3), (s.MinSequenceLength, s.MedianSequenceLength, s.MeanSequenceLength, s.MaxSequenceLength));
        Assert.Equal((100L, 300L), (s.FirstTimestamp!.Value, s.LastTimestamp!.Value));
        Assert.True(s.HasRatings);
        Assert.Equal(2, s.SequenceLengthHistogram.Single(b => b.Label == "2-4").Users);
        Assert.Equal(2, s.SequenceLengthHistogram.Sum(b => b.Users));
        Assert.Equal("1000+", s.SequenceLengthHistogram[^1].Label);
    }
}
