using RecAlign.Numerics;
using RecAlign.Data;
using RecAlign.Prompts;
using static TorchSharp.torch;

namespace RecAlign.Models;

/// <summary>
/// The one contract every recommender answers (LM, sequential models, baselines, hybrids to come), shaped like
/// RecBole's <c>predict</c> / <c>full_sort_predict</c>: evaluation, pipelines and serving rank through it and never
/// ask which kind of model they hold. Higher scores are better; scores are fp32 CPU tensors the caller owns.
/// </summary>
public interface IRecommender : IDisposable
{
    /// <summary>The model's kind as its directory's config names it (<c>SASRec</c>, <c>llama</c>, <c>popularity</c>...).</summary>
    string Name { get; }

    /// <summary>The items <see cref="ScoreCatalog"/> ranks, in id order; null when the model only scores candidate
    /// lists (a title LM: its answers are text).</summary>
    ItemCatalog? Catalog { get; }

    /// <summary>Scores [Q, C] of every question's candidates in the order shown (C = the longest list; shorter lists
    /// are padded with −∞). Id-based models read <see cref="CandidateQuestion.Items"/>, text models the prompt.</summary>
    Tensor ScoreCandidates(IReadOnlyList<CandidateQuestion> questions);

    /// <summary>Scores [B, N] of every item of <see cref="Catalog"/> as the next one after each history (ids of
    /// <see cref="Catalog"/>, oldest first). Throws <see cref="NotSupportedException"/> when <see cref="Catalog"/> is null.</summary>
    Tensor ScoreCatalog(IReadOnlyList<IReadOnlyList<int>> histories);
}

/// <summary>What every <see cref="IRecommender"/> offers on top of the contract.</summary>
public static class RecommenderExtensions
{
    /// <summary>
    /// The top <paramref name="k"/> catalog items after each history, best first: ids [B, k] and scores [B, k].
    /// With <paramref name="excludeHistory"/> the history's items are never recommended (RecBole's full-sort masking).
    /// One batched scoring call and one <c>topk</c>: no per-user loop.
    /// </summary>
    public static (long[,] Ids, float[,] Scores) TopK(this IRecommender recommender, IReadOnlyList<IReadOnlyList<int>> histories, int k,
        bool excludeHistory = true)
    {
        if (recommender.Catalog is null) throw new NotSupportedException($"{recommender.Name} ranks candidate lists only; it has no catalog to retrieve from");
        if (k < 1) throw new ArgumentOutOfRangeException(nameof(k), k, "k must be >= 1");
        using var scores = recommender.ScoreCatalog(histories);
        return TopK(scores, histories, k, excludeHistory);
    }

    /// <summary><see cref="TopK(IRecommender, IReadOnlyList{IReadOnlyList{int}}, int, bool)"/> of catalog scores
    /// [B, N] already computed (<paramref name="scores"/> is left unchanged).</summary>
    public static (long[,] Ids, float[,] Scores) TopK(Tensor scores, IReadOnlyList<IReadOnlyList<int>> histories, int k, bool excludeHistory = true)
    {
        if (k < 1) throw new ArgumentOutOfRangeException(nameof(k), k, "k must be >= 1");
        int n = (int)scores.shape[1];
        k = Math.Min(k, n);
        using var scope = NewDisposeScope();
        var ranked = excludeHistory ? scores.MaskedFill(ItemMask(histories, n), float.NegativeInfinity) : scores;
        var (values, indices) = ranked.topk(k, dim: 1);
        var ids = new long[histories.Count, k];
        var top = new float[histories.Count, k];
        var flatIds = indices.cpu().data<long>().ToArray();
        var flatScores = values.to_type(ScalarType.Float32).cpu().data<float>().ToArray();
        Buffer.BlockCopy(flatIds, 0, ids, 0, flatIds.Length * sizeof(long));
        Buffer.BlockCopy(flatScores, 0, top, 0, flatScores.Length * sizeof(float));
        return (ids, top);
    }

    /// <summary>A bool mask [B, N], true at each row's listed items, built with one scatter.</summary>
    public static Tensor ItemMask(IReadOnlyList<IReadOnlyList<int>> lists, int itemCount)
    {
        int total = lists.Sum(h => h.Count);
        var flat = new long[total];
        int p = 0;
        for (int i = 0; i < lists.Count; i++)
            foreach (var item in lists[i])
            {
                if (item < 0 || item >= itemCount)
                    throw new ArgumentException($"list {i} holds item {item}, outside the catalog [0, {itemCount})", nameof(lists));
                flat[p++] = (long)i * itemCount + item;
            }
        var mask = zeros(lists.Count, itemCount, dtype: ScalarType.Bool);
        if (total == 0) return mask;
        using var index = tensor(flat);
        mask.view(-1).index_fill_(0, index, true);
        return mask;
    }
}
