namespace RecAlign.Runs;

/// <summary>One training/eval stage's share of a run, for the report's wall-time table.</summary>
public sealed record StageSummary(string Name)
{
    public double? WallSeconds { get; init; }
    public long? Steps { get; init; }
    public long? Tokens { get; init; }
}

/// <summary>
/// The conventional shape of <c>summary.json</c> (snake_case: <c>status</c>, <c>final_metrics</c>, <c>stages</c>
/// [{<c>name</c>, <c>wall_seconds</c>, <c>steps</c>, <c>tokens</c>}], <c>wall_seconds</c>, <c>parent</c>,
/// <c>checkpoint</c>). <see cref="RunDirectory.WriteSummary"/> takes any object; reports and the registry read these
/// keys when present.
/// </summary>
public sealed record RunSummary
{
    public RunStatus Status { get; init; } = RunStatus.Completed;
    public IReadOnlyDictionary<string, double> FinalMetrics { get; init; } = new Dictionary<string, double>();
    public IReadOnlyList<StageSummary> Stages { get; init; } = [];
    public double? WallSeconds { get; init; }
    public string? Parent { get; init; }
    public string? Checkpoint { get; init; }
}
