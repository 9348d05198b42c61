using RecAlign.Randomness;

namespace RecAlign.Data.Candidates;

/// <summary>
/// Builds candidate lists: the target plus <c>Count − 1</c> distinct negatives (uniform, by popularity, by custom
/// exposure weights, or from a retriever), shuffled. Each example's RNG is seeded from the global seed and
/// (user, position) or the example index — never from the target id. Thread-safe after construction.
/// </summary>
public sealed class CandidateSampler
{
    private const ulong Stream = 0xCA4D;
    private readonly AliasTable? _alias;
    private readonly double[]? _weights;
    private readonly ICandidateSource? _source;

    public CandidateConfig Config { get; }
    public int ItemCount { get; }

    /// <param name="itemWeights">Per-item weights for <see cref="NegativeSampling.Popularity"/> (use
    /// <see cref="PopularityWeights"/>) and <see cref="NegativeSampling.Weighted"/>.</param>
    /// <param name="source">The retriever for <see cref="NegativeSampling.Retriever"/>.</param>
    public CandidateSampler(CandidateConfig config, int itemCount, IReadOnlyList<double>? itemWeights = null, ICandidateSource? source = null)
    {
        config.Validate(itemCount);
        (Config, ItemCount, _source) = (config, itemCount, source);
        switch (config.Negatives)
        {
            case NegativeSampling.Popularity or NegativeSampling.Weighted:
                if (itemWeights is null)
                    throw new ArgumentException($"negative sampling '{config.Negatives}' needs per-item weights", nameof(itemWeights));
                if (itemWeights.Count != itemCount)
                    throw new ArgumentException($"got {itemWeights.Count} item weights for {itemCount} items", nameof(itemWeights));
                _weights = itemWeights.ToArray();
                _alias = new AliasTable(_weights);
                break;
            case NegativeSampling.Retriever when source is null:
                throw new ArgumentException("negative sampling 'retriever' needs an ICandidateSource", nameof(source));
        }
    }

    /// <summary>Popularity weights (count + smoothing)^power from interactions (usually the training ones).</summary>
    public static double[] PopularityWeights(IEnumerable<int> consumedItems, int itemCount, double power = 1.0, double smoothing = 1.0)
    {
        var counts = new double[itemCount];
        foreach (var i in consumedItems) counts[i] += 1;
        for (int i = 0; i < itemCount; i++) counts[i] = Math.Pow(counts[i] + smoothing, power);
        return counts;
    }

    /// <summary>A sampler for <paramref name="config"/> whose popularity weights come from
    /// <paramref name="trainInteractions"/> (only needed for <see cref="NegativeSampling.Popularity"/>).</summary>
    public static CandidateSampler For(CandidateConfig config, int itemCount, IEnumerable<Interaction>? trainInteractions = null,
        IReadOnlyList<double>? itemWeights = null, ICandidateSource? source = null)
    {
        if (config.Negatives == NegativeSampling.Popularity && itemWeights is null)
        {
            if (trainInteractions is null) throw new ArgumentException("popularity sampling needs the training interactions or weights");
            itemWeights = PopularityWeights(trainInteractions.Select(i => i.Item), itemCount, config.PopularityPower, config.PopularitySmoothing);
        }
        return new CandidateSampler(config, itemCount, itemWeights, source);
    }

    /// <summary>Samples one list per example (uniform/popularity need only the item count).</summary>
    public static List<CandidateExample> Sample(IEnumerable<SequenceExample> examples, CandidateConfig config, int itemCount,
        IEnumerable<Interaction>? trainInteractions = null, IReadOnlyList<double>? itemWeights = null, ICandidateSource? source = null)
        => For(config, itemCount, trainInteractions, itemWeights, source).Sample(examples);

    public List<CandidateExample> Sample(IEnumerable<SequenceExample> examples)
    {
        var result = examples is ICollection<SequenceExample> c ? new List<CandidateExample>(c.Count) : [];
        long index = 0;
        var excluded = new HashSet<int>();
        foreach (var e in examples) result.Add(Sample(e, index++, excluded));
        return result;
    }

    /// <summary>The list for one example; <paramref name="index"/> is its position in the input (used only with
    /// <see cref="CandidateSeedKey.ExampleIndex"/>).</summary>
    public CandidateExample Sample(SequenceExample example, long index) => Sample(example, index, new HashSet<int>());

    private CandidateExample Sample(SequenceExample example, long index, HashSet<int> excluded)
    {
        int target = example.Target;
        if ((uint)target >= (uint)ItemCount)
            throw new ArgumentException($"example {index}: target {target} is outside the catalog (0..{ItemCount - 1})");
        ulong key = Config.SeedKey == CandidateSeedKey.ExampleIndex
            ? ExampleSeed.Of(Config.Seed, index)
            : ExampleSeed.Of(Config.Seed, example.User, example.History.Count);
        var rng = new Pcg32(key, Stream);
        excluded.Clear();
        excluded.Add(target);
        if (Config.ExcludeHistory)
            foreach (var h in example.History) excluded.Add(h);
        int need = Config.Count - 1;
        if (ItemCount - excluded.Count < need)
            throw new ArgumentException($"example {index} (user {example.User}): only {ItemCount - excluded.Count} items are " +
                $"eligible as negatives but {need} are needed (history of {example.History.Count} excluded)");
        var list = new int[Config.Count];
        list[0] = target;
        int filled = 1;
        if (Config.Negatives == NegativeSampling.Retriever)
        {
            foreach (var item in _source!.Retrieve(example.User, example.History, Config.Count + excluded.Count))
            {
                if (filled == list.Length) break;
                if ((uint)item < (uint)ItemCount && excluded.Add(item)) list[filled++] = item;
            }
        }
        if (_alias is not null)
        {
            // Rejection against the excluded set; an exact draw over the remaining items if rejection stalls.
            for (int tries = 0; filled < list.Length && tries < 64 * list.Length; tries++)
            {
                int item = _alias.Next(rng);
                if (excluded.Add(item)) list[filled++] = item;
            }
            if (filled < list.Length) filled = ExactWeighted(list, filled, excluded, rng);
        }
        while (filled < list.Length)
        {
            int item = rng.NextInt(ItemCount);
            if (excluded.Add(item)) list[filled++] = item;
        }
        if (Config.Shuffle) rng.Shuffle<int>(list);
        return new CandidateExample(example.User, example.History, target, list);
    }

    private int ExactWeighted(int[] list, int filled, HashSet<int> excluded, Pcg32 rng)
    {
        while (filled < list.Length)
        {
            double total = 0;
            for (int i = 0; i < ItemCount; i++) if (!excluded.Contains(i)) total += _weights![i];
            if (!(total > 0)) return filled; // only zero-weight items left: the uniform top-up takes over
            double r = rng.NextDouble() * total;
            int pick = -1;
            for (int i = 0; i < ItemCount && r >= 0; i++)
                if (!excluded.Contains(i) && _weights![i] > 0) { pick = i; r -= _weights[i]; }
            excluded.Add(pick);
            list[filled++] = pick;
        }
        return filled;
    }
}
