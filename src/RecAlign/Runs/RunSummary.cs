namespace RecAlign.Runs;

/// <summary>One training/eval stage's share of a run, for the report's wall-time table.</summary>
public sealed record StageSummary(string Name)
{
    public double? WallSeconds { get; init; }
    public long? Steps { get; init; }
    public long? Tokens { get; init; }
    /// <summary>The model directory the stage wrote, relative to the run folder when inside it.</summary>
    public string? ModelDir { get; init; }
}

/// <summary>One compared method of a multi-method run (pipeline, quickstart): its metrics, its stage's wall time and
/// its model directory (relative to the run folder).</summary>
public sealed record MethodSummary(IReadOnlyDictionary<string, double> Metrics)
{
    public double? WallSeconds { get; init; }
    public string? ModelDir { get; init; }
    /// <summary>Why the method has no metrics (its training diverged, or what it starts from did); absent when it ran.</summary>
    public string? Failure { get; init; }
}

/// <summary>
/// The one shape of <c>summary.json</c>, for every command (snake_case: <c>status</c>, <c>final_metrics</c>,
/// <c>stages</c> [{<c>name</c>, <c>wall_seconds</c>, <c>steps</c>, <c>tokens</c>, <c>model_dir</c>}],
/// <c>wall_seconds</c>, <c>parent</c>, <c>checkpoint</c>; multi-method runs add <c>run</c>, <c>data</c>, <c>seed</c>,
/// <c>methods</c> {name: {<c>metrics</c>, <c>wall_seconds</c>, <c>model_dir</c>}} and <c>evaluation</c>, the record of
/// what the reported figures were measured on). Reports, comparisons and the registry read it as this record.
/// </summary>
public sealed record RunSummary
{
    public RunStatus Status { get; init; } = RunStatus.Completed;
    public IReadOnlyDictionary<string, double> FinalMetrics { get; init; } = new Dictionary<string, double>();
    public IReadOnlyList<StageSummary> Stages { get; init; } = [];
    public double? WallSeconds { get; init; }
    public string? Parent { get; init; }
    public string? Checkpoint { get; init; }
    public string? Run { get; init; }
    public string? Data { get; init; }
    public ulong? Seed { get; init; }
    public IReadOnlyDictionary<string, MethodSummary>? Methods { get; init; }
    /// <summary>Which files or splits the reported metrics come from and which picked the models; <c>note</c> says it in words.</summary>
    public System.Text.Json.Nodes.JsonObject? Evaluation { get; init; }
}
