using RecAlign.Pipelines;
using RecAlign.Runs;
using RecAlign.Tests.Runs;

namespace RecAlign.Tests.Pipelines;

public class SweepTests
{
    /// <summary>Stands in for the pipeline: records the cells it is asked to run and makes up metrics from the seed;
    /// <see cref="KillAt"/> ends the sweep in the middle of that call, as a kill would.</summary>
    private sealed class FakeRunner(string sweepFolder) : ISweepCellRunner
    {
        public List<string> Calls { get; } = [];
        public int? KillAt { get; init; }

        public SweepCellResult Run(SweepPlan plan, SweepCell cell, TextWriter? console)
        {
            Calls.Add(cell.Id);
            if (Calls.Count == KillAt)
            {
                // What a kill at this moment leaves on disk: this cell running, the ones before it completed.
                var state = Sweep.Read(Path.Combine(sweepFolder, Sweep.StateFile));
                Assert.Equal(SweepCellStatus.Running, state.Cells.Single(c => c.Id == cell.Id).Status);
                Assert.Equal(Calls.Count - 1, state.Cells.Count(c => c.Status == SweepCellStatus.Completed));
                throw new OperationCanceledException("killed");
            }
            var metrics = new Dictionary<string, double> { ["hr1"] = 0.1 * cell.Seed, ["catalog_ndcg@10"] = 0.01 * cell.Seed };
            return new SweepCellResult($"/runs/{cell.Id}", new Dictionary<string, IReadOnlyDictionary<string, double>> { ["sasrec"] = metrics, ["dpo"] = metrics }, 1.5);
        }
    }

    private const string Grid = """
        seeds: [1, 2, 3]
        settings:
          a: [pipeline.candidates=10]
          b: [pipeline.candidates=12]
        """;

    private static SweepPlan Plan(TempDir tmp, string yaml = Grid)
    {
        var path = Path.Combine(tmp.Path, "grid.yaml");
        File.WriteAllText(path, yaml);
        return SweepGridFile.Load(path);
    }

    [Fact]
    public void AKilledSweepRerunsOnlyTheCellsItHadNotCompleted()
    {
        using var tmp = new TempDir();
        var folder = Path.Combine(tmp.Path, "sweep");
        var plan = Plan(tmp);
        var first = new FakeRunner(folder) { KillAt = 3 };
        Assert.Throws<OperationCanceledException>(() => Sweep.Run(plan, folder, first));
        Assert.Equal(["a/seed=1", "b/seed=1", "a/seed=2"], first.Calls);
        var killed = Sweep.Read(Path.Combine(folder, Sweep.StateFile));
        Assert.Equal([SweepCellStatus.Completed, SweepCellStatus.Completed, SweepCellStatus.Failed, SweepCellStatus.Pending, SweepCellStatus.Pending, SweepCellStatus.Pending],
            killed.Cells.Select(c => c.Status));
        Assert.Contains("2 of 6 completed", File.ReadAllText(Path.Combine(folder, SweepReport.ReportFile))); // a partial report is there

        var second = new FakeRunner(folder);
        var result = Sweep.Run(Plan(tmp), folder, second);
        Assert.Equal(["a/seed=2", "b/seed=2", "a/seed=3", "b/seed=3"], second.Calls);
        Assert.Equal((4, 2), (result.CellsRun, result.CellsReused));
        Assert.All(result.State.Cells, c => Assert.Equal(SweepCellStatus.Completed, c.Status));
        Assert.Equal("/runs/a/seed=1", result.State.Cells[0].RunDir); // reused as stored
        Assert.Equal(0.1, result.State.Cells[0].Metrics!["sasrec"]["hr1"]);

        // Everything done: a third call runs nothing and writes the same report.
        var report = File.ReadAllText(result.ReportPath);
        var third = new FakeRunner(folder);
        Sweep.Run(Plan(tmp), folder, third);
        Assert.Empty(third.Calls);
        Assert.Equal(report, File.ReadAllText(result.ReportPath));
    }

    [Fact]
    public void ACellLeftRunningByAKillRunsAgain()
    {
        using var tmp = new TempDir();
        var folder = Path.Combine(tmp.Path, "sweep");
        Sweep.Run(Plan(tmp), folder, new FakeRunner(folder));
        // As SIGKILL leaves it: sweep.json written with the cell marked running, nothing after.
        var statePath = Path.Combine(folder, Sweep.StateFile);
        File.WriteAllText(statePath, File.ReadAllText(statePath).Replace("\"completed\"", "\"running\""));
        var again = new FakeRunner(folder);
        Sweep.Run(Plan(tmp), folder, again);
        Assert.Equal(6, again.Calls.Count);
    }

    [Fact]
    public void AddedSeedsAreAppended_ButAChangedOrDroppedCellIsRefused()
    {
        using var tmp = new TempDir();
        var folder = Path.Combine(tmp.Path, "sweep");
        Sweep.Run(Plan(tmp), folder, new FakeRunner(folder));

        var more = new FakeRunner(folder);
        Sweep.Run(Plan(tmp, Grid.Replace("[1, 2, 3]", "[1, 2, 3, 4]")), folder, more);
        Assert.Equal(["a/seed=4", "b/seed=4"], more.Calls);

        var changed = Assert.Throws<ArgumentException>(() => Sweep.Run(Plan(tmp, Grid.Replace("[1, 2, 3]", "[1, 2, 3, 4]").Replace("candidates=12", "candidates=14")), folder, new FakeRunner(folder)));
        Assert.Contains("cell 'b/seed=1' changed its overrides from [pipeline.candidates=12] to [pipeline.candidates=14]", changed.Message);
        Assert.Contains("give a new --out", changed.Message);
        var dropped = Assert.Throws<ArgumentException>(() => Sweep.Run(Plan(tmp), folder, new FakeRunner(folder)));
        Assert.Contains("cell 'a/seed=4' is no longer in the grid", dropped.Message);
        // Refused before anything ran or was written: the state still holds the eight completed cells.
        Assert.Equal(8, Sweep.Read(Path.Combine(folder, Sweep.StateFile)).Cells.Count(c => c.Status == SweepCellStatus.Completed));

        // --overwrite starts the folder again under the new grid.
        var fresh = new FakeRunner(folder);
        Sweep.Run(Plan(tmp, Grid.Replace("candidates=12", "candidates=14")), folder, fresh, overwrite: true);
        Assert.Equal(6, fresh.Calls.Count);
    }

    [Fact]
    public void AConfigChangeOutsideTheGridFileIsRefusedToo()
    {
        using var tmp = new TempDir();
        var folder = Path.Combine(tmp.Path, "sweep");
        File.WriteAllText(Path.Combine(tmp.Path, "base.yaml"), "pipeline:\n  candidates: 15\n");
        const string grid = "config: base.yaml\nseeds: [1]\n";
        Sweep.Run(Plan(tmp, grid), folder, new FakeRunner(folder));
        File.WriteAllText(Path.Combine(tmp.Path, "base.yaml"), "pipeline:\n  candidates: 16\n");
        var e = Assert.Throws<ArgumentException>(() => Sweep.Run(Plan(tmp, grid), folder, new FakeRunner(folder)));
        Assert.Contains("cell 'base/seed=1' resolves to another config", e.Message);
    }

    [Fact]
    public void TheOutputFolderFollowsTheGuardRules()
    {
        using var tmp = new TempDir();
        var plan = Plan(tmp);
        var user = Path.Combine(tmp.Path, "mine");
        Directory.CreateDirectory(user);
        File.WriteAllText(Path.Combine(user, "notes.txt"), "keep");
        var e = Assert.Throws<ArgumentException>(() => Sweep.Run(plan, user, new FakeRunner(user)));
        Assert.Contains("is not a RecAlign sweep folder", e.Message);
        Assert.Equal("keep", File.ReadAllText(Path.Combine(user, "notes.txt")));
        var runs = Path.Combine(tmp.Path, "runs");
        Assert.Contains("that is the runs folder", Assert.Throws<ArgumentException>(() => Sweep.Run(plan, runs, new FakeRunner(runs), protectedPaths: [("the runs folder", runs)])).Message);
        Assert.Contains("contains the grid file", Assert.Throws<ArgumentException>(() => Sweep.Run(plan, tmp.Path, new FakeRunner(tmp.Path))).Message);
    }

    [Fact]
    public void CellMetricsComeFromTheRunsSummary()
    {
        using var tmp = new TempDir();
        using var run = RunDirectory.Create(tmp.Path, "quickstart", new { a = 1 });
        Assert.Throws<FormatException>(() => SweepCellResult.FromRun(run.Path)); // no summary yet
        run.WriteSummary(new RunSummary
        {
            WallSeconds = 12.5,
            Methods = new Dictionary<string, MethodSummary> { ["sasrec"] = new(new Dictionary<string, double> { ["hr1"] = 0.25, ["catalog_ndcg@10"] = 0.125 }) },
        });
        var result = SweepCellResult.FromRun(run.Path);
        Assert.Equal(run.Path, result.RunDir);
        Assert.Equal(0.125, result.Methods["sasrec"]["catalog_ndcg@10"]);
        Assert.Equal(12.5, result.WallSeconds);
        run.WriteSummary(new RunSummary { Status = RunStatus.Failed });
        Assert.Contains("not completed", Assert.Throws<FormatException>(() => SweepCellResult.FromRun(run.Path)).Message);
    }
}
