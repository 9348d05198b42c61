using System.Text.Json.Nodes;
using TorchSharp;
using static TorchSharp.torch;

namespace RecAlign.Alignment;

/// <summary>
/// CausalDPO's bank of K environment centres in feature space: fitted once by k-means (k-means++ seeding, Lloyd
/// iterations, seeded) on the whole training set's environment features, then moved as mini-batch k-means moves them:
/// an exponential moving average of each batch's cluster means under hard (nearest-centre) assignment,
/// c_k ← m·c_k + (1 − m)·mean{z_i : argmax_j q_ij = k}. Soft means would pull every centre towards the batch mean
/// whenever q is soft, until the environments coincide. Never re-drawn per batch (the released code re-clusters every
/// batch with DBSCAN and tops up with random vectors). Saved with checkpoints.
/// </summary>
public sealed class EnvironmentCentres(int count, double momentum, long seed) : IDisposable
{
    public int Count { get; } = count >= 1 ? count : throw new ArgumentException($"causal_dpo_environments must be at least 1 (got {count})");
    public double Momentum { get; } = PreferenceLossChecks.InRange(momentum, 0.0, 1.0, "causal_dpo_centre_momentum", openHigh: false);
    public long Seed { get; } = seed;
    /// <summary>[K, D], or null until fitted.</summary>
    public Tensor? Centres { get; private set; }

    /// <summary>Fits the centres by k-means on <paramref name="features"/> [N, D] (all training examples).</summary>
    public void Fit(Tensor features, int iterations = 25)
    {
        using var noGrad = no_grad();
        Set(KMeans(features.detach().to(ScalarType.Float64), Count, iterations, Seed));
    }

    /// <summary>k-means++ seeding (D² sampling from a seeded generator) then Lloyd iterations; an empty cluster keeps its
    /// centre. Returns [K, D] in the features' dtype.</summary>
    public static Tensor KMeans(Tensor x, int k, int iterations, long seed)
    {
        using var scope = NewDisposeScope();
        long n = x.shape[0];
        if (n == 0) throw new ArgumentException("k-means needs at least one feature row");
        using var generator = new Generator((ulong)seed, x.device);
        var chosen = new List<long> { (long)(rand(1, ScalarType.Float64, x.device, generator: generator).item<double>() * n) % n };
        var d2 = (x - x[chosen[0]]).square().sum(dim: 1);
        while (chosen.Count < k)
        {
            double total = d2.sum().item<double>();
            long next;
            if (total <= 0) next = chosen.Count % n; // fewer distinct points than centres: duplicates are harmless
            else
            {
                double u = rand(1, ScalarType.Float64, x.device, generator: generator).item<double>() * total;
                next = Math.Min(n - 1, (d2.cumsum(0) < u).sum().item<long>());
            }
            chosen.Add(next);
            d2 = minimum(d2, (x - x[next]).square().sum(dim: 1));
        }
        var centres = x.index_select(0, tensor(chosen.ToArray(), device: x.device)).clone();
        for (int it = 0; it < iterations; it++)
        {
            var assign = cdist(x, centres).argmin(1);
            var onehot = nn.functional.one_hot(assign, k).to(x.dtype);             // [N, K]
            var sizes = onehot.sum(dim: 0);                                               // [K]
            var means = onehot.t().matmul(x) / sizes.clamp_min(1).unsqueeze(1);
            var moved = where((sizes > 0).unsqueeze(1), means, centres);
            bool done = moved.allclose(centres, 0, 0);
            centres = moved;
            if (done) break;
        }
        return centres.MoveToOuterDisposeScope();
    }

    /// <summary>EMA step towards the batch's hard cluster means (detached; environments no example of the batch is
    /// nearest to keep their centre).</summary>
    public void Update(Tensor features, Tensor assignments)
    {
        if (Centres is null || Momentum == 1) return;
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var z = features.detach().to(Centres.dtype).to(Centres.device);
        var q = nn.functional.one_hot(assignments.detach().argmax(1), Count).to(Centres.dtype).to(Centres.device);
        var mass = q.sum(dim: 0);                                                          // [K]
        var means = q.t().matmul(z) / mass.clamp_min(1e-12).unsqueeze(1);
        var moved = Momentum * Centres + (1 - Momentum) * means;
        Set(where((mass > 1e-12).unsqueeze(1), moved, Centres).MoveToOuterDisposeScope());
    }

    /// <summary>Keeps the bank on the features' device (a resumed run loads it on the CPU).</summary>
    public void MoveTo(Device device)
    {
        if (Centres is not null && (Centres.device_type != device.type || Centres.device_index != device.index)) Set(Centres.to(device));
    }

    public JsonArray Save()
    {
        var rows = new JsonArray();
        if (Centres is null) return rows;
        var values = Centres.to(ScalarType.Float64).cpu().data<double>().ToArray();
        long d = Centres.shape[1];
        for (int r = 0; r < Count; r++) rows.Add(new JsonArray(values.Skip(r * (int)d).Take((int)d).Select(v => (JsonNode)JsonValue.Create(v)!).ToArray()));
        return rows;
    }

    public void Load(JsonArray? rows, string loss, Device device)
    {
        if (rows is null || rows.Count == 0) { Centres?.Dispose(); Centres = null; return; }
        if (rows.Count != Count) throw new FormatException($"the checkpoint's objective state for '{loss}' has {rows.Count} environment centres, not {Count}");
        var parsed = rows.Select(r => (r as JsonArray ?? throw new FormatException($"the checkpoint's objective state for '{loss}' has a malformed centre"))
            .Select(v => v is JsonValue j && j.TryGetValue<double>(out var d) ? d : throw new FormatException($"the checkpoint's objective state for '{loss}' has a non-numeric centre value")).ToArray()).ToList();
        int dim = parsed[0].Length;
        if (dim == 0 || parsed.Any(p => p.Length != dim)) throw new FormatException($"the checkpoint's objective state for '{loss}' has centres of unequal or zero width");
        Set(tensor(parsed.SelectMany(p => p).ToArray(), [Count, dim], ScalarType.Float64, device));
    }

    private void Set(Tensor centres)
    {
        var old = Centres;
        // The bank outlives every step's dispose scope.
        Centres = centres.detach().DetachFromDisposeScope();
        old?.Dispose();
    }

    public void Dispose() => Centres?.Dispose();
}
