using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;

namespace RecAlign.Runs;

/// <summary>
/// A command's run from start to end, so every command records runs the same way: <see cref="Start"/> creates the
/// folder and registers it as running; <see cref="Complete"/> writes the summary, stores the final metrics, marks it
/// completed and (by default) writes the report; <see cref="Fail"/> records the error; disposing a session that
/// was neither completed nor failed marks it interrupted, and so does a termination signal (SIGINT, SIGTERM,
/// SIGHUP, SIGQUIT) that arrives while it is open. <see cref="Resume"/> reopens a run after checking that the call
/// is the one that started it.
/// </summary>
public sealed class RunSession : IDisposable
{
    private static readonly ConcurrentDictionary<RunSession, byte> OpenSessions = new();
    private static readonly Lazy<PosixSignalRegistration[]> SignalHandlers = new(RegisterSignalHandlers);
    private readonly Lock _gate = new();
    private bool _finished;

    private readonly FileStream _lock;

    private RunSession(RunDirectory run, RunRegistry registry, FileStream runLock)
    {
        Run = run;
        Registry = registry;
        _lock = runLock;
    }

    public RunDirectory Run { get; }
    public RunRegistry Registry { get; }
    public string Id => Run.Id;

    /// <param name="registryPath">registry file; default <c>&lt;runsDir&gt;/registry.sqlite</c>.</param>
    /// <param name="inputs">the command's inputs that are not config fields (data files, model and output folders),
    /// stored in <c>inputs.json</c> for <see cref="Resume"/> to check.</param>
    public static RunSession Start(string runsDir, string kind, object resolvedConfig, JsonNode? givenConfig = null,
        string? parent = null, string? registryPath = null, IReadOnlyDictionary<string, string?>? inputs = null)
    {
        var run = RunDirectory.Create(runsDir, kind, resolvedConfig, givenConfig);
        FileStream? runLock = null;
        try
        {
            runLock = run.AcquireLock(); // before the registry says "running": a running row always has a live holder
            if (inputs is not null) run.WriteInputs(inputs);
            var registry = new RunRegistry(registryPath ?? RunRegistry.DefaultPath(runsDir));
            registry.Register(run, RunStatus.Running, parent);
            return Track(new RunSession(run, registry, runLock));
        }
        catch
        {
            runLock?.Dispose();
            run.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Reopens the run folder <paramref name="runPath"/> to continue it: the call must be the one that started it
    /// (same kind, same resolved config, same inputs), or the run's records would describe another run than the one
    /// trained; any difference is refused, listed field by field. The registry is the one beside the run folder.
    /// </summary>
    public static RunSession Resume(string runPath, string kind, object resolvedConfig,
        IReadOnlyDictionary<string, string?>? inputs = null, string? registryPath = null)
    {
        var run = RunDirectory.Open(runPath);
        FileStream? runLock = null;
        try
        {
            runLock = run.AcquireLock(); // refuses a run another process is still running
            if (run.Kind != kind)
                throw new ArgumentException($"--resume {run.Path}: that is a '{run.Kind}' run, not a '{kind}' run");
            if (run.ReadSummary()?.Status == RunStatus.Completed)
            {
                // Completed on disk: a kill before the registry heard of it leaves the row behind; repair it first.
                new RunRegistry(registryPath ?? RunRegistry.DefaultPath(Path.GetDirectoryName(run.Path)!)).Reconcile();
                throw new ArgumentException($"--resume {run.Path}: the run already completed (its results stay as they are); start a new run");
            }
            var differences = new List<string>();
            var storedConfig = run.ReadResolvedConfig()
                ?? throw new FormatException($"--resume {run.Path}: {RunDirectory.ResolvedConfigFile} is missing");
            Differences(storedConfig, RunDirectory.ConfigNode(resolvedConfig), "", differences);
            if (inputs is not null && run.ReadInputs() is { } storedInputs) // runs from before inputs.json have none
            {
                var given = new JsonObject();
                foreach (var (k, v) in inputs) given[k] = v;
                Differences(storedInputs, given, "", differences);
            }
            if (differences.Count > 0)
                throw new ArgumentException($"--resume {run.Path}: this call differs from the one that started the run " +
                    $"({string.Join("; ", differences)}); resume with the run's own arguments (its " +
                    $"{RunDirectory.ResolvedConfigFile} and {RunDirectory.InputsFile}), or start a new run");

            var registry = new RunRegistry(registryPath ?? RunRegistry.DefaultPath(Path.GetDirectoryName(run.Path)!));
            if (registry.TryGet(run.Id) is null) registry.Register(run, RunStatus.Running); // e.g. a folder moved here
            else registry.UpdateStatus(run.Id, RunStatus.Running);
            run.Log("reopened for --resume");
            return Track(new RunSession(run, registry, runLock));
        }
        catch
        {
            runLock?.Dispose();
            run.Dispose();
            throw;
        }
    }

    /// <summary>Adds "path: stored → given" for every leaf that differs (paths in the config's own snake_case).</summary>
    private static void Differences(JsonNode? stored, JsonNode? given, string path, List<string> into)
    {
        if (stored is JsonObject a && given is JsonObject b)
        {
            foreach (var key in a.Select(p => p.Key).Union(b.Select(p => p.Key)).Order(StringComparer.Ordinal))
                Differences(a[key], b[key], path.Length == 0 ? key : $"{path}.{key}", into);
            return;
        }
        string Show(JsonNode? n) => n is null ? "(none)" : n.ToJsonString();
        if (!JsonNode.DeepEquals(stored, given)) into.Add($"{path}: {Show(stored)} → {Show(given)}");
    }

    /// <summary>Writes <c>summary.json</c> (status completed), stores its final metrics in the registry, and writes
    /// <c>report.md</c> unless <paramref name="writeReport"/> is false.</summary>
    public void Complete(RunSummary summary, bool writeReport = true)
    {
        var final = summary with { Status = RunStatus.Completed };
        Complete(final, final.FinalMetrics, writeReport);
    }

    private void Complete(RunSummary summary, IReadOnlyDictionary<string, double> finalMetrics, bool writeReport)
    {
        lock (_gate)
        {
            if (_finished) return; // a termination signal got here first
            Run.WriteSummary(summary);
            Registry.SetFinalMetrics(Run.Id, finalMetrics);
            Registry.UpdateStatus(Run.Id, RunStatus.Completed);
            _finished = true;
            Run.Log("completed");
        }
        OpenSessions.TryRemove(this, out _);
        if (writeReport) Report.Write(Run);
    }

    /// <summary>Records a failure: the error goes to the log, <c>summary.json</c> says failed (with any metrics so
    /// far), and the registry row is marked failed.</summary>
    public void Fail(Exception error, RunSummary? partial = null)
    {
        lock (_gate)
        {
            if (_finished) return;
            Run.Log($"failed: {error.GetType().Name}: {error.Message}");
            Run.WriteSummary((partial ?? new RunSummary()) with { Status = RunStatus.Failed });
            Registry.UpdateStatus(Run.Id, RunStatus.Failed);
            _finished = true;
        }
        OpenSessions.TryRemove(this, out _);
    }

    public void Dispose()
    {
        _ = Interrupt("session disposed before Complete/Fail");
        _lock.Dispose();
        Run.Dispose();
    }

    /// <summary>Marks the run interrupted (log line + registry) unless it already ended (then false). Never throws: it runs while
    /// an exception unwinds or the process is being terminated.</summary>
    private bool Interrupt(string why)
    {
        bool interrupted = false;
        lock (_gate)
        {
            if (!_finished)
            {
                interrupted = true;
                _finished = true;
                try
                {
                    Run.Log($"interrupted ({why}); resume with --resume {Run.Path}");
                    Registry.UpdateStatus(Run.Id, RunStatus.Interrupted);
                }
                catch (Exception) { } // whatever failed (disk, registry gone), this must not replace the real error or crash the signal thread
            }
        }
        OpenSessions.TryRemove(this, out _);
        return interrupted;
    }

    private static RunSession Track(RunSession session)
    {
        _ = SignalHandlers.Value;
        OpenSessions.TryAdd(session, 0);
        return session;
    }

    /// <summary>On a termination signal, records every open run as interrupted, then lets the signal's default
    /// action (ending the process) go on: a killed run must not stay "running" in the registry.</summary>
    private static PosixSignalRegistration[] RegisterSignalHandlers()
    {
        var handlers = new List<PosixSignalRegistration>();
        foreach (var signal in new[] { PosixSignal.SIGINT, PosixSignal.SIGTERM, PosixSignal.SIGHUP, PosixSignal.SIGQUIT })
        {
            try
            {
                handlers.Add(PosixSignalRegistration.Create(signal, context =>
                {
                    foreach (var session in OpenSessions.Keys)
                        if (session.Interrupt($"signal {context.Signal}")) // say so where the user is looking, too
                            Console.Error.WriteLine($"\ninterrupted ({context.Signal}): run {session.Run.Path}; resume with --resume {session.Run.Path}");
                }));
            }
            catch (PlatformNotSupportedException) { } // e.g. SIGHUP/SIGQUIT on Windows
        }
        return handlers.ToArray();
    }
}
