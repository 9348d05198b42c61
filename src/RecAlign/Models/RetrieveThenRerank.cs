using RecAlign.Numerics;
using RecAlign.Data;
using RecAlign.Prompts;
using static TorchSharp.torch;

namespace RecAlign.Models;

/// <summary>
/// Two recommenders composed through the contract: <paramref name="retriever"/> picks the top <paramref name="depth"/>
/// catalog items (history masked), <paramref name="reranker"/> orders them (e.g. SASRec retrieves 50, the LM re-ranks).
/// The full-catalog ranking puts the re-ranked items first, in the re-ranker's order, and the rest after them in the
/// retriever's order, so it is evaluated like any model. <paramref name="ask"/> turns (history, retrieved ids) into the
/// re-ranker's question (e.g. a prompt listing the retrieved titles).
/// </summary>
public sealed class RetrieveThenRerank(IRecommender retriever, IRecommender reranker, int depth,
    Func<IReadOnlyList<int>, IReadOnlyList<int>, CandidateQuestion> ask) : IRecommender
{
    public string Name => $"{retriever.Name}→{reranker.Name}";
    public ItemCatalog? Catalog => retriever.Catalog;
    public int Depth { get; } = depth >= 1 ? depth : throw new ArgumentOutOfRangeException(nameof(depth), depth, "depth must be >= 1");

    /// <summary>Given candidate lists need no retrieval: the re-ranker orders them.</summary>
    public Tensor ScoreCandidates(IReadOnlyList<CandidateQuestion> questions) => reranker.ScoreCandidates(questions);

    public Tensor ScoreCatalog(IReadOnlyList<IReadOnlyList<int>> histories)
    {
        using var scope = NewDisposeScope();
        var catalog = Catalog ?? throw new NotSupportedException($"{retriever.Name} has no catalog to retrieve from");
        var scores = retriever.ScoreCatalog(histories).to_type(ScalarType.Float32);
        var (ids, _) = RecommenderExtensions.TopK(scores, histories, Depth); // one scoring pass serves retrieval and the ranking
        int k = ids.GetLength(1);
        var questions = new List<CandidateQuestion>(histories.Count);
        for (int b = 0; b < histories.Count; b++)
        {
            var row = new int[k];
            for (int j = 0; j < k; j++) row[j] = (int)ids[b, j];
            questions.Add(ask(histories[b], row));
        }
        var rerank = reranker.ScoreCandidates(questions);                              // [B, k]
        // Re-ranked block above everything else: offset (row max + 1) + k − (position in the re-ranker's order).
        var order = rerank.argsort(1, descending: true).argsort(1).to_type(ScalarType.Float32);
        var offset = scores.MaskedFill(scores.isinf(), float.MinValue).amax([1], keepdim: true) + 1;
        var value = offset + (k - order);
        var flatIds = new long[histories.Count * k];
        Buffer.BlockCopy(ids, 0, flatIds, 0, flatIds.Length * sizeof(long));
        scores.scatter_(1, tensor(flatIds, [histories.Count, k]), value);
        return scores.MoveToOuterDisposeScope();
    }

    public void Dispose() { }
}
