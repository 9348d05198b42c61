using RecAlign.Data;
using RecAlign.Data.Loaders;

namespace RecAlign.Tests.Data;

public class SequenceTableLoaderTests
{
    [Fact]
    public void WorkedExample_PrefixRowsBecomeExamplesAndUsers()
    {
        using var dir = new TempDir();
        dir.Write("id2name.txt", "0::A\n1::B\n2::C\n3::D\n");
        // user 1: A B C D as prefixes (width 2, padding 4); user 2: a single row; column order differs from the usual
        var csv = dir.Write("train_data.csv",
            "next,seq,len_seq\n0,4 4,1\n1,0 4,1\n2,\"[0, 1]\",2\n3,1 2,2\n2,3 0,2\n");
        var t = SequenceTableLoader.Load(csv);
        Assert.Equal(4, t.PaddingId);
        Assert.Equal(2, t.UserCount);
        Assert.Equal(1, t.Report.RowsDropped); // the padding-only first prefix
        Assert.Equal(4, t.Examples.Count);
        Assert.Equal(new[] { 0 }, t.Examples[0].History);
        Assert.Equal((0, 1, 1L), (t.Examples[0].User, t.Examples[0].Target, t.Examples[0].TargetTimestamp));
        Assert.Equal(new[] { 1, 2 }, t.Examples[2].History);
        Assert.Equal((0, 3, 3L), (t.Examples[2].User, t.Examples[2].Target, t.Examples[2].TargetTimestamp));
        Assert.Equal((1, 2, 2L), (t.Examples[3].User, t.Examples[3].Target, t.Examples[3].TargetTimestamp));
        Assert.Equal("C", t.Catalog.Title(2));
    }

    [Fact]
    public void Dataset_ReconstructsUserSequences()
    {
        using var dir = new TempDir();
        dir.Write("data_statis.csv", "seq_size,item_num\n2,4\n");
        dir.Write("train_data.csv", "seq,len_seq,next\n4 4,1,0\n0 4,1,1\n0 1,2,2\n1 2,2,3\n3 0,2,2\n");
        var (d, report) = DatasetLoaders.Load("seqcsv", dir.Path);
        Assert.Equal(4, d.Catalog.Count);
        Assert.Equal("item 3", d.Catalog.Title(3));
        var seqs = d.Sequences();
        Assert.Equal(2, seqs.Count);
        Assert.Equal(new[] { 0, 1, 2, 3 }, seqs[0].Items);
        Assert.Equal(new long[] { 0, 1, 2, 3 }, seqs[0].Timestamps);
        Assert.Equal(new[] { 3, 0, 2 }, seqs[1].Items);
        Assert.Equal(5, report.RowsRead);
    }

    [Fact]
    public void UItemCatalog_IdsShiftByOneAndGenreFlags()
    {
        using var dir = new TempDir();
        var flags = string.Join('|', Enumerable.Range(0, 19).Select(g => g is 3 or 5 ? "1" : "0"));
        var path = dir.Write("u.item", $"1|Toy Story (1995)|01-Jan-1995||http://x|{flags}\n2|GoldenEye (1995)|01-Jan-1995||http://y|{flags}\n");
        var c = SequenceTableLoader.LoadCatalog(path);
        Assert.Equal(2, c.Count);
        Assert.Equal(("1", "Toy Story (1995)", 1995), (c[0].ExternalId, c[0].Title, c[0].Year));
        Assert.Equal(new[] { "Animation", "Comedy" }, c[0].Genres);
    }

    [SharedDataFact("lastfm/ref-sdpo/train_data.csv", "lastfm/ref-sdpo/id2name.txt")]
    public void SharedData_LastFmSdpo_Train()
    {
        var t = SequenceTableLoader.Load(SharedData.PathOf("lastfm/ref-sdpo/train_data.csv"));
        Assert.Equal(4606, t.PaddingId);
        Assert.Equal(4606, t.Catalog.Count);
        Assert.Equal("Morcheeba", t.Catalog.Title(0));
        Assert.Equal(50800, t.Report.RowsRead);
        Assert.Equal(976, t.UserCount); // S-DPO's 8:1:1 split of 1,220 users: 976 train users
        Assert.Equal(50800 - 976, t.Examples.Count);
        Assert.All(t.Examples, e => Assert.InRange(e.History.Count, 1, 10));
        Assert.Equal(0, t.Report.RowsSkipped);
    }

    [SharedDataFact("movielens/ref-llara/Val_data.csv", "movielens/ref-llara/u.item")]
    public void SharedData_MovieLensLlara_Val()
    {
        var t = SequenceTableLoader.Load(SharedData.PathOf("movielens/ref-llara/Val_data.csv"));
        Assert.Equal(1682, t.PaddingId);
        Assert.Equal(94, t.Examples.Count);
        Assert.Equal("Toy Story (1995)", t.Catalog.Title(0));
        Assert.All(t.Examples, e => Assert.InRange(e.History.Count, 1, 10));
        Assert.Equal(92, t.Examples.Count(e => e.History.Count == 10));
    }

    [SharedDataFact("steam/ref-llara/Val_data.csv", "steam/ref-llara/id2name.txt")]
    public void SharedData_SteamLlara_ColumnOrderFromHeader()
    {
        var t = SequenceTableLoader.Load(SharedData.PathOf("steam/ref-llara/Val_data.csv"));
        Assert.Equal(3581, t.PaddingId);
        Assert.Equal(1194, t.Examples.Count);
        Assert.Equal(9, t.Examples[0].History.Count);
        Assert.Equal(66, t.Examples[0].Target);
    }

    [SharedDataFact("DreamRec-baiyimeng-fork/ks/val_data.csv", "DreamRec/ks/data_statis.csv")]
    public void SharedData_DreamRecKs_CatalogFromAnotherFolder()
    {
        var t = SequenceTableLoader.Load(SharedData.PathOf("DreamRec-baiyimeng-fork/ks/val_data.csv"),
            SharedData.PathOf("DreamRec/ks/data_statis.csv"));
        Assert.Equal(7261, t.PaddingId);
        Assert.Equal(76995 - 9209, t.Examples.Count);
    }

    [SharedDataFact("causaldpo/ml-1m/ood_id2name.txt")]
    public void SharedData_CausalDpoCatalog()
    {
        var c = SequenceTableLoader.LoadCatalog(SharedData.PathOf("causaldpo/ml-1m/ood_id2name.txt"));
        Assert.Equal(3471, c.Count);
        Assert.Equal("'Round Midnight", c.Title(1));
    }

    [SharedDataFact("DreamRec-baiyimeng-fork/zhihu")]
    public void SharedData_DreamRecZhihu_FolderAsDataset()
    {
        var (d, report) = DatasetLoaders.Load("seqcsv", SharedData.PathOf("DreamRec-baiyimeng-fork/zhihu"));
        Assert.Equal(4838, d.Catalog.Count);
        Assert.Equal(61641 + 8160, report.RowsRead);
        Assert.Equal(9371 + 1171, d.UserCount);
        Assert.Equal(0, report.RowsSkipped);
    }

    [Fact]
    public void ItemListOption_ServesTablesWithoutOneBeside()
    {
        using var dir = new TempDir();
        var statis = dir.Write("meta/data_statis.csv", "seq_size,item_num\n2,4\n");
        var csv = dir.Write("tables/val_data.csv", "seq,len_seq,next\n4 4,1,0\n0 4,1,1\n0 1,2,2\n");
        var e = Assert.Throws<DataFormatException>(() => DatasetLoaders.Load("seqcsv", csv));
        Assert.Contains("--items", e.Message);
        var (d, _) = DatasetLoaders.Load("seqcsv", csv, new LoadOptions { ItemList = statis });
        Assert.Equal(4, d.Catalog.Count);
        Assert.Equal(new[] { 0, 1, 2 }, d.Sequences()[0].Items);
        var (folder, _) = DatasetLoaders.Load("seqcsv", dir.Sub("tables"), new LoadOptions { ItemList = statis });
        Assert.Equal(3, folder.Interactions.Length);
        Assert.Contains("not found", Assert.Throws<DataFormatException>(() =>
            DatasetLoaders.Load("seqcsv", csv, new LoadOptions { ItemList = dir.Sub("none.txt") })).Message);
    }

    [SharedDataFact("DreamRec-baiyimeng-fork/ks/val_data.csv", "DreamRec/ks/data_statis.csv")]
    public void SharedData_DreamRecKs_DatasetWithItemListOption()
    {
        var (d, report) = DatasetLoaders.Load("seqcsv", SharedData.PathOf("DreamRec-baiyimeng-fork/ks/val_data.csv"),
            new LoadOptions { ItemList = SharedData.PathOf("DreamRec/ks/data_statis.csv") });
        Assert.Equal(7261, d.Catalog.Count);
        Assert.Equal(9209, d.UserCount);
        Assert.Equal(76995, report.RowsRead);
        Assert.Equal(0, report.RowsSkipped);
    }
}
