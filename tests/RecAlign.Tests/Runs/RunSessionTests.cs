using RecAlign.Runs;

namespace RecAlign.Tests.Runs;

public class RunSessionTests
{
    private sealed record Cfg(int Seed = 3);

    [Fact]
    public void CompleteFailAndInterruptAreRecorded()
    {
        using var tmp = new TempDir();
        string ok, bad, cut;
        using (var s = RunSession.Start(tmp.Path, "sft", new Cfg()))
        {
            ok = s.Id;
            Assert.Equal(RunStatus.Running, s.Registry.Get(ok).Status);
            s.Run.LogMetrics(1, new Dictionary<string, double> { ["loss"] = 1.5 }, "sft");
            s.Complete(new RunSummary { FinalMetrics = new Dictionary<string, double> { ["hr1"] = 0.3 } }, writeReport: false);
        }
        using (var s = RunSession.Start(tmp.Path, "align", new Cfg(), parent: ok))
        {
            bad = s.Id;
            s.Fail(new InvalidOperationException("boom"));
        }
        using (var s = RunSession.Start(tmp.Path, "eval", new Cfg())) cut = s.Id;

        var reg = RunRegistry.ForRunsDir(tmp.Path);
        var okRec = reg.Get(ok);
        Assert.Equal(RunStatus.Completed, okRec.Status);
        Assert.Equal(0.3, okRec.FinalMetrics["hr1"]);
        Assert.Equal(RunStatus.Completed, RunDirectory.Open(okRec.Dir).ReadSummary()!.Status);
        var badRec = reg.Get(bad);
        Assert.Equal(RunStatus.Failed, badRec.Status);
        Assert.Equal(ok, badRec.Parent);
        Assert.Contains("boom", File.ReadAllText(Path.Combine(badRec.Dir, RunDirectory.LogFile)));
        Assert.Equal(RunStatus.Interrupted, reg.Get(cut).Status);
    }

    [Fact]
    public void AKillBetweenTheSummaryAndTheRegistryIsRepaired_AndResumeRefusesTheCompletedRun()
    {
        // The summary is written (atomically) first; a process killed before the registry row changes leaves the row
        // "running" (or "interrupted", after an abandoned-run sweep) while the folder says completed.
        using var tmp = new TempDir();
        string id, path;
        using (var s = RunSession.Start(tmp.Path, "sft", new Cfg()))
        {
            (id, path) = (s.Id, s.Run.Path);
            s.Run.WriteSummary(new RunSummary { FinalMetrics = new Dictionary<string, double> { ["final_loss"] = 1.25 } });
            s.Registry.UpdateStatus(id, RunStatus.Interrupted); // what a sweep would have said of the killed run
        }
        var reg = RunRegistry.ForRunsDir(tmp.Path);
        reg.UpdateStatus(id, RunStatus.Interrupted); // disposing the session marked it interrupted too
        var e = Assert.Throws<ArgumentException>(() => RunSession.Resume(path, "sft", new Cfg()));
        Assert.Contains("already completed", e.Message);
        var record = reg.Get(id);
        Assert.Equal(RunStatus.Completed, record.Status); // disk and registry agree again
        Assert.Equal(1.25, record.FinalMetrics["final_loss"]);
        // The same repair from the sweep that runs list does.
        reg.UpdateStatus(id, RunStatus.Running);
        Assert.Empty(reg.MarkAbandoned());
        Assert.Equal(RunStatus.Completed, reg.Get(id).Status);
    }

    [Fact]
    public void ALostRegistryIsRebuiltFromTheRunFolders()
    {
        using var tmp = new TempDir();
        string done, failed;
        using (var s = RunSession.Start(tmp.Path, "sft", new Cfg()))
        {
            done = s.Id;
            s.Complete(new RunSummary { FinalMetrics = new Dictionary<string, double> { ["hr1"] = 0.5 } }, writeReport: false);
        }
        using (var s = RunSession.Start(tmp.Path, "align", new Cfg(4)))
        {
            failed = s.Id;
            s.Fail(new InvalidOperationException("x"));
        }
        foreach (var f in Directory.GetFiles(tmp.Path, RunRegistry.DefaultFileName + "*")) File.Delete(f);
        var reg = RunRegistry.ForRunsDir(tmp.Path);
        Assert.Equal(2, reg.Discover(tmp.Path));
        Assert.Equal(RunStatus.Completed, reg.Get(done).Status);
        Assert.Equal(0.5, reg.Get(done).FinalMetrics["hr1"]);
        Assert.Equal(RunStatus.Failed, reg.Get(failed).Status);
    }

    [Fact]
    public void ResumeContinuesTheSameCallAndRefusesAChangedOneFieldByField()
    {
        using var tmp = new TempDir();
        var inputs = new Dictionary<string, string?> { ["train"] = "/data/a.json", ["validation"] = null };
        string path;
        using (var s = RunSession.Start(tmp.Path, "sft", new Cfg(3), inputs: inputs)) path = s.Run.Path; // interrupted

        var changedConfig = Assert.Throws<ArgumentException>(() => RunSession.Resume(path, "sft", new Cfg(4), inputs));
        Assert.Contains("seed: 3 → 4", changedConfig.Message);
        var changedInput = Assert.Throws<ArgumentException>(() => RunSession.Resume(path, "sft", new Cfg(3),
            new Dictionary<string, string?> { ["train"] = "/data/b.json", ["validation"] = "/data/v.json" }));
        Assert.Contains("train: \"/data/a.json\" → \"/data/b.json\"", changedInput.Message);
        Assert.Contains("validation: (none) → \"/data/v.json\"", changedInput.Message);
        var wrongKind = Assert.Throws<ArgumentException>(() => RunSession.Resume(path, "align", new Cfg(3), inputs));
        Assert.Contains("'sft' run", wrongKind.Message);
        Assert.Equal(RunStatus.Interrupted, RunRegistry.ForRunsDir(tmp.Path).Get(Path.GetFileName(path)).Status);

        using (var s = RunSession.Resume(path, "sft", new Cfg(3), inputs))
        {
            Assert.Equal(RunStatus.Running, s.Registry.Get(s.Id).Status);
            s.Complete(new RunSummary(), writeReport: false);
        }
        Assert.Equal(RunStatus.Completed, RunRegistry.ForRunsDir(tmp.Path).Get(Path.GetFileName(path)).Status);
        var again = Assert.Throws<ArgumentException>(() => RunSession.Resume(path, "sft", new Cfg(3), inputs));
        Assert.Contains("already completed", again.Message);
        var log = File.ReadAllText(Path.Combine(path, RunDirectory.LogFile));
        Assert.Contains("interrupted", log);
        Assert.Contains("reopened for --resume", log);
    }

    [Fact]
    public void TheRunLockIsHeldWhileOpenAndAKilledRunIsFoundAbandoned()
    {
        using var tmp = new TempDir();
        string path;
        using (var s = RunSession.Start(tmp.Path, "sft", new Cfg()))
        {
            path = s.Run.Path;
            Assert.True(RunDirectory.IsHeld(path));
            var busy = Assert.Throws<IOException>(() => RunSession.Resume(path, "sft", new Cfg()));
            Assert.Contains("open in another process", busy.Message);
            Assert.Empty(s.Registry.MarkAbandoned()); // held: still running
        }
        Assert.False(RunDirectory.IsHeld(path));

        // A run killed outright: registered as running, lock file present, nobody holding it.
        var registry = RunRegistry.ForRunsDir(tmp.Path);
        string killed;
        using (var run = RunDirectory.Create(tmp.Path, "align", new Cfg()))
        {
            killed = run.Id;
            run.AcquireLock().Dispose();
            registry.Register(run, RunStatus.Running);
        }
        using (var old = RunDirectory.Create(tmp.Path, "pretrain", new Cfg())) // from before the lock existed
            registry.Register(old, RunStatus.Running);

        string finished;
        using (var run = RunDirectory.Create(tmp.Path, "eval", new Cfg())) // completed after the list was read
        {
            finished = run.Id;
            run.AcquireLock().Dispose();
            registry.Register(run, RunStatus.Completed);
        }
        Assert.False(registry.UpdateStatusIf(finished, RunStatus.Running, RunStatus.Interrupted));
        Assert.Equal(RunStatus.Completed, registry.Get(finished).Status);

        Assert.Equal([killed], registry.MarkAbandoned());
        Assert.Equal(RunStatus.Interrupted, registry.Get(killed).Status);
        Assert.Contains("no live process", File.ReadAllText(Path.Combine(registry.Get(killed).Dir, RunDirectory.LogFile)));
        Assert.Single(registry.List(new RunFilter(Status: RunStatus.Running)));
    }
}
