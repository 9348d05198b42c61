namespace RecAlign.Data.Candidates;

/// <summary>How negatives are drawn.</summary>
public enum NegativeSampling
{
    /// <summary>Uniformly over the catalog.</summary>
    Uniform,
    /// <summary>Proportionally to (interaction count + smoothing)^power.</summary>
    Popularity,
    /// <summary>Proportionally to caller-supplied per-item weights (an exposure policy).</summary>
    Weighted,
    /// <summary>The top items of an <see cref="ICandidateSource"/> (hard negatives), topped up uniformly.</summary>
    Retriever,
}

/// <summary>What seeds an example's RNG besides the global seed. Never the target: a target-seeded list lets a model
/// read the answer off the candidate set (see LeakAudit).</summary>
public enum CandidateSeedKey
{
    /// <summary>(user, history length): stable whatever order or subset of examples is sampled.</summary>
    UserAndPosition,
    /// <summary>The example's index in the input sequence.</summary>
    ExampleIndex,
}

/// <summary>Candidate list settings; defaults follow S-DPO (20 candidates, uniform negatives).</summary>
public sealed record CandidateConfig
{
    /// <summary>List length including the target.</summary>
    public int Count { get; init; } = 20;
    public NegativeSampling Negatives { get; init; } = NegativeSampling.Uniform;
    public ulong Seed { get; init; } = 0;
    public CandidateSeedKey SeedKey { get; init; } = CandidateSeedKey.UserAndPosition;
    /// <summary>Keep items of the history out of the list (the target always appears exactly once).</summary>
    public bool ExcludeHistory { get; init; } = true;
    /// <summary>Exponent on counts for <see cref="NegativeSampling.Popularity"/> (0.75 is word2vec's).</summary>
    public double PopularityPower { get; init; } = 1.0;
    /// <summary>Added to every count for <see cref="NegativeSampling.Popularity"/> so unseen items stay reachable.</summary>
    public double PopularitySmoothing { get; init; } = 1.0;
    /// <summary>Shuffle the list (else the target comes first, negatives after in draw order).</summary>
    public bool Shuffle { get; init; } = true;

    public void Validate(int itemCount)
    {
        if (Count < 2) throw new ArgumentException($"candidate config: count must be >= 2, got {Count}");
        if (Count > itemCount) throw new ArgumentException($"candidate config: count {Count} exceeds the catalog size {itemCount}");
        if (!(PopularityPower >= 0) || !(PopularitySmoothing >= 0))
            throw new ArgumentException("candidate config: popularity_power and popularity_smoothing must be >= 0");
    }
}
