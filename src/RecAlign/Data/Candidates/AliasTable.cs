using RecAlign.Randomness;

namespace RecAlign.Data.Candidates;

/// <summary>Walker/Vose alias table: O(n) build, O(1) draws from a discrete distribution given by non-negative
/// weights (not necessarily normalised).</summary>
public sealed class AliasTable
{
    private readonly double[] _probability;
    private readonly int[] _alias;

    public AliasTable(IReadOnlyList<double> weights)
    {
        int n = weights.Count;
        if (n == 0) throw new ArgumentException("alias table needs at least one weight", nameof(weights));
        double total = 0;
        for (int i = 0; i < n; i++)
        {
            double w = weights[i];
            if (!(w >= 0) || double.IsPositiveInfinity(w)) throw new ArgumentException($"weight {i} is {w}; weights must be finite and >= 0", nameof(weights));
            total += w;
        }
        if (!(total > 0)) throw new ArgumentException("weights sum to 0", nameof(weights));
        _probability = new double[n];
        _alias = new int[n];
        var scaled = new double[n];
        var small = new Stack<int>();
        var large = new Stack<int>();
        for (int i = 0; i < n; i++)
        {
            scaled[i] = weights[i] * n / total;
            (scaled[i] < 1.0 ? small : large).Push(i);
        }
        while (small.Count > 0 && large.Count > 0)
        {
            int s = small.Pop(), l = large.Pop();
            _probability[s] = scaled[s];
            _alias[s] = l;
            scaled[l] = scaled[l] + scaled[s] - 1.0;
            (scaled[l] < 1.0 ? small : large).Push(l);
        }
        // What is left is 1 up to rounding.
        while (large.Count > 0) { int l = large.Pop(); _probability[l] = 1.0; _alias[l] = l; }
        while (small.Count > 0) { int s = small.Pop(); _probability[s] = 1.0; _alias[s] = s; }
    }

    public int Count => _probability.Length;

    public int Next(Pcg32 rng)
    {
        int column = rng.NextInt(_probability.Length);
        return rng.NextDouble() < _probability[column] ? column : _alias[column];
    }
}
