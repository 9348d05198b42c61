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
}
