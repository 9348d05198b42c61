using RecAlign.Numerics;
using RecAlign.Data;
using RecAlign.Prompts;
using static TorchSharp.torch;

namespace RecAlign.Models;

/// <summary>
/// Candidate questions read as item ids of one catalog: each question's items are mapped into <paramref name="catalog"/>
/// (the identity when the question was built on the same items, else by title, as candidate files name items) and the
/// candidate ids scored in batches. Candidates the catalog lacks score −∞ (ranked last); history items it lacks are
/// dropped. Every recommender that scores ids goes through it (<see cref="ItemIdRecommender"/>, an item-token LM ranking
/// from the history).
/// </summary>
public sealed class CandidateIds(ItemCatalog catalog, string model)
{
    private readonly Dictionary<ItemCatalog, int[]> _maps = new(ReferenceEqualityComparer.Instance);

    /// <summary>Candidates of the last <see cref="Score"/> call that are not in the catalog.</summary>
    public int Unknown { get; private set; }

    /// <summary>Scores [Q, C] (C = the longest list; shorter lists padded with −∞). <paramref name="score"/> gives the
    /// scores [B, C] of valid candidate ids (int64 [B, C]) after each history, <paramref name="batchSize"/> questions a call.</summary>
    public Tensor Score(IReadOnlyList<CandidateQuestion> questions, int batchSize, Func<IReadOnlyList<IReadOnlyList<int>>, Tensor, Tensor> score)
    {
        int c = questions.Count == 0 ? 0 : questions.Max(q => q.Candidates.Count);
        var result = full(questions.Count, c, float.NegativeInfinity, ScalarType.Float32);
        Unknown = 0;
        for (int start = 0; start < questions.Count; start += batchSize)
        {
            using var scope = NewDisposeScope();
            int n = Math.Min(batchSize, questions.Count - start);
            var histories = new List<IReadOnlyList<int>>(n);
            var ids = new long[n * c];
            Array.Fill(ids, -1L);
            for (int i = 0; i < n; i++)
            {
                var q = questions[start + i];
                var items = q.Items ?? throw new ArgumentException(
                    $"question {start + i} carries no item ids: {model} scores items, so it needs questions built from item ids (sequence tables, candidate files), not text-only prompts");
                var map = Map(items.Catalog);
                histories.Add(items.History.Select(h => map[h]).Where(h => h >= 0).ToArray());
                for (int j = 0; j < items.Candidates.Count; j++)
                {
                    ids[i * c + j] = map[items.Candidates[j]];
                    if (ids[i * c + j] < 0) Unknown++;
                }
            }
            var candidates = tensor(ids, [n, c]);
            var missing = candidates.lt(0);
            var scores = score(histories, candidates.clamp_min(0)).to_type(ScalarType.Float32).cpu().MaskedFill(missing, float.NegativeInfinity);
            result.narrow(0, start, n).copy_(scores);
        }
        return result;
    }

    /// <summary>Each question's candidates as the ids its own items carry, int64 [Q, <paramref name="columns"/>] (−1
    /// where a list is shorter), for questions whose items are ids of a catalog of <paramref name="itemCount"/> items
    /// (e.g. the one item groups cover); <paramref name="purpose"/> says in an error what needs the ids.</summary>
    public static Tensor Matrix(IReadOnlyList<CandidateQuestion> questions, int columns, int itemCount, string purpose)
    {
        var ids = new long[questions.Count * columns];
        Array.Fill(ids, -1L);
        for (int q = 0; q < questions.Count; q++)
        {
            var known = questions[q].Items ?? throw new ArgumentException($"question {q} has no catalog ids (a text-only question): {purpose} needs them");
            if (known.Catalog.Count != itemCount)
                throw new ArgumentException($"question {q} names items of a catalog of {known.Catalog.Count}, but {purpose} needs ids of a catalog of {itemCount} items");
            for (int j = 0; j < known.Candidates.Count && j < columns; j++) ids[q * columns + j] = known.Candidates[j];
        }
        return tensor(ids, [questions.Count, columns]);
    }

    /// <summary>Ids of <paramref name="source"/> as ids of the catalog (−1: not in it).</summary>
    private int[] Map(ItemCatalog source)
    {
        if (!_maps.TryGetValue(source, out var map)) _maps[source] = map = source.MapTo(catalog);
        return map;
    }
}

/// <summary>
/// The shared half of every recommender that reads item ids (sequential models, popularity, transitions): answers
/// <see cref="IRecommender.ScoreCandidates"/> through <see cref="CandidateIds"/>, scoring the candidate ids with
/// <see cref="ScoreItems"/>.
/// </summary>
public abstract class ItemIdRecommender(string name, ItemCatalog catalog) : IRecommender
{
    private readonly CandidateIds _ids = new(catalog, name);

    public string Name { get; } = name;
    public ItemCatalog Catalog { get; } = catalog;
    ItemCatalog? IRecommender.Catalog => Catalog;
    /// <summary>Questions (or histories) scored per call of the model.</summary>
    public int BatchSize { get; init; } = 256;
    /// <summary>Candidates of the last <see cref="ScoreCandidates"/> call that are not in <see cref="Catalog"/>.</summary>
    public int UnknownCandidates => _ids.Unknown;

    /// <summary>Scores [B, C] of valid candidate ids (int64 [B, C], ids of <see cref="Catalog"/>) after each history.</summary>
    protected abstract Tensor ScoreItems(IReadOnlyList<IReadOnlyList<int>> histories, Tensor candidates);

    public abstract Tensor ScoreCatalog(IReadOnlyList<IReadOnlyList<int>> histories);

    public Tensor ScoreCandidates(IReadOnlyList<CandidateQuestion> questions) => _ids.Score(questions, BatchSize, ScoreItems);

    public virtual void Dispose() => GC.SuppressFinalize(this);
}
