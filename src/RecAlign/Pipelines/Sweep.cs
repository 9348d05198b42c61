using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Serialization;
using RecAlign.Configuration;
using RecAlign.IO;
using RecAlign.Runs;

namespace RecAlign.Pipelines;

public enum SweepCellStatus
{
    Pending,
    /// <summary>Started and not finished: running now, or killed (then it runs again from scratch).</summary>
    Running,
    Completed,
    Failed,
}

/// <summary>One cell in <c>sweep.json</c>: what it is (setting, seed, overrides, fingerprint), how far it got, and,
/// once completed, its run folder and every method's metrics as that run's <c>summary.json</c> holds them.</summary>
public sealed record SweepCellState
{
    public string Id { get; init; } = "";
    public string Setting { get; init; } = "";
    public ulong Seed { get; init; }
    public IReadOnlyList<string> Overrides { get; init; } = [];
    public string Fingerprint { get; init; } = "";
    public SweepCellStatus Status { get; init; }
    public string? RunDir { get; init; }
    public double? WallSeconds { get; init; }
    public string? Error { get; init; }
    public DateTimeOffset? Started { get; init; }
    public DateTimeOffset? Finished { get; init; }
    /// <summary>method → metric → value.</summary>
    public IReadOnlyDictionary<string, IReadOnlyDictionary<string, double>>? Metrics { get; init; }
    /// <summary>method → why it has no metrics in this completed cell (its training diverged); absent when every method ran.</summary>
    public IReadOnlyDictionary<string, string>? Failures { get; init; }
}

/// <summary><c>sweep.json</c>: the grid a sweep folder holds (its hash and cells, in run order) and each cell's status.</summary>
public sealed record SweepState
{
    public int Format { get; init; } = 1;
    public string GridFile { get; init; } = "";
    public string GridHash { get; init; } = "";
    public SweepJobKind Job { get; init; }
    public IReadOnlyList<string> Settings { get; init; } = [];
    public IReadOnlyList<ulong> Seeds { get; init; } = [];
    public IReadOnlyList<SweepCellState> Cells { get; init; } = [];
}

/// <summary>What one cell's pipeline run produced.</summary>
/// <param name="Methods">method → metric → value.</param>
public sealed record SweepCellResult(string RunDir, IReadOnlyDictionary<string, IReadOnlyDictionary<string, double>> Methods, double? WallSeconds)
{
    /// <summary>method → why it has no metrics (a run completes when one method diverges); null when every method ran.</summary>
    public IReadOnlyDictionary<string, string>? Failures { get; init; }

    /// <summary>A completed run's metrics, from its <c>summary.json</c> (the record the run itself keeps).</summary>
    public static SweepCellResult FromRun(string runDir)
    {
        using var run = RunDirectory.Open(runDir);
        var summary = run.ReadSummary() ?? throw new FormatException($"{run.SummaryPath}: missing (the run did not complete)");
        if (summary.Status != RunStatus.Completed)
            throw new FormatException($"{run.SummaryPath}: the run is {RunRegistry.StatusName(summary.Status)}, not completed");
        if (summary.Methods is not { Count: > 0 } methods)
            throw new FormatException($"{run.SummaryPath}: no 'methods' (not a pipeline run)");
        var failures = methods.Where(m => m.Value.Failure is not null).ToDictionary(m => m.Key, m => m.Value.Failure!);
        return new SweepCellResult(run.Path, methods.Where(m => m.Value.Failure is null).ToDictionary(m => m.Key, m => m.Value.Metrics), summary.WallSeconds)
        {
            Failures = failures.Count > 0 ? failures : null,
        };
    }
}

/// <summary>Runs one cell. The sweep takes it as a parameter so that tests can count the cells that run without
/// training anything.</summary>
public interface ISweepCellRunner
{
    SweepCellResult Run(SweepPlan plan, SweepCell cell, TextWriter? console);
}

/// <summary>The real cell: the job's pipeline with the cell's config, a normal run (its own run folder and registry row).</summary>
public sealed class PipelineSweepRunner(string runsDir, TorchSharp.torch.Device? device = null) : ISweepCellRunner
{
    public SweepCellResult Run(SweepPlan plan, SweepCell cell, TextWriter? console)
    {
        var job = plan.Job;
        var result = cell.Config switch
        {
            QuickstartConfig q => Quickstart.Run(q, runsDir, console, device),
            SequenceTablePipelineConfig p when job.Dataset is not null => DatasetPipeline.Run(job.Dataset, p, runsDir, console, device, job.ReportValidation),
            SequenceTablePipelineConfig p => SequenceTablePipeline.Run(job.Train!, job.Validation!, job.Test, job.Items, job.ExtraEval, p, runsDir, console, device),
            _ => throw new InvalidOperationException($"cell {cell.Id}: unexpected config type {cell.Config.GetType().Name}"),
        };
        return SweepCellResult.FromRun(result.Run.Path);
    }
}

/// <summary>What a sweep left: its folder, the state in <c>sweep.json</c>, the report, and how many cells ran this time.</summary>
public sealed record SweepResult(string Folder, SweepState State, string ReportPath, int CellsRun, int CellsReused);

/// <summary>
/// A grid of pipeline runs and one report over them (<c>recalign sweep</c>). The sweep folder keeps <c>sweep.json</c>
/// (written atomically before and after every cell), <c>report.md</c>, <c>results.csv</c>, <c>results.json</c> and
/// <c>plots/</c>; each cell is a normal run under the runs folder. Running the same grid on the same folder again
/// resumes: completed cells keep their metrics, an unfinished or failed cell runs again from scratch (the pipeline
/// has no mid-run resume), new cells (seeds or settings added to the grid) are appended; a grid that changes or drops
/// a cell the folder holds is refused.
/// </summary>
public static class Sweep
{
    public const string StateFile = "sweep.json", LockFile = "sweep.lock";

    private static readonly JsonSerializerOptions StateJson = new(ConfigLoader.Json)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip,
    };

    /// <param name="outDir">the sweep folder (<c>--out</c>): new, empty, or a sweep folder (resumed; with
    /// <paramref name="overwrite"/>, started again: its sweep files are deleted, nothing else).</param>
    /// <param name="protectedPaths">inputs and folders the sweep folder must not equal or contain (the runs folder,
    /// the grid file); the job's inputs are added.</param>
    public static SweepResult Run(SweepPlan plan, string outDir, ISweepCellRunner runner, bool overwrite = false,
        IEnumerable<(string Label, string? Path)>? protectedPaths = null, TextWriter? console = null)
    {
        var guarded = (protectedPaths ?? []).Append(("the grid file", plan.GridFile)).Concat(plan.Job.Inputs().Select(i => ($"the {i.Label} input", i.Path)));
        var folder = OutputGuard.CheckDirectory("--out", outDir, OutputKind.Sweep, overwrite, guarded, replaceOwn: true);
        Directory.CreateDirectory(folder);
        using var folderLock = Lock(folder);
        var statePath = Path.Combine(folder, StateFile);
        if (overwrite && File.Exists(statePath))
        {
            SweepReport.Delete(folder);
            File.Delete(statePath);
            console?.WriteLine($"sweep {folder}: --overwrite: starting again (its earlier runs stay in the runs folder)");
        }
        var state = File.Exists(statePath) ? Reconcile(Read(statePath), plan, console) : New(plan);
        Write(statePath, state);

        var cells = state.Cells.ToList();
        var todo = Enumerable.Range(0, cells.Count).Where(i => cells[i].Status != SweepCellStatus.Completed).ToList();
        int reused = cells.Count - todo.Count;
        console?.WriteLine($"sweep {folder}: {cells.Count} cells ({plan.Settings.Count} settings × {plan.Seeds.Count} seeds); " +
            (reused > 0 ? $"{reused} completed before (their metrics reused), " : "") + $"{todo.Count} to run");
        // The ETA uses cells timed in this process when there are any (same machine load), else the stored ones.
        var timedNow = new List<double>();
        var timedBefore = cells.Where(c => c.Status == SweepCellStatus.Completed && c.WallSeconds is not null).Select(c => c.WallSeconds!.Value).ToList();
        for (int k = 0; k < todo.Count; k++)
        {
            int i = todo[k];
            var cell = plan.Cells[i];
            var timed = timedNow.Count > 0 ? timedNow : timedBefore;
            var eta = timed.Count > 0 ? $"ETA {Report.Duration(timed.Average() * (todo.Count - k))} ({Report.Duration(timed.Average())} a cell)" : "ETA after the first cell";
            console?.WriteLine($"[sweep] cell {i + 1} of {cells.Count} ({k + 1} of {todo.Count} to run): setting '{cell.Setting}', seed {cell.Seed}; {eta}");
            cells[i] = cells[i] with { Status = SweepCellStatus.Running, Started = DateTimeOffset.UtcNow, Finished = null, Error = null, RunDir = null, Metrics = null, Failures = null, WallSeconds = null };
            state = state with { Cells = cells.ToList() };
            Write(statePath, state);
            var watch = Stopwatch.StartNew();
            try
            {
                var result = runner.Run(plan, cell, console);
                double seconds = result.WallSeconds ?? Math.Round(watch.Elapsed.TotalSeconds, 1);
                cells[i] = cells[i] with
                {
                    Status = SweepCellStatus.Completed, Finished = DateTimeOffset.UtcNow, RunDir = result.RunDir,
                    Metrics = result.Methods, Failures = result.Failures, WallSeconds = seconds,
                };
                timedNow.Add(watch.Elapsed.TotalSeconds);
            }
            catch (Exception e)
            {
                // Recorded, then raised as the pipeline command would: the next call runs this cell again.
                cells[i] = cells[i] with { Status = SweepCellStatus.Failed, Finished = DateTimeOffset.UtcNow, Error = $"{e.GetType().Name}: {e.Message}" };
                state = state with { Cells = cells.ToList() };
                Write(statePath, state);
                SweepReport.Write(folder, plan, state);
                console?.WriteLine($"[sweep] cell {cell.Id} failed: {e.Message}; the completed cells are kept, and running the same command again retries it");
                throw;
            }
            state = state with { Cells = cells.ToList() };
            Write(statePath, state);
            // The report follows every cell, so a long sweep can be read (and a killed one still has one).
            SweepReport.Write(folder, plan, state);
            console?.WriteLine($"[sweep] cell {cell.Id} completed in {Report.Duration(watch.Elapsed.TotalSeconds)}: {cells[i].RunDir}");
        }
        var report = SweepReport.Write(folder, plan, state);
        return new SweepResult(folder, state, report, todo.Count, reused);
    }

    /// <summary>A new state: every cell pending.</summary>
    internal static SweepState New(SweepPlan plan) => new()
    {
        GridFile = plan.GridFile, GridHash = plan.GridHash, Job = plan.Job.Kind, Settings = plan.Settings, Seeds = plan.Seeds,
        Cells = plan.Cells.Select(c => new SweepCellState { Id = c.Id, Setting = c.Setting, Seed = c.Seed, Overrides = c.Overrides, Fingerprint = c.Fingerprint }).ToList(),
    };

    /// <summary>The stored state carried over to <paramref name="plan"/>: every stored cell must still be in the grid
    /// with the same fingerprint (else the report would mix two grids: refused); cells the grid adds are appended in
    /// the plan's order; an unfinished or failed cell goes back to pending.</summary>
    internal static SweepState Reconcile(SweepState stored, SweepPlan plan, TextWriter? console)
    {
        var planned = plan.Cells.ToDictionary(c => c.Id);
        var problems = new List<string>();
        foreach (var cell in stored.Cells)
        {
            if (!planned.TryGetValue(cell.Id, out var now))
                problems.Add($"cell '{cell.Id}' is no longer in the grid");
            else if (now.Fingerprint != cell.Fingerprint)
                problems.Add(now.Overrides.SequenceEqual(cell.Overrides)
                    ? $"cell '{cell.Id}' resolves to another config (the base config file, an input or RecAlign's defaults changed)"
                    : $"cell '{cell.Id}' changed its overrides from [{string.Join(", ", cell.Overrides)}] to [{string.Join(", ", now.Overrides)}]");
        }
        if (stored.Job != plan.Job.Kind) problems.Insert(0, $"the job changed from {stored.Job} to {plan.Job.Kind}");
        if (problems.Count > 0)
            throw new ArgumentException($"{plan.GridFile}: the grid no longer matches the sweep folder's {StateFile} ({string.Join("; ", problems.Take(5))}" +
                (problems.Count > 5 ? $"; and {problems.Count - 5} more" : "") + "): its results would mix two grids; give a new --out for this grid " +
                "(or --overwrite to start this folder again)");
        var byId = stored.Cells.ToDictionary(c => c.Id);
        var cells = plan.Cells.Select(c => byId.TryGetValue(c.Id, out var s)
            ? s.Status is SweepCellStatus.Completed or SweepCellStatus.Pending ? s : s with { Status = SweepCellStatus.Pending }
            : new SweepCellState { Id = c.Id, Setting = c.Setting, Seed = c.Seed, Overrides = c.Overrides, Fingerprint = c.Fingerprint }).ToList();
        foreach (var s in stored.Cells.Where(s => s.Status is SweepCellStatus.Running or SweepCellStatus.Failed))
            console?.WriteLine($"sweep: cell '{s.Id}' was {(s.Status == SweepCellStatus.Running ? "interrupted" : "failed")} before: it runs again from scratch");
        int added = cells.Count - stored.Cells.Count;
        if (added > 0) console?.WriteLine($"sweep: the grid adds {added} cells to the {stored.Cells.Count} of {StateFile}");
        return stored with { GridFile = plan.GridFile, GridHash = plan.GridHash, Settings = plan.Settings, Seeds = plan.Seeds, Cells = cells };
    }

    public static SweepState Read(string path)
    {
        try { return JsonSerializer.Deserialize<SweepState>(File.ReadAllText(path), StateJson) ?? throw new FormatException($"{path}: empty"); }
        catch (JsonException e) { throw new FormatException($"{path}: not a sweep state ({JsonErrors.Reason(e)}); give a new --out", e); }
    }

    private static void Write(string path, SweepState state) =>
        AtomicFile.WriteAllText(path, JsonSerializer.Serialize(state, StateJson) + "\n");

    /// <summary>One sweep per folder at a time: the OS releases the lock however the process ends.</summary>
    private static FileStream Lock(string folder)
    {
        try { return new FileStream(Path.Combine(folder, LockFile), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None); }
        catch (IOException e) when (e is not FileNotFoundException and not DirectoryNotFoundException)
        {
            throw new IOException($"--out {folder}: another sweep is running in this folder (it holds {LockFile})", e);
        }
    }
}
