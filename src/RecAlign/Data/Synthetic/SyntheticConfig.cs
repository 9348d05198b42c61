namespace RecAlign.Data.Synthetic;

/// <summary>Parameters of the synthetic world (see docs/data/synthetic.md). Weights are logit weights of the
/// generative choice model; defaults are the <see cref="Tiny"/> preset.</summary>
public sealed record SyntheticConfig
{
    public ulong Seed { get; init; } = 42;
    public int Users { get; init; } = 200;
    public int Items { get; init; } = 150;
    /// <summary>Number of genres used (at most <see cref="SyntheticVocabulary.GenreCount"/>).</summary>
    public int Genres { get; init; } = 6;
    public int MinSequenceLength { get; init; } = 8;
    public int MaxSequenceLength { get; init; } = 20;
    /// <summary>Spread of the users' initial log-taste per genre (higher = more focused users).</summary>
    public double TasteSharpness { get; init; } = 1.6;
    /// <summary>Weight of the user's genre taste in an item's logit.</summary>
    public double GenreWeight { get; init; } = 1.0;
    /// <summary>Standard deviation of the per-step random walk of the log-taste (slow drift).</summary>
    public double Drift { get; init; } = 0.08;
    /// <summary>Zipf exponent of the intrinsic popularity (logit += skew * -ln(rank)).</summary>
    public double PopularitySkew { get; init; } = 1.2;
    /// <summary>Follow-up items per item ("who consumed X next consumed Y"), mostly from the same genre.</summary>
    public int FollowUpsPerItem { get; init; } = 3;
    /// <summary>Logit bonus of a follow-up of the most recent item (older recent items get half, a quarter, ...).</summary>
    public double SequentialWeight { get; init; } = 2.5;
    /// <summary>How many recent items drive follow-ups.</summary>
    public int RecentWindow { get; init; } = 3;
    /// <summary>Fraction of items that are sequels ("Neon Protocol 2") of another item.</summary>
    public double SeriesFraction { get; init; } = 0.12;
    /// <summary>Logit bonus of the next part of a series the user has started.</summary>
    public double SeriesWeight { get; init; } = 4.0;
    /// <summary>Weight of the exposure bias (the environment's confounder) in the training period.</summary>
    public double ConfounderStrength { get; init; } = 3.0;
    /// <summary>Weight of the exposure bias in the shifted period (the exposure policy of that period).</summary>
    public double ShiftedConfounderStrength { get; init; } = 3.0;
    /// <summary>Correlation between the training-period and the shifted-period exposure of an item (−1 reverses it,
    /// 0 promotes an independent set, 1 means no shift).</summary>
    public double ShiftCorrelation { get; init; } = -0.6;
    /// <summary>Fraction of items the platform promotes in a period (the rest get no exposure bonus).</summary>
    public double PromotedFraction { get; init; } = 0.2;
    /// <summary>Where the shifted period starts, as a fraction of the timeline; every user's last event is after it.</summary>
    public double ShiftStart { get; init; } = 0.8;
    /// <summary>Unix time of the start of the timeline and its length in days.</summary>
    public long StartTimestamp { get; init; } = 1_577_836_800; // 2020-01-01
    public int TimelineDays { get; init; } = 730;

    public static SyntheticConfig Tiny { get; } = new();

    public static SyntheticConfig Small { get; } = new()
    {
        Users = 3000, Items = 800, Genres = 8, MinSequenceLength = 10, MaxSequenceLength = 40,
    };

    /// <summary>A preset by name: <c>tiny</c> or <c>small</c>.</summary>
    public static SyntheticConfig Preset(string name) => name.ToLowerInvariant() switch
    {
        "tiny" => Tiny,
        "small" => Small,
        _ => throw new ArgumentException($"unknown synthetic preset '{name}' (known: tiny, small)", nameof(name)),
    };

    public void Validate()
    {
        static void Check(bool ok, string field, string why) { if (!ok) throw new ArgumentException($"synthetic config: {field} {why}"); }
        Check(Users > 0, nameof(Users), "must be > 0");
        Check(Genres is >= 1 and <= SyntheticVocabulary.GenreCount, nameof(Genres), $"must be in 1..{SyntheticVocabulary.GenreCount}");
        Check(Items >= Genres && Items <= Genres * SyntheticVocabulary.MaxTitlesPerGenre, nameof(Items),
            $"must be in {Genres}..{Genres * SyntheticVocabulary.MaxTitlesPerGenre} for {Genres} genres");
        Check(MinSequenceLength >= 2, nameof(MinSequenceLength), "must be >= 2");
        Check(MaxSequenceLength >= MinSequenceLength, nameof(MaxSequenceLength), "must be >= min_sequence_length");
        Check(MaxSequenceLength < Items, nameof(MaxSequenceLength), "must be < items (no repeats)");
        Check(FollowUpsPerItem >= 0 && FollowUpsPerItem < Items, nameof(FollowUpsPerItem), "must be in 0..items-1");
        Check(RecentWindow >= 1, nameof(RecentWindow), "must be >= 1");
        Check(SeriesFraction is >= 0 and < 0.5, nameof(SeriesFraction), "must be in [0, 0.5)");
        Check(ShiftCorrelation is >= -1 and <= 1, nameof(ShiftCorrelation), "must be in [-1, 1]");
        Check(PromotedFraction is > 0 and < 1, nameof(PromotedFraction), "must be in (0, 1)");
        Check(ShiftStart is > 0 and < 1, nameof(ShiftStart), "must be in (0, 1)");
        Check(TimelineDays > 0, nameof(TimelineDays), "must be > 0");
        Check(Drift >= 0 && TasteSharpness >= 0, nameof(Drift), "and taste_sharpness must be >= 0");
    }
}
