using System.Text.Json.Nodes;

namespace RecAlign.Runs;

/// <summary>
/// A command's run from start to end, so every command records runs the same way: <see cref="Start"/> creates the
/// folder and registers it as running; <see cref="Complete"/> writes the summary, stores the final metrics, marks it
/// completed and (by default) writes the report; <see cref="Fail"/> records the error; disposing a session that
/// was neither completed nor failed marks it interrupted.
/// </summary>
public sealed class RunSession : IDisposable
{
    private bool _finished;

    private RunSession(RunDirectory run, RunRegistry registry)
    {
        Run = run;
        Registry = registry;
    }

    public RunDirectory Run { get; }
    public RunRegistry Registry { get; }
    public string Id => Run.Id;

    /// <param name="registryPath">registry file; default <c>&lt;runsDir&gt;/registry.sqlite</c>.</param>
    public static RunSession Start(string runsDir, string kind, object resolvedConfig, JsonNode? givenConfig = null,
        string? parent = null, string? registryPath = null)
    {
        var run = RunDirectory.Create(runsDir, kind, resolvedConfig, givenConfig);
        var registry = new RunRegistry(registryPath ?? RunRegistry.DefaultPath(runsDir));
        registry.Register(run, RunStatus.Running, parent);
        return new RunSession(run, registry);
    }

    /// <summary>Writes <c>summary.json</c> (status completed), stores its final metrics in the registry, and writes
    /// <c>report.md</c> unless <paramref name="writeReport"/> is false.</summary>
    public void Complete(RunSummary summary, bool writeReport = true)
    {
        var final = summary with { Status = RunStatus.Completed };
        Complete(final, final.FinalMetrics, writeReport);
    }

    /// <summary>As <see cref="Complete(RunSummary, bool)"/> for a command whose summary has a shape of its own (it
    /// should still carry <c>status</c> and <c>final_metrics</c>, which reports read).</summary>
    public void Complete(object summary, IReadOnlyDictionary<string, double> finalMetrics, bool writeReport = true)
    {
        Run.WriteSummary(summary);
        Registry.SetFinalMetrics(Run.Id, finalMetrics);
        Registry.UpdateStatus(Run.Id, RunStatus.Completed);
        _finished = true;
        Run.Log("completed");
        if (writeReport) Report.Write(Run);
    }

    /// <summary>Records a failure: the error goes to the log, <c>summary.json</c> says failed (with any metrics so
    /// far), and the registry row is marked failed.</summary>
    public void Fail(Exception error, RunSummary? partial = null)
    {
        Run.Log($"failed: {error.GetType().Name}: {error.Message}");
        Run.WriteSummary((partial ?? new RunSummary()) with { Status = RunStatus.Failed });
        Registry.UpdateStatus(Run.Id, RunStatus.Failed);
        _finished = true;
    }

    public void Dispose()
    {
        if (!_finished)
        {
            _finished = true;
            try
            {
                Run.Log("interrupted (session disposed before Complete/Fail)");
                Registry.UpdateStatus(Run.Id, RunStatus.Interrupted);
            }
            catch (IOException) { } // disposal must not mask the exception that is unwinding
            catch (Microsoft.Data.Sqlite.SqliteException) { }
        }
        Run.Dispose();
    }
}
