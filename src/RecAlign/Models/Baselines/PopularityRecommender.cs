using RecAlign.Data;
using RecAlign.Data.Candidates;
using static TorchSharp.torch;

namespace RecAlign.Models.Baselines;

/// <summary>Most-popular: every user gets the items ranked by how often they were consumed in training (the
/// history-free baseline every table shows).</summary>
public sealed class PopularityRecommender : ItemIdRecommender
{
    private readonly float[] _popularity;

    /// <param name="popularity">A score per catalog item (e.g. training counts).</param>
    public PopularityRecommender(ItemCatalog catalog, IReadOnlyList<double> popularity) : base("popularity", catalog)
    {
        if (popularity.Count != catalog.Count) throw new ArgumentException($"{popularity.Count} popularity values for {catalog.Count} items");
        _popularity = popularity.Select(p => (float)p).ToArray();
    }

    /// <summary>Counts of each item as a target in <paramref name="train"/>.</summary>
    public static PopularityRecommender FromTraining(ItemCatalog catalog, IEnumerable<SequenceExample> train) =>
        new(catalog, CandidateSampler.PopularityWeights(train.Select(e => e.Target), catalog.Count, smoothing: 0));

    protected override Tensor ScoreItems(IReadOnlyList<IReadOnlyList<int>> histories, Tensor candidates)
    {
        using var table = tensor(_popularity);
        return table.index_select(0, candidates.reshape(-1)).reshape(candidates.shape);
    }

    public override Tensor ScoreCatalog(IReadOnlyList<IReadOnlyList<int>> histories)
    {
        using var table = tensor(_popularity);
        return table.unsqueeze(0).expand(histories.Count, -1).contiguous();
    }
}
