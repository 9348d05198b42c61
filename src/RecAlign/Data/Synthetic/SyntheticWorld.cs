using RecAlign.Randomness;

namespace RecAlign.Data.Synthetic;

/// <summary>The two environments of the synthetic world: the training period and the shifted (test) period, which
/// differ in the platform's exposure policy (the confounder).</summary>
public enum SyntheticPeriod { Train, Shifted }

/// <summary>
/// A generated synthetic world: the dataset it produced plus the ground truth that produced it (item genres,
/// popularity, exposure per period, follow-up and series structure, every user's drifting taste). Deterministic for
/// <see cref="SyntheticConfig.Seed"/>. The generative process is documented in docs/data/synthetic.md.
/// </summary>
public sealed class SyntheticWorld
{
    private readonly int[] _primaryGenre;
    private readonly int[] _secondaryGenre; // -1: none
    private readonly double[] _popularity;
    private readonly double[][] _exposure; // [period][item], already multiplied by the period's strength
    private readonly bool[][] _promoted;
    private readonly int[][] _followUps;
    private readonly int[] _sequelOf; // -1: not a sequel
    private readonly int[] _nextInSeries; // -1: none
    private readonly int[] _sequels;
    private readonly double[][] _taste; // [user][step * genres + g]
    private readonly int _tasteSteps;

    public SyntheticConfig Config { get; }
    public InteractionDataset Dataset { get; }
    public ItemCatalog Catalog => Dataset.Catalog;
    /// <summary>First timestamp of the shifted period; events at or after it use the shifted exposure.</summary>
    public long ShiftTimestamp { get; }

    private SyntheticWorld(SyntheticConfig config, ItemCatalog catalog, int[] primary, int[] secondary, double[] popularity,
        double[][] exposure, bool[][] promoted, int[][] followUps, int[] sequelOf, double[][] taste, int tasteSteps,
        long shiftTimestamp, Func<SyntheticWorld, Interaction[]> interactions)
    {
        Config = config;
        (_primaryGenre, _secondaryGenre, _popularity, _exposure, _promoted, _followUps, _sequelOf, _taste, _tasteSteps) =
            (primary, secondary, popularity, exposure, promoted, followUps, sequelOf, taste, tasteSteps);
        _nextInSeries = Enumerable.Repeat(-1, sequelOf.Length).ToArray();
        for (int i = 0; i < sequelOf.Length; i++)
            if (sequelOf[i] >= 0) _nextInSeries[sequelOf[i]] = i;
        _sequels = Enumerable.Range(0, sequelOf.Length).Where(i => sequelOf[i] >= 0).ToArray();
        ShiftTimestamp = shiftTimestamp;
        var users = Enumerable.Range(1, config.Users).Select(u => "u" + u).ToArray();
        Dataset = new InteractionDataset($"synthetic-seed{config.Seed}", catalog, users, interactions(this));
    }

    /// <summary>Generates the world and its dataset for <paramref name="config"/>.</summary>
    public static SyntheticWorld Generate(SyntheticConfig config)
    {
        config.Validate();
        int nItems = config.Items, nGenres = config.Genres;

        // Items: genres, titles (series share a base title), then a random id order so ids carry no structure.
        var itemRng = new Pcg32(config.Seed, 1);
        var titles = new TitleFactory(itemRng, nGenres);
        int nSequels = (int)Math.Round(config.SeriesFraction * nItems);
        var specs = new List<(int Primary, int Secondary, string Title, int BaseSpec, int Part)>(nItems);
        for (int i = 0; i < nItems - nSequels; i++)
        {
            int primary = i % nGenres; // balanced genres
            int secondary = nGenres > 1 && itemRng.NextDouble() < 0.3 ? (primary + 1 + itemRng.NextInt(nGenres - 1)) % nGenres : -1;
            specs.Add((primary, secondary, titles.Next(primary, secondary), -1, 1));
        }
        var hasSequel = new bool[nItems];
        for (int s = 0; s < nSequels; s++)
        {
            int b;
            do b = itemRng.NextInt(specs.Count); while (hasSequel[b] || specs[b].Part >= 3);
            hasSequel[b] = true;
            var baseSpec = specs[b];
            string root = baseSpec.Part == 1 ? baseSpec.Title : baseSpec.Title[..baseSpec.Title.LastIndexOf(' ')];
            specs.Add((baseSpec.Primary, baseSpec.Secondary, $"{root} {baseSpec.Part + 1}", b, baseSpec.Part + 1));
        }
        var order = Enumerable.Range(0, nItems).ToArray(); // order[id] = spec index
        itemRng.Shuffle<int>(order);
        var idOfSpec = new int[nItems];
        for (int id = 0; id < nItems; id++) idOfSpec[order[id]] = id;
        var primaryG = new int[nItems];
        var secondaryG = new int[nItems];
        var sequelOf = new int[nItems];
        var items = new Item[nItems];
        for (int id = 0; id < nItems; id++)
        {
            var sp = specs[order[id]];
            (primaryG[id], secondaryG[id]) = (sp.Primary, sp.Secondary);
            sequelOf[id] = sp.BaseSpec < 0 ? -1 : idOfSpec[sp.BaseSpec];
            var genres = sp.Secondary < 0
                ? new[] { SyntheticVocabulary.GenreNames[sp.Primary] }
                : [SyntheticVocabulary.GenreNames[sp.Primary], SyntheticVocabulary.GenreNames[sp.Secondary]];
            items[id] = new Item(id, (id + 1).ToString(System.Globalization.CultureInfo.InvariantCulture), sp.Title) { Genres = genres };
        }
        var catalog = new ItemCatalog(items);

        // Popularity: Zipf over a random rank order; sequels inherit a lower rank than their base.
        var popRng = new Pcg32(config.Seed, 2);
        var rank = Enumerable.Range(0, nItems).ToArray();
        popRng.Shuffle<int>(rank);
        var popularity = new double[nItems];
        for (int i = 0; i < nItems; i++) popularity[i] = -config.PopularitySkew * Math.Log(rank[i] + 1);
        double popMean = popularity.Average();
        for (int i = 0; i < nItems; i++) popularity[i] -= popMean;

        // Exposure (confounder): a latent promotion score per period, correlated by ShiftCorrelation.
        var expRng = new Pcg32(config.Seed, 3);
        var x = new double[nItems];
        var xShift = new double[nItems];
        double rho = config.ShiftCorrelation, rest = Math.Sqrt(Math.Max(0, 1 - rho * rho));
        for (int i = 0; i < nItems; i++)
        {
            x[i] = Gaussian(expRng);
            xShift[i] = rho * x[i] + rest * Gaussian(expRng);
        }
        var promoted = new[] { TopFraction(x, config.PromotedFraction), TopFraction(xShift, config.PromotedFraction) };
        var exposure = new[]
        {
            promoted[0].Select(p => p ? config.ConfounderStrength : 0.0).ToArray(),
            promoted[1].Select(p => p ? config.ShiftedConfounderStrength : 0.0).ToArray(),
        };

        // Follow-ups: mostly from the same primary genre.
        var folRng = new Pcg32(config.Seed, 4);
        var byGenre = Enumerable.Range(0, nGenres).Select(g => Enumerable.Range(0, nItems).Where(i => primaryG[i] == g).ToArray()).ToArray();
        var followUps = new int[nItems][];
        for (int i = 0; i < nItems; i++)
        {
            var set = new List<int>(config.FollowUpsPerItem);
            int guard = 0;
            while (set.Count < config.FollowUpsPerItem && guard++ < 1000)
            {
                var pool = folRng.NextDouble() < 0.75 && byGenre[primaryG[i]].Length > 1 ? byGenre[primaryG[i]] : null;
                int j = pool is null ? folRng.NextInt(nItems) : pool[folRng.NextInt(pool.Length)];
                if (j != i && !set.Contains(j)) set.Add(j);
            }
            followUps[i] = set.ToArray();
        }

        // Tastes: a Gaussian random walk in log-taste space, one step per consumed item.
        int steps = config.MaxSequenceLength + 1;
        var taste = new double[config.Users][];
        for (int u = 0; u < config.Users; u++)
        {
            var rng = new Pcg32(config.Seed, 1000UL + (ulong)u);
            var t = new double[steps * nGenres];
            for (int g = 0; g < nGenres; g++) t[g] = config.TasteSharpness * Gaussian(rng);
            for (int k = 1; k < steps; k++)
                for (int g = 0; g < nGenres; g++)
                    t[k * nGenres + g] = t[(k - 1) * nGenres + g] + config.Drift * Gaussian(rng);
            taste[u] = t;
        }

        long horizon = config.TimelineDays * 86_400L;
        long shift = config.StartTimestamp + (long)(config.ShiftStart * horizon);
        return new SyntheticWorld(config, catalog, primaryG, secondaryG, popularity, exposure, promoted, followUps, sequelOf,
            taste, steps, shift, w => w.SampleInteractions(horizon));
    }

    private Interaction[] SampleInteractions(long horizon)
    {
        var c = Config;
        var result = new List<Interaction>(c.Users * (c.MinSequenceLength + c.MaxSequenceLength) / 2);
        var logits = new double[c.Items];
        var history = new List<int>(c.MaxSequenceLength);
        for (int u = 0; u < c.Users; u++)
        {
            // Stream 1_000_000+u: independent of other users, so a user's sequence does not depend on the user count.
            var rng = new Pcg32(c.Seed, 1_000_000UL + (ulong)u);
            int len = c.MinSequenceLength + rng.NextInt(c.MaxSequenceLength - c.MinSequenceLength + 1);
            double start = rng.NextDouble() * 0.5 * c.ShiftStart;
            double end = c.ShiftStart + 0.02 + rng.NextDouble() * (0.98 - c.ShiftStart);
            var times = new double[len];
            for (int k = 0; k < len - 1; k++) times[k] = start + rng.NextDouble() * (end - start);
            times[len - 1] = end;
            Array.Sort(times);
            history.Clear();
            long previous = long.MinValue;
            for (int k = 0; k < len; k++)
            {
                long ts = Math.Max(c.StartTimestamp + (long)(times[k] * horizon), previous + 1);
                previous = ts;
                Logits(u, history, PeriodOf(ts), logits);
                int item = SampleSoftmax(logits, rng);
                history.Add(item);
                result.Add(new Interaction(u, item, ts));
            }
        }
        return result.ToArray();
    }

    /// <summary>The period an event at <paramref name="timestamp"/> belongs to.</summary>
    public SyntheticPeriod PeriodOf(long timestamp) => timestamp >= ShiftTimestamp ? SyntheticPeriod.Shifted : SyntheticPeriod.Train;

    /// <summary>Ground-truth logit of choosing <paramref name="item"/> next: log-probability up to a constant per
    /// (user, history, period), so ranking candidates by it is the Bayes-optimal ranking. Items already in the
    /// history score −∞ (the world has no repeats). The taste used is the user's at step <c>history.Count</c>.</summary>
    public double Score(int user, IReadOnlyList<int> history, int item, SyntheticPeriod period)
    {
        if ((uint)item >= (uint)Config.Items) throw new ArgumentOutOfRangeException(nameof(item), item, $"item must be in 0..{Config.Items - 1}");
        int n = history.Count;
        bool baseSeen = _sequelOf[item] < 0;
        for (int k = 0; k < n; k++)
        {
            if (history[k] == item) return double.NegativeInfinity;
            if (history[k] == _sequelOf[item]) baseSeen = true;
        }
        double s = BaseLogit(user, n, item, period);
        if (_sequelOf[item] >= 0) s += baseSeen ? Config.SeriesWeight : -0.5 * Config.SeriesWeight;
        for (int k = 0, w = Math.Min(Config.RecentWindow, n); k < w; k++)
            if (Array.IndexOf(_followUps[history[n - 1 - k]], item) >= 0) s += Config.SequentialWeight / (1 << k);
        return s;
    }

    /// <summary>The ground-truth scorer of evaluation examples: <see cref="Score"/> in the period each example's target
    /// was drawn in. <paramref name="evaluation"/> holds at most one example per user (e.g. a leave-one-out test split).</summary>
    public Func<CandidateExample, int, double> GroundTruth(IEnumerable<SequenceExample> evaluation)
    {
        var period = evaluation.ToDictionary(e => e.User, e => PeriodOf(e.TargetTimestamp));
        return (e, item) => Score(e.User, e.History, item, period[e.User]);
    }

    /// <summary>Ground-truth logits of every item (see <see cref="Score"/>), written into <paramref name="logits"/>.</summary>
    public void Logits(int user, IReadOnlyList<int> history, SyntheticPeriod period, Span<double> logits)
    {
        if (logits.Length != Config.Items) throw new ArgumentException($"logits must have {Config.Items} entries", nameof(logits));
        int n = history.Count;
        // Hoisted form of BaseLogit: per-genre scores once, then one pass over items.
        var t = Taste(user, n);
        Span<double> genre = stackalloc double[t.Length];
        for (int g = 0; g < t.Length; g++) genre[g] = Config.GenreWeight * t[g];
        var exposure = _exposure[(int)period];
        for (int i = 0; i < logits.Length; i++)
        {
            int sec = _secondaryGenre[i];
            logits[i] = genre[_primaryGenre[i]] + (sec >= 0 ? 0.5 * genre[sec] : 0.0) + _popularity[i] + exposure[i];
        }
        var seen = new HashSet<int>(history);
        foreach (var s in _sequels)
            logits[s] += seen.Contains(_sequelOf[s]) ? Config.SeriesWeight : -0.5 * Config.SeriesWeight;
        for (int k = 0, w = Math.Min(Config.RecentWindow, n); k < w; k++)
            foreach (var f in _followUps[history[n - 1 - k]])
                logits[f] += Config.SequentialWeight / (1 << k);
        foreach (var h in seen) logits[h] = double.NegativeInfinity;
    }

    /// <summary>The generative next-item distribution.</summary>
    public double[] Probabilities(int user, IReadOnlyList<int> history, SyntheticPeriod period)
    {
        var p = new double[Config.Items];
        Logits(user, history, period, p);
        double max = p.Max(), sum = 0;
        for (int i = 0; i < p.Length; i++) sum += p[i] = Math.Exp(p[i] - max);
        for (int i = 0; i < p.Length; i++) p[i] /= sum;
        return p;
    }

    /// <summary>Exposure bonus (logit) the platform gives <paramref name="item"/> in <paramref name="period"/>.</summary>
    public double Exposure(int item, SyntheticPeriod period) => _exposure[(int)period][item];
    /// <summary>Whether the platform promotes <paramref name="item"/> in <paramref name="period"/>.</summary>
    public bool IsPromoted(int item, SyntheticPeriod period) => _promoted[(int)period][item];
    /// <summary>Intrinsic (period-independent) popularity logit of <paramref name="item"/>.</summary>
    public double Popularity(int item) => _popularity[item];
    public int PrimaryGenre(int item) => _primaryGenre[item];
    /// <summary>Secondary genre index, or −1.</summary>
    public int SecondaryGenre(int item) => _secondaryGenre[item];
    public IReadOnlyList<int> FollowUps(int item) => _followUps[item];
    /// <summary>The item this one is the next part of, or −1.</summary>
    public int SequelOf(int item) => _sequelOf[item];

    /// <summary>The user's log-taste per genre after <paramref name="step"/> consumed items.</summary>
    public ReadOnlySpan<double> Taste(int user, int step)
    {
        step = Math.Clamp(step, 0, _tasteSteps - 1);
        return _taste[user].AsSpan(step * Config.Genres, Config.Genres);
    }

    private double BaseLogit(int user, int step, int item, SyntheticPeriod period) =>
        TasteTerm(user, step, item) + _popularity[item] + _exposure[(int)period][item];

    /// <summary>The user's latent taste's share of <see cref="Score"/>: genre_weight·(θ[g₁] + ½·θ[g₂]) at
    /// <paramref name="step"/>. No learner observes θ, only the items it led to.</summary>
    public double TasteTerm(int user, int step, int item)
    {
        var t = Taste(user, step);
        double genre = t[_primaryGenre[item]];
        if (_secondaryGenre[item] >= 0) genre += 0.5 * t[_secondaryGenre[item]];
        return Config.GenreWeight * genre;
    }

    private static int SampleSoftmax(double[] logits, Pcg32 rng)
    {
        double max = double.NegativeInfinity;
        foreach (var l in logits) if (l > max) max = l;
        double sum = 0;
        for (int i = 0; i < logits.Length; i++) sum += logits[i] = Math.Exp(logits[i] - max); // scratch: overwritten
        double r = rng.NextDouble() * sum;
        int last = -1;
        for (int i = 0; i < logits.Length; i++)
        {
            if (logits[i] == 0) continue;
            last = i;
            r -= logits[i];
            if (r < 0) return i;
        }
        return last;
    }

    private static bool[] TopFraction(double[] values, double fraction)
    {
        int k = Math.Max(1, (int)Math.Round(fraction * values.Length));
        var threshold = values.OrderByDescending(v => v).ElementAt(k - 1);
        return values.Select(v => v >= threshold).ToArray();
    }

    internal static double Gaussian(Pcg32 rng)
    {
        double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }

    /// <summary>Unique 2-4 word titles from genre word lists; a secondary genre lends the adjective.</summary>
    private sealed class TitleFactory(Pcg32 rng, int genres)
    {
        private readonly HashSet<string> _used = new(StringComparer.Ordinal);
        private readonly HashSet<(string, string)> _pairs = [];

        public string Next(int primary, int secondary)
        {
            var adjs = SyntheticVocabulary.Adjectives[secondary >= 0 ? secondary : primary];
            var nouns = SyntheticVocabulary.Nouns[primary];
            for (int attempt = 0; attempt < 10_000; attempt++)
            {
                int pattern = rng.NextInt(10);
                string a = adjs[rng.NextInt(adjs.Length)], n = nouns[rng.NextInt(nouns.Length)];
                string title;
                if (pattern < 7)
                {
                    if (_pairs.Contains((a, n))) continue;
                    title = pattern < 4 ? $"The {a} {n}" : $"{a} {n}";
                    if (!_used.Add(title)) continue;
                    _pairs.Add((a, n));
                    return title;
                }
                string n2 = nouns[rng.NextInt(nouns.Length)];
                if (n2 == n) continue;
                title = $"{n} of {n2}";
                if (_used.Add(title)) return title;
            }
            throw new InvalidOperationException($"ran out of distinct titles for genre {primary} ({genres} genres)");
        }
    }
}
