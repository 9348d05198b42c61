using RecAlign.Data;
using RecAlign.Prompts;
using RecAlign.Text;
using static TorchSharp.torch;

namespace RecAlign.Models.Language;

/// <summary>
/// A causal LM behind the <see cref="IRecommender"/> contract: each candidate answer is scored by
/// log p(" " + answer + EOS | prompt), summed (or per token, <see cref="LengthNormalised"/>), with one shared prompt KV
/// cache per question (<see cref="ContinuationScorer"/>). With item tokens (<see cref="ItemTokenizer"/>) an answer is
/// one token, so one forward per prompt scores every candidate (the same log-probability, one softmax), and the model
/// has a catalog: <see cref="ScoreCatalog"/> ranks every item after a prompt of the history's item tokens (the
/// pretraining format). A title LM answers in text and has no catalog (<see cref="Catalog"/> is null).
/// </summary>
public sealed class LanguageModelRecommender(LanguageModel model, ITokenizer tokenizer, bool ownsModel = true) : IRecommender
{
    public LanguageModel Model { get; } = model;
    public ITokenizer Tokenizer { get; } = tokenizer;
    public string Name => Model.Config.ModelType;
    public ItemCatalog? Catalog => (Tokenizer as ItemTokenizer)?.Catalog;
    /// <summary>Mean log-prob per answer token instead of the sum.</summary>
    public bool LengthNormalised { get; set; }
    /// <summary>Questions prefilled together.</summary>
    public int BatchSize { get; set; } = 8;
    /// <summary>Longer prompts keep their last this-many tokens.</summary>
    public int MaxPromptTokens { get; init; } = 1024;
    /// <summary>With item tokens: rank a question's candidates by the next-item distribution after its history alone
    /// (<see cref="ScoreCatalog"/>'s prompt, the pretraining format), as a sequential model ranks them, instead of by
    /// the question's prompt. Questions must carry their items (<see cref="CandidateQuestion.Items"/>).</summary>
    public bool RankFromHistory { get; set; }

    private CandidateIds? _ids;

    /// <summary>Prompt tokens that leave room for an answer of <paramref name="answerTokens"/> tokens within
    /// max_position_embeddings (the answer's last token is never fed), capped by <see cref="MaxPromptTokens"/>.</summary>
    private int PromptBudget(int answerTokens)
    {
        int budget = Math.Min(MaxPromptTokens, Model.Config.MaxPositionEmbeddings - answerTokens + 1);
        return budget >= 2 ? budget
            : throw new ArgumentException($"an answer of {answerTokens} tokens does not fit the model's {Model.Config.MaxPositionEmbeddings} positions");
    }

    public Tensor ScoreCandidates(IReadOnlyList<CandidateQuestion> questions)
    {
        if (BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, "batch size must be ≥ 1");
        if (RankFromHistory) return ScoreCandidatesFromHistory(questions);
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
            var conts = batch.Select(q => q.Candidates.Select(Tokens).ToList()).ToList();
            // Prompt and answer must fit the model's positions: longer prompts keep their end, as in training.
            var prompts = batch.Select((q, i) => PromptTokenization.Prompt(Tokenizer, q.Prompt, PromptBudget(conts[i].Max(t => t.Length)))).ToList();
            if (conts.All(list => list.All(t => t.Length == 1)))
            {
                // One-token answers: log p(answer | prompt) is the prompt's last log-softmax, read at each candidate.
                var logProbs = LastPositionLogProbs(prompts).data<float>().ToArray();
                int v = (int)(logProbs.Length / Math.Max(1, batch.Count));
                for (int i = 0; i < batch.Count; i++)
                    for (int j = 0; j < conts[i].Count; j++)
                        scores[(start + i) * c + j] = logProbs[i * v + conts[i][j][0]];
                continue;
            }
            using var result = ContinuationScorer.Score(Model, prompts, conts.Select(l => (IReadOnlyList<int[]>)l).ToList(), Tokenizer.PadOrEosId());
            var s = LengthNormalised ? result.Sums / result.Lengths.to(ScalarType.Float32) : result.Sums;
            var values = s.cpu().data<float>().ToArray();
            int k = 0;
            for (int i = 0; i < batch.Count; i++)
                for (int j = 0; j < batch[i].Candidates.Count; j++)
                    scores[(start + i) * c + j] = values[k++];
        }
        return tensor(scores, [questions.Count, c]);
    }

    /// <summary>log p(item | history) for every catalog item [B, N]: the prompt is BOS and the history's item tokens (its
    /// last <see cref="ItemTokenizer.HistoryWindow"/>, or <see cref="MaxPromptTokens"/> − 1), each followed by its title
    /// with <see cref="ItemTokenizer.HistoryTitles"/>: the text the model was pretrained on.</summary>
    public Tensor ScoreCatalog(IReadOnlyList<IReadOnlyList<int>> histories)
    {
        if (Tokenizer is not ItemTokenizer items)
            throw new NotSupportedException($"{Name}: a title language model answers in text and ranks candidate lists only; full-catalog ranking needs a recommender with a catalog (a sequential model, or an LM with item tokens: pipeline.item_text=token)");
        if (BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, "batch size must be ≥ 1");
        int n = items.Catalog.Count;
        var result = empty(histories.Count, n, ScalarType.Float32);
        using var _ = no_grad();
        for (int start = 0; start < histories.Count; start += BatchSize)
        {
            using var scope = NewDisposeScope();
            int b = Math.Min(BatchSize, histories.Count - start);
            var prompts = new List<int[]>(b);
            for (int i = start; i < start + b; i++)
            {
                var h = histories[i];
                int keep = Math.Min(h.Count, items.HistoryWindow > 0 ? items.HistoryWindow : MaxPromptTokens - 1);
                var ids = new List<int>(keep + 1);
                if (Tokenizer.BosId is { } bos) ids.Add(bos);
                if (items.HistoryTitles)
                {
                    // "<item_k> Title ..." as pretraining wrote it, its latest tokens when it outgrows the prompt budget
                    var text = Tokenizer.Encode(PromptBuilder.Sequence(h.Skip(h.Count - keep), items.Catalog, ItemText.TitleToken));
                    ids.AddRange(text.Length > MaxPromptTokens - ids.Count ? text[^(MaxPromptTokens - ids.Count)..] : text);
                }
                else
                    for (int j = h.Count - keep; j < h.Count; j++) ids.Add(items.ItemTokenId(h[j]));
                if (ids.Count == 0) throw new ArgumentException("a tokenizer without BOS needs a non-empty history to rank the catalog");
                prompts.Add([.. ids]);
            }
            result.narrow(0, start, b).copy_(LastPositionLogProbs(prompts).narrow(1, items.FirstItemId, n));
        }
        return result;
    }

    private Tensor ScoreCandidatesFromHistory(IReadOnlyList<CandidateQuestion> questions)
    {
        var catalog = Catalog ?? throw new NotSupportedException($"{Name}: ranking candidates from the history needs item tokens (a title LM reads its prompt)");
        _ids ??= new CandidateIds(catalog, Name);
        return _ids.Score(questions, BatchSize, (histories, candidates) => ScoreCatalog(histories).gather(1, candidates));
    }

    /// <summary>fp32 log-softmax of the next token after each (left-padded) prompt: [B, V] on the CPU.</summary>
    private Tensor LastPositionLogProbs(IReadOnlyList<int[]> prompts)
    {
        using var scope = NewDisposeScope();
        int b = prompts.Count;
        var (ids, mask, len) = ContinuationScorer.LeftPad(prompts, Tokenizer.PadOrEosId());
        var device = Model.Device;
        bool padded = prompts.Any(p => p.Length != len);
        var hidden = Model.Hidden(tensor(ids, [b, len], device: device), padded ? tensor(mask, [b, len], device: device) : null);
        var last = hidden.select(1, len - 1);
        return Model.Logits(last).to(ScalarType.Float32).log_softmax(-1).cpu().MoveToOuterDisposeScope();
    }

    public void Dispose()
    {
        if (ownsModel) Model.Dispose();
    }
}
