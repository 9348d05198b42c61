namespace RecAlign.Data.Splits;

/// <summary>The split settings. The last four are the named out-of-distribution settings of docs/data/ood-splits.md.</summary>
public enum SplitMethod
{
    /// <summary>RecBole's leave-two-out: per user, the last item is the test target, the second-to-last the
    /// validation target, every earlier prefix a training example. Users with fewer than 3 items only train.</summary>
    LeaveOneOut,
    /// <summary>Global time cut: targets at or after the test cut are test, validation per <see cref="ValidationCut"/>,
    /// earlier targets train. Histories are everything the user did before the target.</summary>
    Temporal,
    /// <summary>Users shuffled (seeded) and split by ratio (8:1:1 like S-DPO); every prefix of a user's sequence is an
    /// example of that user's part.</summary>
    UserRatio,
    /// <summary>OOD (1) temporal shift: train and validate on an early period (validation = each user's last target in
    /// it, so model selection stays in-distribution), test on a later period after a gap.</summary>
    TemporalShift,
    /// <summary>OOD (2) popularity shift: leave-one-out, but test targets come from the long tail (or are resampled
    /// by inverse training popularity); validation stays in-distribution.</summary>
    PopularityShift,
    /// <summary>OOD (3) attribute shift: test targets belong to held-out genres that training targets (mostly) lack.</summary>
    AttributeShift,
    /// <summary>OOD (4) exposure shift: leave-one-out examples plus per-item exposure weights; the candidate sampler
    /// draws training candidates by the training policy and test candidates by a different one.</summary>
    ExposureShift,
}

/// <summary>How a temporal split picks validation examples.</summary>
public enum ValidationCut
{
    /// <summary>A second global cut before the test cut.</summary>
    Time,
    /// <summary>Each user's last target before the test cut (leave-one-out inside the training period).</summary>
    LastBeforeTest,
    /// <summary>No validation examples.</summary>
    None,
}

public enum PopularityShiftMode
{
    /// <summary>Keep test examples whose target is outside the head (the most popular items in training).</summary>
    Tail,
    /// <summary>Resample test examples with weight (popularity + 1)^-alpha, without replacement.</summary>
    InversePopularity,
}

/// <summary>An exposure policy: how likely an item is to be shown as a candidate.</summary>
public enum ExposurePolicy
{
    Uniform,
    /// <summary>Proportional to (training popularity + smoothing)^alpha.</summary>
    Popularity,
    /// <summary>Proportional to (training popularity + smoothing)^-alpha.</summary>
    InversePopularity,
}

/// <summary>Split settings (ConfigLoader-compatible; the defaults are leave-one-out with full histories).</summary>
public sealed record SplitConfig
{
    public SplitMethod Method { get; init; } = SplitMethod.LeaveOneOut;
    /// <summary>Histories keep the latest N items (0 = all).</summary>
    public int MaxHistoryLength { get; init; }
    /// <summary>Examples with a shorter history are not produced (1 drops the empty-history first prefix).</summary>
    public int MinHistoryLength { get; init; } = 1;
    /// <summary>Train on every prefix; false keeps only each user's last training prefix.</summary>
    public bool TrainAllPrefixes { get; init; } = true;
    public int Seed { get; init; } = 42;
    public TemporalSplitConfig Temporal { get; init; } = new();
    public UserRatioSplitConfig UserRatio { get; init; } = new();
    public TemporalShiftConfig TemporalShift { get; init; } = new();
    public PopularityShiftConfig PopularityShift { get; init; } = new();
    public AttributeShiftConfig AttributeShift { get; init; } = new();
    public ExposureShiftConfig ExposureShift { get; init; } = new();
}

/// <summary>Temporal split cuts: explicit Unix times win over the fractions (share of all interactions after the cut).</summary>
public sealed record TemporalSplitConfig
{
    public double TestFraction { get; init; } = 0.1;
    public double ValidationFraction { get; init; } = 0.1;
    public long? TestCut { get; init; }
    public long? ValidationCutTime { get; init; }
    public ValidationCut Validation { get; init; } = ValidationCut.Time;
}

public sealed record UserRatioSplitConfig
{
    public double Train { get; init; } = 0.8;
    public double Validation { get; init; } = 0.1;
    public double Test { get; init; } = 0.1;
}

/// <summary>Period boundaries as quantiles of all interaction times: train before <see cref="TrainEnd"/>, test from
/// <see cref="TestStart"/> on; targets in between are not examples (the gap), but stay in later histories.</summary>
public sealed record TemporalShiftConfig
{
    public double TrainEnd { get; init; } = 0.6;
    public double TestStart { get; init; } = 0.8;
}

public sealed record PopularityShiftConfig
{
    public PopularityShiftMode Mode { get; init; } = PopularityShiftMode.Tail;
    /// <summary>Share of items (most popular first) that form the head.</summary>
    public double HeadShare { get; init; } = 0.2;
    public double Alpha { get; init; } = 1.0;
    /// <summary>InversePopularity: share of test examples kept.</summary>
    public double TestFraction { get; init; } = 0.5;
}

public sealed record AttributeShiftConfig
{
    /// <summary>Genres held out for test; empty = pick genres (seeded) until they cover <see cref="HeldOutItemShare"/> of items.</summary>
    public string[] TestGenres { get; init; } = [];
    public double HeldOutItemShare { get; init; } = 0.3;
    /// <summary>Share of held-out-genre targets (before the test target) still kept in training (0 = none).</summary>
    public double TrainShiftedShare { get; init; }
}

public sealed record ExposureShiftConfig
{
    public ExposurePolicy Train { get; init; } = ExposurePolicy.Popularity;
    public ExposurePolicy Test { get; init; } = ExposurePolicy.Uniform;
    public double Alpha { get; init; } = 1.0;
    public double Smoothing { get; init; } = 1.0;
}

/// <summary>Per-item exposure probabilities (each sums to 1) for the candidate sampler: training candidates by
/// <see cref="Train"/>, test candidates by <see cref="Test"/>.</summary>
public sealed record ExposureWeights(ExposurePolicy TrainPolicy, double[] Train, ExposurePolicy TestPolicy, double[] Test);

/// <summary>The examples of a split, the setting that made them and its details (cut times, held-out genres...).</summary>
public sealed record SplitResult(
    SplitMethod Method,
    IReadOnlyList<SequenceExample> Train,
    IReadOnlyList<SequenceExample> Validation,
    IReadOnlyList<SequenceExample> Test)
{
    public ExposureWeights? Exposure { get; init; }
    public IReadOnlyDictionary<string, string> Details { get; init; } = new Dictionary<string, string>();
}
