using RecAlign.Data;
using RecAlign.Prompts;
using RecAlign.Text;
using static TorchSharp.torch;

namespace RecAlign.Models.Language;

/// <summary>
/// A causal LM behind the <see cref="IRecommender"/> contract: each candidate title is scored by
/// log p(" " + title + EOS | prompt), summed (or per token, <see cref="LengthNormalised"/>), with one shared prompt KV
/// cache per question (<see cref="ContinuationScorer"/>). A title LM answers in text, so it has no catalog to rank
/// (<see cref="Catalog"/> is null).
/// </summary>
public sealed class LanguageModelRecommender(LanguageModel model, ITokenizer tokenizer, bool ownsModel = true) : IRecommender
{
    public LanguageModel Model { get; } = model;
    public ITokenizer Tokenizer { get; } = tokenizer;
    public string Name => Model.Config.ModelType;
    public ItemCatalog? Catalog => null;
    /// <summary>Mean log-prob per answer token instead of the sum.</summary>
    public bool LengthNormalised { get; set; }
    /// <summary>Questions prefilled together.</summary>
    public int BatchSize { get; set; } = 8;
    /// <summary>Longer prompts keep their last this-many tokens.</summary>
    public int MaxPromptTokens { get; init; } = 1024;

    public Tensor ScoreCandidates(IReadOnlyList<CandidateQuestion> questions)
    {
        if (BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, "batch size must be ≥ 1");
        int c = questions.Count == 0 ? 0 : questions.Max(q => q.Candidates.Count);
        var scores = new float[questions.Count * c];
        Array.Fill(scores, float.NegativeInfinity);
        var candidateTokens = new Dictionary<string, int[]>(StringComparer.Ordinal);
        int[] Tokens(string title) => candidateTokens.TryGetValue(title, out var t) ? t : candidateTokens[title] = PromptTokenization.Response(Tokenizer, title);
        using var _ = no_grad();
        for (int start = 0; start < questions.Count; start += BatchSize)
        {
            using var scope = NewDisposeScope();
            var batch = questions.Skip(start).Take(BatchSize).ToList();
            var prompts = batch.Select(q => PromptTokenization.Prompt(Tokenizer, q.Prompt, MaxPromptTokens)).ToList();
            var conts = batch.Select(q => (IReadOnlyList<int[]>)q.Candidates.Select(Tokens).ToList()).ToList();
            using var result = ContinuationScorer.Score(Model, prompts, conts, Tokenizer.PadOrEosId());
            var s = LengthNormalised ? result.Sums / result.Lengths.to(ScalarType.Float32) : result.Sums;
            var values = s.cpu().data<float>().ToArray();
            int k = 0;
            for (int i = 0; i < batch.Count; i++)
                for (int j = 0; j < batch[i].Candidates.Count; j++)
                    scores[(start + i) * c + j] = values[k++];
        }
        return tensor(scores, [questions.Count, c]);
    }

    public Tensor ScoreCatalog(IReadOnlyList<IReadOnlyList<int>> histories) =>
        throw new NotSupportedException($"{Name}: a title language model answers in text and ranks candidate lists only; full-catalog ranking needs a recommender with a catalog (a sequential model, or an LM with item tokens)");

    public void Dispose()
    {
        if (ownsModel) Model.Dispose();
    }
}
