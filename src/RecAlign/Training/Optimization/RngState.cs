using RecAlign.Randomness;
using TorchSharp;

namespace RecAlign.Training.Optimization;

/// <summary>Everything random a resumed run must restore: torch's global CPU generator and the data-order RNG.</summary>
public sealed record RngSnapshot(byte[] TorchCpuState, Pcg32State? DataRng = null);

public static class RngState
{
    /// <summary>Bytes of torch's default CPU generator (dropout, randn without a generator).</summary>
    public static byte[] CaptureTorch()
    {
        using var s = torch.random.get_rng_state();
        return s.data<byte>().ToArray();
    }

    public static void RestoreTorch(byte[] state)
    {
        ArgumentNullException.ThrowIfNull(state);
        using var t = torch.tensor(state, dtype: torch.ScalarType.Byte);
        torch.random.set_rng_state(t);
    }

    public static RngSnapshot Capture(Pcg32? dataRng = null) => new(CaptureTorch(), dataRng?.State);

    /// <summary>Restores torch's generator; returns the data RNG rebuilt from the snapshot (null if none was saved).</summary>
    public static Pcg32? Restore(RngSnapshot snapshot)
    {
        RestoreTorch(snapshot.TorchCpuState);
        return snapshot.DataRng is { } s ? new Pcg32(s) : null;
    }
}
