using RecAlign.Models.Sequential;
using RecAlign.Randomness;
using static TorchSharp.torch;

namespace RecAlign.Interpretation;

/// <summary>One history whose hidden states a soft token reads: the recommender's item ids (oldest first, at most its
/// max_seq_length) and a key naming the (example, slot), which the random-states floor draws its vectors from.</summary>
public sealed record StateRequest(int[] Items, long Key);

/// <summary>Where an interpreter's inputs come from: per-position hidden states [B, L, d] and real lengths [B] for a
/// batch of histories (right-padded, left-aligned). Computed without gradients: the source is frozen.</summary>
public interface IHistoryStates
{
    /// <summary>The most positions a state holds (the recommender's history window).</summary>
    int Width { get; }
    int Dim { get; }
    (Tensor States, Tensor Lengths) Read(IReadOnlyList<StateRequest> requests, Device device);
}

/// <summary>A frozen sequential recommender's per-position states (<see cref="SequentialModel.SequenceStates"/>:
/// SASRec, GRU4Rec), in eval mode.</summary>
public sealed class RecommenderStates : IHistoryStates
{
    private readonly SequentialModel _model;

    public RecommenderStates(SequentialModel model)
    {
        if (!model.HasSequenceStates)
            throw new ArgumentException($"{model.Config.ModelType} has no per-position hidden states to interpret (use SASRec or GRU4Rec)");
        _model = model;
        foreach (var p in model.parameters()) p.requires_grad = false;
        model.eval();
    }

    public int Width => _model.MaxHistory;
    public int Dim => _model.StateSize;

    public (Tensor States, Tensor Lengths) Read(IReadOnlyList<StateRequest> requests, Device device)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        _model.eval();
        using var batch = SequenceBatch.Make(requests.Select(r => (IReadOnlyList<int>)r.Items).ToList(), _model.MaxHistory, _model.ItemCount, _model.Device);
        var states = _model.SequenceStates(batch.Items, batch.Lengths)!.to(ScalarType.Float32).to(device);
        return (states.MoveToOuterDisposeScope(), batch.Lengths.to(device).MoveToOuterDisposeScope());
    }
}

/// <summary>
/// The floor: vectors that carry nothing about the history. Each request's states are N(0, σ²) draws from a generator
/// seeded by (seed, request key), so an example always gets the same vectors (training is reproducible and resumes
/// identically) but they are independent of its items. σ matches the recommender's states, so the adapter sees inputs
/// of the same scale; lengths are the real ones, so the weighting is the same.
/// </summary>
public sealed class RandomStates(int width, int dim, double scale, long seed) : IHistoryStates
{
    public int Width { get; } = width;
    public int Dim { get; } = dim;
    public double Scale { get; } = scale;

    public (Tensor States, Tensor Lengths) Read(IReadOnlyList<StateRequest> requests, Device device)
    {
        using var scope = NewDisposeScope();
        int l = Math.Max(1, requests.Count == 0 ? 1 : requests.Max(r => Math.Min(r.Items.Length, Width)));
        var rows = new List<Tensor>();
        foreach (var r in requests)
        {
            using var generator = new Generator(SplitMix64.Mix(SplitMix64.Mix((ulong)seed) ^ (ulong)r.Key));
            // Always the whole window, then cut: a key's vectors never depend on the batch it is read in.
            rows.Add(randn([Width, Dim], generator: generator).narrow(0, 0, l) * Scale);
        }
        var lengths = tensor(requests.Select(r => (long)Math.Min(r.Items.Length, Width)).ToArray());
        return (stack(rows, 0).to(device).MoveToOuterDisposeScope(), lengths.to(device).MoveToOuterDisposeScope());
    }

    /// <summary>The standard deviation of <paramref name="source"/>'s states over the real positions of
    /// <paramref name="sample"/>.</summary>
    public static double ScaleOf(IHistoryStates source, IReadOnlyList<StateRequest> sample)
    {
        if (sample.Count == 0) return 1;
        using var scope = NewDisposeScope();
        var (states, lengths) = source.Read(sample, CPU);
        var valid = arange(states.shape[1], ScalarType.Int64).unsqueeze(0).lt(lengths.unsqueeze(1));
        var real = states.index(valid); // [M, d]
        return real.numel() < 2 ? 1 : real.std().to(ScalarType.Float64).item<double>();
    }
}
