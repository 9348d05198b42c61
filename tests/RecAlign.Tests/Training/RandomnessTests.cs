using RecAlign.Randomness;
using System.Text.Json;
using RecAlign.Training.Optimization;
using TorchSharp;
using static TorchSharp.torch;

namespace RecAlign.Tests.Training;

public class Pcg32Tests
{
    [Fact]
    public void MatchesReferenceImplementation()
    {
        // pcg32-demo from the PCG reference C library: pcg32_srandom_r(&rng, 42u, 54u).
        var rng = new Pcg32(42, 54);
        uint[] expected = [0xa15c02b7, 0x7b47f409, 0xba1d3330, 0x83d2f293, 0xbfa4784b, 0xcbed606e];
        foreach (var e in expected) Assert.Equal(e, rng.NextUInt32());
    }

    [Fact]
    public void StateRoundTripReproducesStream()
    {
        var rng = new Pcg32(7, 3);
        for (int i = 0; i < 10; i++) rng.NextUInt32();
        var json = JsonSerializer.Serialize(rng.State);
        var tail = Enumerable.Range(0, 20).Select(_ => rng.NextUInt32()).ToArray();
        var restored = new Pcg32(JsonSerializer.Deserialize<Pcg32State>(json));
        Assert.Equal(tail, Enumerable.Range(0, 20).Select(_ => restored.NextUInt32()).ToArray());
        Assert.Equal(rng.State, restored.State);
    }

    [Fact]
    public void SameSeedSameStreamDifferentStreamsDiffer()
    {
        var a = new Pcg32(5, 0); var b = new Pcg32(5, 0); var c = new Pcg32(5, 1);
        var sa = Enumerable.Range(0, 8).Select(_ => a.NextUInt32()).ToArray();
        Assert.Equal(sa, Enumerable.Range(0, 8).Select(_ => b.NextUInt32()).ToArray());
        Assert.NotEqual(sa, Enumerable.Range(0, 8).Select(_ => c.NextUInt32()).ToArray());
    }

    [Fact]
    public void BoundedDrawsAndShuffleAreValid()
    {
        var rng = new Pcg32(9);
        var counts = new int[3];
        for (int i = 0; i < 3000; i++) counts[rng.NextInt(3)]++;
        Assert.All(counts, c => Assert.InRange(c, 850, 1150));
        for (int i = 0; i < 100; i++) Assert.InRange(rng.NextDouble(), 0.0, 0.9999999999);
        var values = Enumerable.Range(0, 50).ToArray();
        rng.Shuffle<int>(values);
        Assert.Equal(Enumerable.Range(0, 50), values.Order());
        Assert.NotEqual(Enumerable.Range(0, 50), values);
        Assert.Throws<ArgumentException>(() => new Pcg32(new Pcg32State(1, 2)));
    }
}

public class DataOrderTests
{
    [Fact]
    public void ResumeEqualsUninterruptedOrder()
    {
        var order = new DataOrder(count: 23, batchSize: 5, seed: 1234);
        Assert.Equal(5, order.BatchesPerEpoch);
        var full = order.Stream().Take(13).ToList();
        // Interrupt after 7 batches: save the position after the last consumed batch, resume from a fresh object.
        var saved = order.Next(full[6].Position);
        var json = JsonSerializer.Serialize(saved);
        var resumed = new DataOrder(23, 5, 1234).Stream(JsonSerializer.Deserialize<DataPosition>(json)).Take(6).ToList();
        for (int i = 0; i < 6; i++)
        {
            Assert.Equal(full[7 + i].Position, resumed[i].Position);
            Assert.Equal(full[7 + i].Indices, resumed[i].Indices);
        }
        Assert.Equal(new DataPosition(1, 2), saved);
    }

    [Fact]
    public void EpochsArePermutationsThatDiffer()
    {
        var order = new DataOrder(23, 5, 99);
        var e0 = order.Batches(0).SelectMany(b => b).ToArray();
        var e1 = order.Batches(1).SelectMany(b => b).ToArray();
        Assert.Equal(Enumerable.Range(0, 23), e0.Order());
        Assert.Equal(Enumerable.Range(0, 23), e1.Order());
        Assert.NotEqual(e0, e1);
        Assert.Equal(e0, new DataOrder(23, 5, 99).Permutation(0));
        Assert.Equal(3, order.Batches(0).Last().Length);
        Assert.Equal(4, new DataOrder(23, 5, 99, dropLast: true).Batches(0).Count());
        Assert.Equal(Enumerable.Range(0, 23), new DataOrder(23, 5, 99, shuffle: false).Permutation(3));
    }
}

[Collection(GlobalTorchRng.Name)]
public class RngStateTests
{
    [Fact]
    public void TorchGeneratorRoundTrip()
    {
        manual_seed(17);
        var snap = RngState.Capture(new Pcg32(1, 2));
        using var a = rand(5);
        var data = RngState.Restore(snap);
        using var b = rand(5);
        Assert.True(a.Equals(b));
        Assert.Equal(new Pcg32(1, 2).State, data!.State);
        var json = JsonSerializer.Serialize(snap);
        var back = JsonSerializer.Deserialize<RngSnapshot>(json)!;
        Assert.Equal(snap.TorchCpuState, back.TorchCpuState);
    }
}

public class ResumeStateTests
{
    [Fact]
    public void SaveLoadRoundTrip()
    {
        var dir = Path.Combine(Path.GetTempPath(), "recalign-resume-" + Guid.NewGuid().ToString("N"));
        try
        {
            var rng = new Pcg32(3, 4);
            rng.NextUInt32();
            var state = new ResumeState(12, new LrSchedulerState(12), new DataPosition(2, 5), new RngSnapshot([1, 2, 3], rng.State), 1);
            var path = Path.Combine(dir, "trainer_state.json");
            state.Save(path);
            var back = ResumeState.Load(path);
            Assert.Equal(state.OptimizerStep, back.OptimizerStep);
            Assert.Equal(state.Scheduler, back.Scheduler);
            Assert.Equal(state.Data, back.Data);
            Assert.Equal(state.Rng.TorchCpuState, back.Rng.TorchCpuState);
            Assert.Equal(rng.State, back.Rng.DataRng);
            Assert.Equal(1, back.AccumulationMicroStep);
            Assert.Contains("\"optimizer_step\"", File.ReadAllText(path));
            File.WriteAllText(path, "{\"optimizer_step\": \"x\"}");
            var e = Assert.Throws<FormatException>(() => ResumeState.Load(path));
            Assert.Contains("optimizer_step", e.Message);
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }
}
