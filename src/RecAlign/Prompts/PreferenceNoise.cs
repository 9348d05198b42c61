using RecAlign.Randomness;

namespace RecAlign.Prompts;

/// <summary>Label noise for robustness experiments (Dr.DPO's setting): a seeded share of the preference examples get
/// their chosen response swapped with their first rejected one, so the data prefers a wrong answer there.</summary>
public static class PreferenceNoise
{
    /// <summary>Flips ⌊share·N + ½⌋ examples chosen uniformly without replacement from <paramref name="seed"/>; the
    /// rest are returned unchanged. Returns the flipped examples' indices too (for diagnostics and tests).</summary>
    public static (List<PreferenceExample> Examples, IReadOnlySet<int> Flipped) Flip(IReadOnlyList<PreferenceExample> examples, double share, ulong seed)
    {
        if (!(share >= 0 && share <= 1)) throw new ArgumentOutOfRangeException(nameof(share), share, "label_noise must be in [0, 1]");
        int count = (int)Math.Floor(share * examples.Count + 0.5);
        var order = Enumerable.Range(0, examples.Count).ToArray();
        new Pcg32(seed, stream: 17).Shuffle<int>(order);
        var flipped = order.Take(count).ToHashSet();
        var result = examples.Select((e, i) =>
        {
            if (!flipped.Contains(i)) return e;
            if (e.Rejected.Count == 0) throw new ArgumentException($"preference example {i} has no rejected response to swap with");
            return e with { Chosen = e.Rejected[0], Rejected = [e.Chosen, .. e.Rejected.Skip(1)] };
        }).ToList();
        return (result, flipped);
    }
}
