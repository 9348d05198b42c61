namespace RecAlign.Randomness;

/// <summary>SplitMix64's finaliser (Steele et al. 2014) as a stateless hash: a well-mixed uniform draw per key, for
/// decisions that must depend only on (seed, index) — e.g. a resumed run's curriculum.</summary>
public static class SplitMix64
{
    public static ulong Mix(ulong z)
    {
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>A uniform double in [0, 1) from (seed, index).</summary>
    public static double Uniform(ulong seed, ulong index) => (Mix(Mix(seed) ^ index) >> 11) * (1.0 / (1UL << 53));
}
