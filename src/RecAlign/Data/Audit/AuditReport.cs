namespace RecAlign.Data.Audit;

/// <summary>Limits above which <see cref="LeakAudit"/> fails a candidate file.</summary>
public sealed record AuditThresholds
{
    /// <summary>Highest HR@1 a history-free lookup may reach (chance is 1/list length).</summary>
    public double MaxLookupHr1 { get; init; } = 0.25;
    /// <summary>Highest fraction of examples whose exact candidate set recurs with the same answer.</summary>
    public double MaxRepeatedSetRate { get; init; } = 0.2;
    /// <summary>Highest mean fraction of negatives shared by two lists with the same answer.</summary>
    public double MaxSameAnswerOverlap { get; init; } = 0.5;
    /// <summary>Highest (most frequent answer position count / expected count), failing only when also significant
    /// (chi-square p &lt; <see cref="PositionPValue"/>).</summary>
    public double MaxPositionSkew { get; init; } = 1.5;
    public double PositionPValue { get; init; } = 1e-3;
    /// <summary>Highest fraction of lists without exactly one copy of the answer.</summary>
    public double MaxMalformedRate { get; init; } = 0.01;
}

/// <summary>Result of a <see cref="LeakAudit"/> run. <see cref="Passed"/> is false when any threshold is exceeded;
/// <see cref="Failures"/> says which and by how much.</summary>
public sealed record AuditReport
{
    public int Examples { get; init; }
    public int TrainExamples { get; init; }
    /// <summary>Most common candidate list length; position statistics use lists of this length.</summary>
    public int ListLength { get; init; }
    public double ChanceHr1 { get; init; }
    /// <summary>HR@1 of a lookup that sees only the candidate list (co-occurrence of list members with answers,
    /// learned on the train file, or leave-one-out on the audited file).</summary>
    public double LookupHr1 { get; init; }
    /// <summary>"train" or "leave-one-out".</summary>
    public string LookupSource { get; init; } = "";
    /// <summary>Fraction of examples whose exact candidate set appears elsewhere (train, or the rest of the file)
    /// with the same answer.</summary>
    public double RepeatedSetRate { get; init; }
    /// <summary>Mean fraction of negatives two lists with the same answer share, and its value under independent
    /// uniform sampling.</summary>
    public double SameAnswerOverlap { get; init; }
    public double ExpectedSameAnswerOverlap { get; init; }
    public IReadOnlyList<int> PositionCounts { get; init; } = [];
    public double PositionChiSquare { get; init; }
    public double PositionPValue { get; init; }
    public double PositionMaxOverExpected { get; init; }
    /// <summary>Fraction of audited answers that are also train answers (null without a train file).</summary>
    public double? TargetOverlap { get; init; }
    /// <summary>Fraction of audited (history, answer) pairs that also occur in train (null without a train file).</summary>
    public double? DuplicateExampleRate { get; init; }
    /// <summary>Lists without exactly one copy of the answer.</summary>
    public int MalformedLists { get; init; }
    public AuditThresholds Thresholds { get; init; } = new();
    public IReadOnlyList<string> Failures { get; init; } = [];
    public bool Passed => Failures.Count == 0;
}
