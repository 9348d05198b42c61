using RecAlign.IO;
using RecAlign.Tests.Runs;

namespace RecAlign.Tests.IO;

public class AtomicFileTests
{
    [Fact]
    public void ReplaceDirectorySwapsContentsWhole()
    {
        using var tmp = new TempDir();
        var dir = Path.Combine(tmp.Path, "ckpt");
        AtomicFile.ReplaceDirectory(dir, d => File.WriteAllText(Path.Combine(d, "a"), "1"));
        AtomicFile.ReplaceDirectory(dir, d => File.WriteAllText(Path.Combine(d, "b"), "2"));
        Assert.Equal(["b"], Directory.GetFiles(dir).Select(Path.GetFileName));
        Assert.Equal([dir], Directory.GetDirectories(tmp.Path));
    }

    [Fact]
    public void RecoveryDeletesUnfinishedCopiesAndRestoresAPreviousOneCaughtBetweenRenames()
    {
        using var tmp = new TempDir();
        string guid() => Guid.NewGuid().ToString("N");
        // step-1 complete, plus an unfinished new copy of it and a stale old copy
        Directory.CreateDirectory(Path.Combine(tmp.Path, "step-1"));
        Directory.CreateDirectory(Path.Combine(tmp.Path, $"step-1.tmp-{guid()}"));
        Directory.CreateDirectory(Path.Combine(tmp.Path, $"step-1.old-{guid()}"));
        // step-2: killed after moving the old copy aside, before moving the new one in
        var aside = Path.Combine(tmp.Path, $"step-2.old-{guid()}");
        Directory.CreateDirectory(aside);
        File.WriteAllText(Path.Combine(aside, "model"), "kept");
        Directory.CreateDirectory(Path.Combine(tmp.Path, $"step-2.tmp-{guid()}"));
        Directory.CreateDirectory(Path.Combine(tmp.Path, "step-3.tmp-not-a-guid")); // not ours: left alone

        var done = AtomicFile.RecoverDirectories(tmp.Path);

        Assert.Equal(["step-1", "step-2", "step-3.tmp-not-a-guid"],
            Directory.GetDirectories(tmp.Path).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Equal("kept", File.ReadAllText(Path.Combine(tmp.Path, "step-2", "model")));
        Assert.Equal(4, done.Count);
        Assert.Contains(done, l => l.StartsWith("restored"));
        Assert.Empty(AtomicFile.RecoverDirectories(tmp.Path));
    }

    [Fact]
    public void GzipReadsEveryMemberAndRefusesATruncatedOrCorruptFile()
    {
        using var tmp = new TempDir();
        static byte[] Gz(string text)
        {
            using var ms = new MemoryStream();
            using (var gz = new System.IO.Compression.GZipStream(ms, System.IO.Compression.CompressionLevel.Optimal, leaveOpen: true))
                gz.Write(System.Text.Encoding.UTF8.GetBytes(text));
            return ms.ToArray();
        }
        string Read(string name)
        {
            using var s = AtomicFile.OpenRead(Path.Combine(tmp.Path, name));
            using var r = new StreamReader(s);
            return r.ReadToEnd();
        }
        var lines = string.Concat(Enumerable.Range(0, 2000).Select(i => $"line {i}\n"));
        // bgzip and `cat a.gz b.gz` write several members: all are read, each checked.
        File.WriteAllBytes(Path.Combine(tmp.Path, "multi.gz"), [.. Gz(lines), .. Gz("tail\n")]);
        Assert.Equal(lines + "tail\n", Read("multi.gz"));
        var whole = Gz(lines);
        foreach (var (name, bytes) in new[]
        {
            ("cut-in-data.gz", whole[..(whole.Length / 2)]),
            ("cut-in-trailer.gz", whole[..^3]),
            ("second-member-cut.gz", [.. whole, .. Gz("tail\n")[..10]]),
            ("crc-wrong.gz", [.. whole[..^8], (byte)(whole[^8] ^ 1), .. whole[^7..]]),
        })
        {
            File.WriteAllBytes(Path.Combine(tmp.Path, name), bytes);
            var e = Assert.Throws<InvalidDataException>(() => Read(name));
            Assert.Contains(name, e.Message);
            Assert.Contains("truncated or corrupt gzip", e.Message);
        }
    }

    [Fact]
    public void OutputGuardRefusesWhatWouldDestroyDataAndAllowsWhatWasAskedFor()
    {
        using var tmp = new TempDir();
        string P(string n) => Path.Combine(tmp.Path, n);
        var kind = new OutputKind("thing folder", d => File.Exists(Path.Combine(d, "thing.json")));
        // new, empty: fine
        Assert.Equal(P("new"), OutputGuard.CheckDirectory("--out", P("new"), kind, false, []));
        Directory.CreateDirectory(P("empty"));
        OutputGuard.CheckDirectory("--out", P("empty"), kind, false, []);
        // someone else's files: refused even with --overwrite
        Directory.CreateDirectory(P("mine"));
        File.WriteAllText(P("mine/notes.txt"), "x");
        Assert.Contains("notes.txt", Assert.Throws<ArgumentException>(() => OutputGuard.CheckDirectory("--out", P("mine"), kind, true, [])).Message);
        // an output of the same kind: only with --overwrite (or when a resumed run replaces its own)
        Directory.CreateDirectory(P("old"));
        File.WriteAllText(P("old/thing.json"), "{}");
        Assert.Contains("--overwrite", Assert.Throws<ArgumentException>(() => OutputGuard.CheckDirectory("--out", P("old"), kind, false, [])).Message);
        OutputGuard.CheckDirectory("--out", P("old"), kind, true, []);
        OutputGuard.CheckDirectory("--out", P("old"), kind, false, [], replaceOwn: true);
        // an input, or a folder holding one, through a symbolic link too: refused
        File.WriteAllText(P("old/data.csv"), "1");
        Assert.Contains("the input", Assert.Throws<ArgumentException>(() => OutputGuard.CheckDirectory("--out", P("old"), kind, true, [("the input", P("old/data.csv"))])).Message);
        File.CreateSymbolicLink(P("link"), P("old"));
        Assert.Contains("that is the runs folder", Assert.Throws<ArgumentException>(() => OutputGuard.CheckDirectory("--out", P("link"), kind, true, [("the runs folder", P("old"))])).Message);
        Assert.Throws<ArgumentException>(() => OutputGuard.CheckDirectory("--out", Path.GetDirectoryName(Environment.CurrentDirectory)!, kind, true, []));
        foreach (var bad in new[] { "..", ".", "a/b", "", " x", "a\0b" })
            Assert.Throws<ArgumentException>(() => OutputGuard.SafeName("--name", bad));
        Assert.Equal("ml-1m", OutputGuard.SafeName("--name", "ml-1m"));
    }
}
