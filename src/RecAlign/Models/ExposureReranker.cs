using RecAlign.Numerics;
using RecAlign.Data;
using RecAlign.Prompts;
using static TorchSharp.torch;

namespace RecAlign.Models;

/// <summary>
/// IFairLRS's inference-time correction as a recommender over another one: each user's scores are standardised over
/// the items being ranked (z = (s − mean)/std: the order is unchanged and λ is in units of the row's spread, whether the
/// scores are log-probs, logits or counts; a λ is still tuned per model and protocol, since how far apart the top items
/// lie in those units differs) and every item pays for its groups' over-exposure, s′ = z − λ·pen(i), pen(i) = the mean over the item's
/// groups of p_g = max(0, GU_g@K) / max_g′ max(0, GU_g′@K) measured on the unchanged model (validation): the most
/// over-exposed group pays λ standard deviations, so λ means the same for 5 popularity groups or 19 genres. λ = 0 is the
/// identity ranking. A penalty fitted on validation and λ chosen there are applied as they are to evaluation users.
/// </summary>
public sealed class ExposureReranker : IRecommender
{
    private readonly IRecommender _inner;
    private readonly bool _ownsInner;
    private readonly Tensor _itemPenalty; // [N] float32

    /// <param name="groupPenalty">p_g per group (any non-negative penalty; see <see cref="PenaltyOf"/>).</param>
    public ExposureReranker(IRecommender inner, ItemGroups groups, IReadOnlyList<double> groupPenalty, double lambda, bool ownsInner = false)
    {
        if (groupPenalty.Count != groups.GroupCount) throw new ArgumentException($"{groupPenalty.Count} penalties for {groups.GroupCount} groups", nameof(groupPenalty));
        if (!double.IsFinite(lambda) || lambda < 0) throw new ArgumentOutOfRangeException(nameof(lambda), lambda, "λ must be finite and ≥ 0");
        if (inner.Catalog is { } catalog && catalog.Count != groups.ItemCount)
            throw new ArgumentException($"the groups cover {groups.ItemCount} items but {inner.Name}'s catalog has {catalog.Count}", nameof(groups));
        (_inner, _ownsInner, Lambda, Groups) = (inner, ownsInner, lambda, groups);
        GroupPenalty = groupPenalty.ToArray();
        _itemPenalty = ItemPenalty(groups, GroupPenalty);
    }

    /// <summary>p_g = max(0, GU_g) / max_g′ max(0, GU_g′) (all zero when no group is over-exposed).</summary>
    public static double[] PenaltyOf(IReadOnlyList<double> groupUnfairness)
    {
        double top = groupUnfairness.Select(g => Math.Max(0, g)).DefaultIfEmpty(0).Max();
        return groupUnfairness.Select(g => top > 0 ? Math.Max(0, g) / top : 0).ToArray();
    }

    /// <summary>The penalty of each candidate, [Q, C], from per-item penalties [N] and candidate ids [Q, C] (−1 padding
    /// gets any value: its score is −∞).</summary>
    public static Tensor PenaltyAt(Tensor itemPenalty, Tensor candidateItems) =>
        itemPenalty.index_select(0, candidateItems.clamp_min(0).flatten()).view(candidateItems.shape);

    /// <summary>pen(i) [N] float32: the mean of the item's groups' penalties (0 for an item without a group).</summary>
    public static Tensor ItemPenalty(ItemGroups groups, IReadOnlyList<double> groupPenalty)
    {
        var perItem = new float[groups.ItemCount];
        for (int i = 0; i < perItem.Length; i++)
        {
            var gs = groups.GroupsOf(i);
            perItem[i] = gs.Count == 0 ? 0 : (float)gs.Average(g => groupPenalty[g]);
        }
        return tensor(perItem);
    }

    public double Lambda { get; }
    public ItemGroups Groups { get; }
    public IReadOnlyList<double> GroupPenalty { get; }
    public string Name => _inner.Name;
    public ItemCatalog? Catalog => _inner.Catalog;

    public Tensor ScoreCandidates(IReadOnlyList<CandidateQuestion> questions)
    {
        var scores = _inner.ScoreCandidates(questions);
        if (Lambda == 0) return scores;
        using var scope = NewDisposeScope();
        using var owned = scores;
        using var items = CandidateIds.Matrix(questions, (int)scores.shape[1], Groups.ItemCount, "re-ranking by item group");
        var penalty = PenaltyAt(_itemPenalty, items);
        return Rerank(scores, penalty, Lambda).MoveToOuterDisposeScope();
    }

    public Tensor ScoreCatalog(IReadOnlyList<IReadOnlyList<int>> histories)
    {
        var scores = _inner.ScoreCatalog(histories);
        if (Lambda == 0) return scores;
        using var scope = NewDisposeScope();
        using var owned = scores;
        return Rerank(scores, _itemPenalty.unsqueeze(0), Lambda).MoveToOuterDisposeScope();
    }

    /// <summary>Row-standardised <paramref name="scores"/> [B, C] minus λ·<paramref name="penalty"/> (broadcast to
    /// [B, C]); non-finite entries are left out of each row's mean and std: −∞ (padding, masked items) and NaN come out
    /// −∞, +∞ stays +∞.</summary>
    public static Tensor Rerank(Tensor scores, Tensor penalty, double lambda)
    {
        using var scope = NewDisposeScope();
        var s = scores.to_type(ScalarType.Float32);
        var finite = s.isfinite();
        var f = finite.to_type(ScalarType.Float32);
        var count = f.sum(1, keepdim: true).clamp_min(1);
        var x = s.MaskedFill(finite.logical_not(), 0);
        var mean = x.sum(1, keepdim: true) / count;
        var std = ((x - mean).square() * f).sum(1, keepdim: true).div(count).sqrt().clamp_min(1e-6);
        var z = (x - mean) / std - lambda * penalty.to_type(ScalarType.Float32);
        return z.MaskedFill(finite.logical_not(), float.NegativeInfinity).MaskedFill(s.isposinf(), float.PositiveInfinity).MoveToOuterDisposeScope();
    }

    public void Dispose()
    {
        _itemPenalty.Dispose();
        if (_ownsInner) _inner.Dispose();
    }
}
