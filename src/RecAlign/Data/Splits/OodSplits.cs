using System.Globalization;

namespace RecAlign.Data.Splits;

/// <summary>The four out-of-distribution settings (docs/data/ood-splits.md). Each keeps validation in-distribution so
/// that model selection never sees the shifted test distribution, and each keeps a user's test targets no earlier than
/// that user's training targets.</summary>
public static class OodSplits
{
    /// <summary>(1) Temporal shift. Cuts at the <see cref="TemporalShiftConfig.TrainEnd"/> and
    /// <see cref="TemporalShiftConfig.TestStart"/> quantiles of all interaction times. Train: targets before TrainEnd
    /// except each user's last one there, which is validation. Test: targets from TestStart on (histories include
    /// everything earlier, gap included). Targets in the gap are not examples.</summary>
    public static SplitResult TemporalShift(IReadOnlyList<UserSequence> sequences, SplitConfig c)
    {
        var t = c.TemporalShift;
        if (!(t.TrainEnd > 0 && t.TrainEnd <= t.TestStart && t.TestStart < 1))
            throw new ArgumentException($"temporal shift needs 0 < train_end <= test_start < 1 (got {t.TrainEnd}, {t.TestStart})");
        long trainEnd = Splitter.Quantile(sequences, t.TrainEnd);
        long testStart = Splitter.Quantile(sequences, t.TestStart);
        var (train, val, test) = (new List<SequenceExample>(), new List<SequenceExample>(), new List<SequenceExample>());
        foreach (var s in sequences)
        {
            int endTrain = Splitter.FirstAtOrAfter(s.Timestamps, trainEnd);
            int firstTest = Splitter.FirstAtOrAfter(s.Timestamps, testStart);
            int last = endTrain - 1;
            if (last >= 0 && Splitter.Eligible(last, c))
            {
                Splitter.AddTrain(train, s, 0, last, c);
                val.Add(Splitter.Example(s, last, c));
            }
            else Splitter.AddTrain(train, s, 0, endTrain, c);
            for (int p = Math.Max(firstTest, c.MinHistoryLength); p < s.Items.Length; p++) test.Add(Splitter.Example(s, p, c));
        }
        return new SplitResult(SplitMethod.TemporalShift, train, val, test)
        {
            Details = new Dictionary<string, string>
            {
                ["train_end"] = trainEnd.ToString(CultureInfo.InvariantCulture),
                ["test_start"] = testStart.ToString(CultureInfo.InvariantCulture),
            },
        };
    }

    /// <summary>(2) Popularity shift. Leave-one-out; item popularity counts the training region (every item before a
    /// user's validation target). Tail: test keeps only examples whose target is outside the head (the top
    /// <see cref="PopularityShiftConfig.HeadShare"/> of items). InversePopularity: test is a weighted sample without
    /// replacement, weight (popularity + 1)^-alpha, of <see cref="PopularityShiftConfig.TestFraction"/> of the examples.</summary>
    public static SplitResult PopularityShift(IReadOnlyList<UserSequence> sequences, ItemCatalog catalog, SplitConfig c)
    {
        var p = c.PopularityShift;
        var loo = Splitter.LeaveOneOut(sequences, c);
        var pop = TrainPopularity(sequences, catalog.Count);
        List<SequenceExample> test;
        var details = new Dictionary<string, string> { ["mode"] = p.Mode.ToString() };
        if (p.Mode == PopularityShiftMode.Tail)
        {
            if (p.HeadShare is < 0 or >= 1) throw new ArgumentException($"head_share must be in [0, 1) (got {p.HeadShare})");
            int headCount = (int)Math.Round(catalog.Count * p.HeadShare);
            var head = new bool[catalog.Count];
            foreach (var i in Enumerable.Range(0, catalog.Count).OrderByDescending(i => pop[i]).ThenBy(i => i).Take(headCount)) head[i] = true;
            test = loo.Test.Where(e => !head[e.Target]).ToList();
            details["head_items"] = headCount.ToString(CultureInfo.InvariantCulture);
        }
        else
        {
            if (p.TestFraction is <= 0 or > 1) throw new ArgumentException($"test_fraction must be in (0, 1] (got {p.TestFraction})");
            var rng = new Random(c.Seed);
            int keep = (int)Math.Round(loo.Test.Count * p.TestFraction);
            // Efraimidis-Spirakis: the k largest u^(1/w) keys are a weighted sample without replacement
            var chosen = loo.Test.Select((e, k) => (Key: Math.Log(rng.NextDouble()) / Math.Pow(pop[e.Target] + 1.0, -p.Alpha), Index: k))
                .OrderByDescending(x => x.Key).Take(keep).Select(x => x.Index).Order().ToList();
            test = chosen.Select(k => loo.Test[k]).ToList();
            details["alpha"] = p.Alpha.ToString(CultureInfo.InvariantCulture);
        }
        details["test_before_shift"] = loo.Test.Count.ToString(CultureInfo.InvariantCulture);
        return new SplitResult(SplitMethod.PopularityShift, loo.Train, loo.Validation, test) { Details = details };
    }

    /// <summary>(3) Attribute shift. Held-out genres G (given, or picked with the seed until their items cover
    /// <see cref="AttributeShiftConfig.HeldOutItemShare"/> of the catalog). Per user, the test example is the last one
    /// whose target has a genre in G; earlier examples with targets outside G train (the last of them validates);
    /// earlier G targets train only with probability <see cref="AttributeShiftConfig.TrainShiftedShare"/>; later
    /// positions are dropped. Users without a G target train and validate only.</summary>
    public static SplitResult AttributeShift(IReadOnlyList<UserSequence> sequences, ItemCatalog catalog, SplitConfig c)
    {
        var a = c.AttributeShift;
        var genres = catalog.Items.SelectMany(i => i.Genres).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray();
        if (genres.Length < 2) throw new ArgumentException("attribute shift needs items with at least two distinct genres");
        HashSet<string> held;
        if (a.TestGenres.Length > 0)
        {
            held = new HashSet<string>(a.TestGenres, StringComparer.Ordinal);
            var unknown = held.Where(g => !genres.Contains(g)).ToList();
            if (unknown.Count > 0) throw new ArgumentException($"unknown genres {string.Join(", ", unknown)} (known: {string.Join(", ", genres)})");
        }
        else
        {
            held = new HashSet<string>(StringComparer.Ordinal);
            var shuffled = genres.ToArray();
            new Random(c.Seed).Shuffle(shuffled);
            foreach (var g in shuffled)
            {
                if (held.Count >= genres.Length - 1) break;
                double share = catalog.Items.Count(i => i.Genres.Any(held.Contains)) / (double)catalog.Count;
                if (share >= a.HeldOutItemShare) break;
                held.Add(g);
            }
        }
        var shifted = catalog.Items.Select(i => i.Genres.Any(held.Contains)).ToArray();
        var rng = new Random(c.Seed);
        var (train, val, test) = (new List<SequenceExample>(), new List<SequenceExample>(), new List<SequenceExample>());
        foreach (var s in sequences)
        {
            int testPos = -1;
            for (int p = s.Items.Length - 1; p >= c.MinHistoryLength; p--)
                if (shifted[s.Items[p]]) { testPos = p; break; }
            int end = testPos >= 0 ? testPos : s.Items.Length;
            int valPos = -1;
            for (int p = end - 1; p >= c.MinHistoryLength; p--)
                if (!shifted[s.Items[p]]) { valPos = p; break; }
            var candidates = new List<int>();
            for (int p = c.MinHistoryLength; p < end; p++)
            {
                if (p == valPos) continue;
                if (!shifted[s.Items[p]] || rng.NextDouble() < a.TrainShiftedShare) candidates.Add(p);
            }
            if (!c.TrainAllPrefixes && candidates.Count > 0) candidates = [candidates[^1]];
            foreach (var p in candidates) train.Add(Splitter.Example(s, p, c));
            if (valPos >= 0) val.Add(Splitter.Example(s, valPos, c));
            if (testPos >= 0) test.Add(Splitter.Example(s, testPos, c));
        }
        return new SplitResult(SplitMethod.AttributeShift, train, val, test)
        {
            Details = new Dictionary<string, string>
            {
                ["test_genres"] = string.Join('|', held.Order(StringComparer.Ordinal)),
                ["held_out_item_share"] = (shifted.Count(b => b) / (double)catalog.Count).ToString("F4", CultureInfo.InvariantCulture),
            },
        };
    }

    /// <summary>(4) Exposure shift. Leave-one-out examples plus per-item exposure distributions from training
    /// popularity: training candidates are drawn by <see cref="ExposureShiftConfig.Train"/> (default popularity, as a
    /// logging policy would show them), test candidates by <see cref="ExposureShiftConfig.Test"/> (default uniform).</summary>
    public static SplitResult ExposureShift(IReadOnlyList<UserSequence> sequences, ItemCatalog catalog, SplitConfig c)
    {
        var e = c.ExposureShift;
        if (e.Train == e.Test) throw new ArgumentException($"exposure shift needs different train and test policies (both {e.Train})");
        var loo = Splitter.LeaveOneOut(sequences, c);
        var pop = TrainPopularity(sequences, catalog.Count);
        return loo with
        {
            Method = SplitMethod.ExposureShift,
            Exposure = new ExposureWeights(e.Train, Weights(pop, e.Train, e.Alpha, e.Smoothing), e.Test, Weights(pop, e.Test, e.Alpha, e.Smoothing)),
            Details = new Dictionary<string, string> { ["train_exposure"] = e.Train.ToString(), ["test_exposure"] = e.Test.ToString() },
        };
    }

    /// <summary>Normalised per-item exposure weights under <paramref name="policy"/>.</summary>
    public static double[] Weights(int[] popularity, ExposurePolicy policy, double alpha = 1.0, double smoothing = 1.0)
    {
        if (smoothing <= 0 && policy == ExposurePolicy.InversePopularity) throw new ArgumentException("inverse popularity needs smoothing > 0");
        var w = popularity.Select(p => policy switch
        {
            ExposurePolicy.Uniform => 1.0,
            ExposurePolicy.Popularity => Math.Pow(p + smoothing, alpha),
            ExposurePolicy.InversePopularity => Math.Pow(p + smoothing, -alpha),
            _ => throw new ArgumentOutOfRangeException(nameof(policy)),
        }).ToArray();
        double sum = w.Sum();
        if (!(sum > 0)) throw new ArgumentException("exposure weights sum to zero (no popularity and no smoothing)");
        for (int i = 0; i < w.Length; i++) w[i] /= sum;
        return w;
    }

    /// <summary>Item counts over the leave-one-out training region (every item before a user's validation target).</summary>
    public static int[] TrainPopularity(IReadOnlyList<UserSequence> sequences, int items)
    {
        var pop = new int[items];
        foreach (var s in sequences)
        {
            int end = s.Items.Length < 3 ? s.Items.Length : s.Items.Length - 2;
            for (int k = 0; k < end; k++) pop[s.Items[k]]++;
        }
        return pop;
    }
}
