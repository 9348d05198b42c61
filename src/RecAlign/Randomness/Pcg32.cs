namespace RecAlign.Randomness;

/// <summary>Full state of a <see cref="Pcg32"/>: JSON-serialisable, restores the exact stream.</summary>
public readonly record struct Pcg32State(ulong State, ulong Increment);

/// <summary>
/// PCG32 (O'Neill, pcg32_random_r / pcg32_srandom_r): a small RNG whose whole state is two words, so data order can be
/// checkpointed exactly (System.Random cannot expose its state). Different <c>stream</c>s give independent sequences.
/// </summary>
public sealed class Pcg32
{
    private const ulong Multiplier = 6364136223846793005UL;
    private ulong _state;
    private ulong _inc;

    public Pcg32(ulong seed, ulong stream = 0)
    {
        _state = 0;
        _inc = (stream << 1) | 1UL;
        NextUInt32();
        _state += seed;
        NextUInt32();
    }

    public Pcg32(Pcg32State state)
    {
        if ((state.Increment & 1) == 0) throw new ArgumentException($"PCG32 increment must be odd, got {state.Increment}", nameof(state));
        (_state, _inc) = (state.State, state.Increment);
    }

    public Pcg32State State => new(_state, _inc);

    public uint NextUInt32()
    {
        ulong old = _state;
        _state = unchecked(old * Multiplier + _inc);
        uint xorshifted = (uint)(((old >> 18) ^ old) >> 27);
        int rot = (int)(old >> 59);
        return (xorshifted >> rot) | (xorshifted << (-rot & 31));
    }

    /// <summary>Uniform integer in [0, bound) without modulo bias (Lemire's multiply-and-reject).</summary>
    public uint NextUInt32(uint bound)
    {
        if (bound == 0) throw new ArgumentOutOfRangeException(nameof(bound), "bound must be > 0");
        ulong m = (ulong)NextUInt32() * bound;
        uint low = (uint)m;
        if (low < bound)
        {
            uint threshold = unchecked((uint)-bound) % bound;
            while (low < threshold)
            {
                m = (ulong)NextUInt32() * bound;
                low = (uint)m;
            }
        }
        return (uint)(m >> 32);
    }

    /// <summary>Uniform integer in [0, bound).</summary>
    public int NextInt(int bound)
    {
        if (bound <= 0) throw new ArgumentOutOfRangeException(nameof(bound), bound, "bound must be > 0");
        return (int)NextUInt32((uint)bound);
    }

    /// <summary>Uniform double in [0, 1) with 53 random bits.</summary>
    public double NextDouble()
    {
        ulong hi = NextUInt32() >> 5, lo = NextUInt32() >> 6; // 27 + 26 bits
        return (hi * 67108864.0 + lo) * (1.0 / 9007199254740992.0);
    }

    /// <summary>In-place Fisher-Yates shuffle.</summary>
    public void Shuffle<T>(Span<T> values)
    {
        for (int i = values.Length - 1; i > 0; i--)
        {
            int j = NextInt(i + 1);
            (values[i], values[j]) = (values[j], values[i]);
        }
    }
}
