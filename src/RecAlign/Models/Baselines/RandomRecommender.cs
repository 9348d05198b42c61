using RecAlign.Data;
using RecAlign.Prompts;
using RecAlign.Randomness;
using static TorchSharp.torch;

namespace RecAlign.Models.Baselines;

/// <summary>Uniformly random scores, seeded: HR@1 ≈ 1/C on C candidates. Needs no item ids, so it scores any question;
/// each call draws afresh from the same seed, so the same questions get the same scores.</summary>
public sealed class RandomRecommender(ulong seed, ItemCatalog? catalog = null) : IRecommender
{
    public string Name => "random";
    public ItemCatalog? Catalog { get; } = catalog;

    public Tensor ScoreCandidates(IReadOnlyList<CandidateQuestion> questions)
    {
        var rng = new Pcg32(seed, 0x5eed);
        int c = questions.Count == 0 ? 0 : questions.Max(q => q.Candidates.Count);
        var scores = new float[questions.Count * c];
        Array.Fill(scores, float.NegativeInfinity);
        for (int i = 0; i < questions.Count; i++)
            for (int j = 0; j < questions[i].Candidates.Count; j++)
                scores[i * c + j] = (float)rng.NextDouble();
        return tensor(scores, [questions.Count, c]);
    }

    public Tensor ScoreCatalog(IReadOnlyList<IReadOnlyList<int>> histories)
    {
        var catalog = Catalog ?? throw new NotSupportedException("a random recommender built without a catalog scores candidate lists only");
        using var generator = new Generator(seed);
        return rand([histories.Count, catalog.Count], generator: generator);
    }

    public void Dispose() { }
}
