namespace RecAlign.Data.Candidates;

/// <summary>Derives independent per-example seeds from a global seed and integer keys (SplitMix64 finaliser over
/// the chained keys), so each example's randomness does not depend on how many examples came before it.</summary>
public static class ExampleSeed
{
    public static ulong Of(ulong seed, long key1) => Mix(Mix(seed ^ 0x9E3779B97F4A7C15UL) ^ (ulong)key1);

    public static ulong Of(ulong seed, long key1, long key2) => Mix(Of(seed, key1) ^ Mix((ulong)key2 + 0x632BE59BD9B4E019UL));

    public static ulong Of(ulong seed, long key1, long key2, long key3) => Mix(Of(seed, key1, key2) ^ Mix((ulong)key3 + 0x8CB92BA72F3D8DD7UL));

    public static ulong Mix(ulong z)
    {
        unchecked
        {
            z += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }
    }
}
