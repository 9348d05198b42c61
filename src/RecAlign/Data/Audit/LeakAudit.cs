namespace RecAlign.Data.Audit;

/// <summary>
/// Audits candidate lists for answer leaks that let a model ignore the history: recurring candidate sets with the
/// same answer, near-identical lists per answer (negatives seeded by the target id, as in S-DPO's published files),
/// skewed answer positions, and the HR@1 of a history-free lookup. The lookup scores each list member a by how many
/// of the other members co-appeared with a as the answer, per occurrence of a as an answer (learned on the train
/// examples, else leave-one-out on the audited ones); ties count as a fractional hit (expected random tie-break).
/// </summary>
public static class LeakAudit
{
    public static AuditReport Run(IReadOnlyList<CandidateExample> examples, ItemCatalog catalog,
        IReadOnlyList<CandidateExample>? train = null, AuditThresholds? thresholds = null)
    {
        thresholds ??= new();
        if (examples.Count == 0) throw new ArgumentException("nothing to audit: no candidate examples", nameof(examples));
        int listLength = examples.GroupBy(e => e.Candidates.Count).MaxBy(g => g.Count())!.Key;
        bool loo = train is null;
        var reference = train ?? examples;

        // Co-occurrence model: pair[(member, answer)] and answer counts.
        var pair = new Dictionary<long, int>(MixedLongComparer.Instance);
        var answers = new Dictionary<int, int>();
        foreach (var e in reference) AddCounts(e, pair, answers, +1);

        double lookupHits = 0;
        foreach (var e in examples)
        {
            if (loo) AddCounts(e, pair, answers, -1);
            lookupHits += LookupHit(e, pair, answers);
            if (loo) AddCounts(e, pair, answers, +1);
        }

        // Exact set recurrence with the same answer.
        var setAnswers = new Dictionary<string, Dictionary<int, int>>();
        foreach (var e in reference)
        {
            var d = setAnswers.TryGetValue(Signature(e), out var x) ? x : setAnswers[Signature(e)] = new();
            d[e.Target] = d.GetValueOrDefault(e.Target) + 1;
        }
        int repeated = examples.Count(e => setAnswers.TryGetValue(Signature(e), out var d) && d.GetValueOrDefault(e.Target) > (loo ? 1 : 0));

        // Negatives shared by lists with the same answer: each example against the first other list with its answer.
        var firstWithAnswer = new Dictionary<int, CandidateExample>();
        foreach (var e in reference) firstWithAnswer.TryAdd(e.Target, e);
        double overlapSum = 0;
        int overlapN = 0;
        var secondWithAnswer = loo ? new Dictionary<int, CandidateExample>() : null;
        if (loo)
            foreach (var e in examples)
                if (!ReferenceEquals(firstWithAnswer[e.Target], e)) secondWithAnswer!.TryAdd(e.Target, e);
        foreach (var e in examples)
        {
            if (!firstWithAnswer.TryGetValue(e.Target, out var other)) continue;
            if (ReferenceEquals(other, e) && !secondWithAnswer!.TryGetValue(e.Target, out other)) continue;
            var a = Negatives(e);
            var b = Negatives(other);
            if (a.Count == 0) continue;
            overlapSum += (double)a.Count(b.Contains) / a.Count;
            overlapN++;
        }
        double overlap = overlapN == 0 ? 0 : overlapSum / overlapN;
        int universe = Math.Max(catalog.Count, 1);
        double expectedOverlap = Math.Min(1.0, (listLength - 1.0) / Math.Max(1, universe - 1));

        // Answer positions.
        var positions = new int[listLength];
        int malformed = 0;
        foreach (var e in examples)
        {
            int hits = 0, pos = -1;
            for (int i = 0; i < e.Candidates.Count; i++)
                if (e.Candidates[i] == e.Target) { hits++; if (pos < 0) pos = i; }
            if (hits != 1) malformed++;
            if (hits >= 1 && e.Candidates.Count == listLength) positions[pos]++;
        }
        int placed = positions.Sum();
        double expected = (double)placed / listLength;
        double chi2 = expected > 0 ? positions.Sum(c => (c - expected) * (c - expected) / expected) : 0;
        double pValue = expected > 0 && listLength > 1 ? Statistics.ChiSquareSurvival(chi2, listLength - 1) : 1;
        double maxOverExpected = expected > 0 ? positions.Max() / expected : 0;

        double? targetOverlap = null, duplicateRate = null;
        if (train is not null)
        {
            var trainTargets = train.Select(t => t.Target).ToHashSet();
            targetOverlap = (double)examples.Count(e => trainTargets.Contains(e.Target)) / examples.Count;
            var trainKeys = train.Select(t => HistoryKey(t)).ToHashSet();
            duplicateRate = (double)examples.Count(e => trainKeys.Contains(HistoryKey(e))) / examples.Count;
        }

        var report = new AuditReport
        {
            Examples = examples.Count,
            TrainExamples = train?.Count ?? 0,
            ListLength = listLength,
            ChanceHr1 = 1.0 / listLength,
            LookupHr1 = lookupHits / examples.Count,
            LookupSource = loo ? "leave-one-out" : "train",
            RepeatedSetRate = (double)repeated / examples.Count,
            SameAnswerOverlap = overlap,
            ExpectedSameAnswerOverlap = expectedOverlap,
            PositionCounts = positions,
            PositionChiSquare = chi2,
            PositionPValue = pValue,
            PositionMaxOverExpected = maxOverExpected,
            TargetOverlap = targetOverlap,
            DuplicateExampleRate = duplicateRate,
            MalformedLists = malformed,
            Thresholds = thresholds,
        };
        return report with { Failures = Failures(report, thresholds) };
    }

    private static List<string> Failures(AuditReport r, AuditThresholds t)
    {
        var f = new List<string>();
        if (r.LookupHr1 > t.MaxLookupHr1)
            f.Add($"a history-free lookup ({r.LookupSource}) reaches HR@1 {r.LookupHr1:F3} > {t.MaxLookupHr1:F3} (chance {r.ChanceHr1:F3}): the candidate list gives the answer away");
        if (r.RepeatedSetRate > t.MaxRepeatedSetRate)
            f.Add($"{r.RepeatedSetRate:P1} of the examples reuse a candidate set seen with the same answer (limit {t.MaxRepeatedSetRate:P1})");
        if (r.SameAnswerOverlap > t.MaxSameAnswerOverlap)
            f.Add($"lists with the same answer share {r.SameAnswerOverlap:P1} of their negatives (limit {t.MaxSameAnswerOverlap:P1}, independent sampling gives {r.ExpectedSameAnswerOverlap:P1}): negatives depend on the target");
        if (r.PositionMaxOverExpected > t.MaxPositionSkew && r.PositionPValue < t.PositionPValue)
            f.Add($"answer positions are skewed: the most common position holds {r.PositionMaxOverExpected:F2}x its expected share (limit {t.MaxPositionSkew:F2}, chi-square p = {r.PositionPValue:G3})");
        if (r.MalformedLists > t.MaxMalformedRate * r.Examples)
            f.Add($"{r.MalformedLists} lists do not contain the answer exactly once (limit {t.MaxMalformedRate:P1})");
        return f;
    }

    private static void AddCounts(CandidateExample e, Dictionary<long, int> pair, Dictionary<int, int> answers, int delta)
    {
        answers[e.Target] = answers.GetValueOrDefault(e.Target) + delta;
        foreach (var c in e.Candidates)
        {
            if (c == e.Target) continue;
            long key = Key(c, e.Target);
            pair[key] = pair.GetValueOrDefault(key) + delta;
        }
    }

    private static double LookupHit(CandidateExample e, Dictionary<long, int> pair, Dictionary<int, int> answers)
    {
        double best = double.NegativeInfinity;
        int ties = 0;
        bool targetBest = false;
        var distinct = e.Candidates.Distinct().ToArray();
        foreach (var a in distinct)
        {
            int seen = answers.GetValueOrDefault(a);
            double score = 0;
            if (seen > 0)
            {
                foreach (var c in distinct)
                    if (c != a) score += pair.GetValueOrDefault(Key(c, a));
                score /= seen + 1.0;
            }
            if (score > best) { best = score; ties = 1; targetBest = a == e.Target; }
            else if (score == best) { ties++; targetBest |= a == e.Target; }
        }
        return targetBest ? 1.0 / ties : 0.0;
    }

    /// <summary>long's own hash (low ^ high word) collapses (member, answer) pairs onto few buckets.</summary>
    private sealed class MixedLongComparer : IEqualityComparer<long>
    {
        public static readonly MixedLongComparer Instance = new();
        public bool Equals(long x, long y) => x == y;
        public int GetHashCode(long x) => (int)Candidates.ExampleSeed.Mix((ulong)x);
    }

    private static long Key(int member, int answer) => ((long)member << 32) | (uint)answer;

    private static string Signature(CandidateExample e) => string.Join(',', e.Candidates.Order());

    private static HashSet<int> Negatives(CandidateExample e) => e.Candidates.Where(c => c != e.Target).ToHashSet();

    private static string HistoryKey(CandidateExample e) => string.Join(',', e.History) + "->" + e.Target;
}

/// <summary>Small numeric helpers for the audit.</summary>
public static class Statistics
{
    /// <summary>P(X ≥ x) for a chi-square variable with <paramref name="degreesOfFreedom"/>: the regularised upper
    /// incomplete gamma Q(k/2, x/2) (series for small x, Lentz continued fraction otherwise).</summary>
    public static double ChiSquareSurvival(double x, int degreesOfFreedom)
    {
        if (degreesOfFreedom <= 0) throw new ArgumentOutOfRangeException(nameof(degreesOfFreedom));
        if (x <= 0) return 1.0;
        double a = degreesOfFreedom / 2.0, z = x / 2.0;
        double lnPrefix = -z + a * Math.Log(z) - LogGamma(a);
        if (z < a + 1)
        {
            double sum = 1.0 / a, term = sum;
            for (int n = 1; n < 1000; n++)
            {
                term *= z / (a + n);
                sum += term;
                if (Math.Abs(term) < Math.Abs(sum) * 1e-15) break;
            }
            return Math.Max(0.0, 1.0 - sum * Math.Exp(lnPrefix));
        }
        const double tiny = 1e-300;
        double b = z + 1 - a, c = 1 / tiny, d = 1 / b, h = d;
        for (int i = 1; i < 1000; i++)
        {
            double an = -i * (i - a);
            b += 2;
            d = an * d + b; if (Math.Abs(d) < tiny) d = tiny;
            c = b + an / c; if (Math.Abs(c) < tiny) c = tiny;
            d = 1 / d;
            double delta = d * c;
            h *= delta;
            if (Math.Abs(delta - 1) < 1e-15) break;
        }
        return Math.Exp(lnPrefix) * h;
    }

    /// <summary>ln Γ(x) for x &gt; 0 (Lanczos, g = 7).</summary>
    public static double LogGamma(double x)
    {
        double[] g = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
            12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
        if (x < 0.5) return Math.Log(Math.PI / Math.Abs(Math.Sin(Math.PI * x))) - LogGamma(1 - x);
        x -= 1;
        double s = g[0];
        for (int i = 1; i < 9; i++) s += g[i] / (x + i);
        double t = x + 7.5;
        return 0.5 * Math.Log(2 * Math.PI) + (x + 0.5) * Math.Log(t) - t + Math.Log(s);
    }
}
