using RecAlign.Numerics;
using RecAlign.Data;
using static TorchSharp.torch;

namespace RecAlign.Inference;

/// <summary>
/// Grounds generated titles to catalog items for full-catalog evaluation (as BIGRec and CausalDPO do): items whose
/// normalised title equals the answer rank first, the rest by <see cref="ITitleSimilarity"/> (character n-gram
/// TF-IDF cosine unless another, e.g. an <see cref="EmbeddingSimilarity"/> over an LM, is given). Ties keep catalog
/// order (lower id first), so rankings are deterministic.
/// </summary>
public sealed class CatalogGrounder
{
    /// <summary>Score given to exact normalised matches: above any cosine similarity.</summary>
    public const float ExactScore = 2f;

    private readonly ItemCatalog _catalog;
    private readonly ITitleSimilarity _similarity;
    private readonly Dictionary<string, int[]> _byNormalizedTitle;

    public CatalogGrounder(ItemCatalog catalog, ITitleSimilarity? similarity = null)
    {
        _catalog = catalog;
        _similarity = similarity ?? new CharNGramTfIdf(catalog.Items.Select(i => i.Title).ToArray(), 3);
        if (_similarity.Count != catalog.Count)
            throw new ArgumentException($"similarity scores {_similarity.Count} titles but the catalog has {catalog.Count} items", nameof(similarity));
        _byNormalizedTitle = catalog.Items
            .GroupBy(i => AnswerMatcher.Normalize(i.Title), StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Select(i => i.Id).ToArray(), StringComparer.Ordinal);
    }

    /// <summary>
    /// A ranking universe read from an item list: <c>id::title</c> lines (S-DPO/LLaRA <c>id2name.txt</c>, CausalDPO
    /// <c>ood_id2name.txt</c>; read by <see cref="Data.Formats.ItemListFile"/>, ids in file order) or MovieLens-100K
    /// <c>u.item</c> (<see cref="Data.Loaders.SequenceTableLoader.LoadCatalog"/>). DreamRec's <c>data_statis.csv</c>
    /// is refused: it holds an item count but no titles to ground answers to.
    /// </summary>
    public static ItemCatalog ReadCatalog(string path)
    {
        if (!File.Exists(path)) throw new DataFormatException(path, 0, null, "file not found");
        var name = Path.GetFileName(path);
        if (name.Equals("data_statis.csv", StringComparison.OrdinalIgnoreCase))
            throw new DataFormatException(path, 0, null, "holds an item count but no titles; catalog grounding needs an id::title list or u.item");
        var catalog = name.Equals("u.item", StringComparison.OrdinalIgnoreCase)
            ? Data.Loaders.SequenceTableLoader.LoadCatalog(path)
            : Data.Formats.ItemListFile.Read(path);
        if (catalog.Count == 0) throw new DataFormatException(path, 0, null, "no items");
        return catalog;
    }

    /// <summary>Item ids whose normalised title equals the answer's (empty when none).</summary>
    public IReadOnlyList<int> ExactMatches(string answer) =>
        _byNormalizedTitle.TryGetValue(AnswerMatcher.Normalize(answer), out var ids) ? ids : [];

    /// <summary>float32 [Q, catalog size] grounding scores (exact matches = <see cref="ExactScore"/>), usable directly
    /// with <see cref="Evaluation.Metrics.FromScores"/> for HR@K/NDCG@K over the whole catalog.</summary>
    public Tensor Scores(IReadOnlyList<string> answers)
    {
        using var scope = NewDisposeScope();
        var scores = _similarity.Scores(answers).to_type(float32).cpu().contiguous();
        var rows = new List<long>();
        var cols = new List<long>();
        for (int q = 0; q < answers.Count; q++)
            foreach (var id in ExactMatches(answers[q])) { rows.Add(q); cols.Add(id); }
        if (rows.Count > 0)
        {
            var flat = tensor(rows.ToArray()) * _catalog.Count + tensor(cols.ToArray());
            scores.view(-1).index_fill_(0, flat, ExactScore);
        }
        return scores.MoveToOuterDisposeScope();
    }

    /// <summary>The top <paramref name="topK"/> item ids per answer, best first. <paramref name="exclude"/>
    /// (per answer, e.g. the user's history) removes items from the ranking.</summary>
    public IReadOnlyList<int[]> Ground(IReadOnlyList<string> answers, int topK, IReadOnlyList<IReadOnlyList<int>>? exclude = null)
    {
        if (topK <= 0) throw new ArgumentOutOfRangeException(nameof(topK), topK, "topK must be positive");
        if (exclude is not null && exclude.Count != answers.Count)
            throw new ArgumentException($"{exclude.Count} exclusion lists for {answers.Count} answers", nameof(exclude));
        if (answers.Count == 0) return [];
        using var scope = NewDisposeScope();
        var scores = Scores(answers);
        if (exclude is not null)
            scores = scores.MaskedFill(Models.RecommenderExtensions.ItemMask(exclude, _catalog.Count), float.NegativeInfinity);
        int k = Math.Min(topK, _catalog.Count);
        // A stable descending sort keeps lower ids first among equal scores; topk's tie order is unspecified.
        var (_, order) = scores.sort(dim: 1, descending: true, stable: true);
        var top = order.narrow(1, 0, k).to_type(int32).contiguous().data<int>().ToArray();
        var result = new int[answers.Count][];
        for (int q = 0; q < result.Length; q++)
            result[q] = top.AsSpan(q * k, k).ToArray();
        if (exclude is not null)
            for (int q = 0; q < result.Length; q++)
            {
                // Excluded items sort last at -∞; drop them when the catalog had fewer than k other items.
                var ex = exclude[q].ToHashSet();
                if (result[q].Any(ex.Contains)) result[q] = result[q].Where(id => !ex.Contains(id)).ToArray();
            }
        return result;
    }

    /// <summary>The top <paramref name="topK"/> item ids for one answer.</summary>
    public int[] Ground(string answer, int topK) => Ground([answer], topK)[0];
}
