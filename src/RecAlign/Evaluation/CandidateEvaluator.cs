using RecAlign.Inference;
using RecAlign.Models.Language;
using RecAlign.Models.Language.Generation;
using RecAlign.Prompts;
using RecAlign.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace RecAlign.Evaluation;

/// <summary>
/// Likelihood ranking of candidate lists: every candidate title is scored by log p(title + EOS | prompt), summed and
/// length-normalised, with one shared prompt KV cache per question (<see cref="ContinuationScorer"/>). Gives a full
/// ranking of each list, so HR@1 (= hr1; valid_ratio is 1 by construction), HR@K, NDCG@K and MRR.
/// </summary>
public static class CandidateEvaluator
{
    public static readonly IReadOnlyList<int> DefaultKs = [1, 3, 5, 10];

    /// <summary>Scores [N, C] for every question (C = the largest list; shorter lists are padded with −∞).</summary>
    public static Tensor Score(LanguageModel lm, ITokenizer tokenizer, IReadOnlyList<CandidateQuestion> questions,
        bool lengthNormalised = false, int batchSize = 8, int maxPromptTokens = 1024)
    {
        CheckBatchSize(batchSize);
        return new LanguageModelRecommender(lm, tokenizer, ownsModel: false)
            { LengthNormalised = lengthNormalised, BatchSize = batchSize, MaxPromptTokens = maxPromptTokens }.ScoreCandidates(questions);
    }

    /// <summary>Rank-mode metrics: hr1, valid_ratio (always 1), hr@K, ndcg@K, mrr.</summary>
    public static EvaluationResult Rank(LanguageModel lm, ITokenizer tokenizer, IReadOnlyList<CandidateQuestion> questions,
        bool lengthNormalised = false, int batchSize = 8, IReadOnlyList<int>? ks = null)
    {
        using var scores = Score(lm, tokenizer, questions, lengthNormalised, batchSize);
        return FromScores(scores, questions, ks);
    }

    /// <summary>
    /// Generate-mode metrics as S-DPO computes them: the model writes an answer (greedy or beam, optionally constrained
    /// to the candidate titles by a token trie), the answer is matched to a candidate by <see cref="AnswerMatcher"/>;
    /// hr1 = answers matching the target, valid_ratio = answers matching any candidate.
    /// </summary>
    public static EvaluationResult Generate(LanguageModel lm, ITokenizer tokenizer, IReadOnlyList<CandidateQuestion> questions,
        GenerationConfig? generation = null, bool constrained = false, int batchSize = 16, bool keepDetails = false,
        int maxPromptTokens = 1024, bool sdpoRule = false)
    {
        var answers = GenerateAnswers(lm, tokenizer, questions, generation, constrained, batchSize, maxPromptTokens);
        return GenerationMetrics.CandidateLists(answers, questions, sdpoRule: sdpoRule, keepDetails: keepDetails).WithPrefix(Metrics.GeneratedPrefix);
    }

    /// <summary>
    /// Open generation grounded to the full catalog (as BIGRec/CausalDPO evaluate): the whole free answer is mapped to
    /// catalog items by exact title, then by title similarity (the <paramref name="grounder"/>'s), giving a ranking of
    /// the whole catalog; <c>hr1</c> (HR@1 over the catalog), <c>valid_ratio</c> (answers naming a catalog item
    /// exactly), HR@K, NDCG@K, MRR and ORRatio@K against the true item (see <see cref="GenerationMetrics.FullCatalog"/>:
    /// a target missing from the universe is a miss). <paramref name="catalog"/> is the ranking universe the grounder
    /// was built on (e.g. CausalDPO's <c>ood_id2name.txt</c>).
    /// </summary>
    public static EvaluationResult GroundedCatalog(LanguageModel lm, ITokenizer tokenizer, IReadOnlyList<CandidateQuestion> questions,
        CatalogGrounder grounder, Data.ItemCatalog catalog, GenerationConfig? generation = null, int batchSize = 16, IReadOnlyList<int>? ks = null)
    {
        var targets = TargetsInCatalog(questions, catalog);
        var answers = GenerateAnswers(lm, tokenizer, questions, generation, constrained: false, batchSize, 1024);
        return GenerationMetrics.FullCatalog(answers, targets.Ids, grounder, ks ?? [1, 5, 10, 20]).WithPrefix(Metrics.CatalogPrefix);
    }

    /// <summary>Targets of candidate questions in a ranking universe: ids of it, −1 where a target title is not in it.</summary>
    public sealed record CatalogTargets(IReadOnlyList<int> Ids, IReadOnlyList<string> Missing)
    {
        /// <summary>A one-line account of the missing targets (null when none is).</summary>
        public string? Warning(int total, int catalogItems) => Missing.Count == 0 ? null
            : $"{Missing.Count} of {total} target titles are not in the catalog of {catalogItems} items " +
              $"(e.g. {string.Join(", ", Missing.Distinct().Take(3).Select(t => $"'{t}'"))}); they count as misses in HR/NDCG/MRR, " +
              "which divide by all samples as CausalDPO's do, and are left out of ORRatio";
    }

    /// <summary>Each question's target as an id of <paramref name="catalog"/> (exact title), −1 where it is not in it;
    /// an error when no target at all is (surely the wrong universe).</summary>
    public static CatalogTargets TargetsInCatalog(IReadOnlyList<CandidateQuestion> questions, Data.ItemCatalog catalog)
    {
        var ids = new int[questions.Count];
        var missing = new List<string>();
        for (int i = 0; i < ids.Length; i++)
        {
            if (catalog.TryGetByTitle(questions[i].Target, out var id)) ids[i] = id;
            else { ids[i] = -1; missing.Add(questions[i].Target); }
        }
        if (questions.Count > 0 && missing.Count == questions.Count)
            throw new ArgumentException($"none of the {questions.Count} target titles is in the catalog of {catalog.Count} items " +
                $"(e.g. {string.Join(", ", missing.Distinct().Take(3).Select(t => $"'{t}'"))}); is it the catalog of these candidates?");
        return new CatalogTargets(ids, missing);
    }

    private static void CheckBatchSize(int batchSize)
    {
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "batch size must be ≥ 1");
    }

    private static List<string> GenerateAnswers(LanguageModel lm, ITokenizer tokenizer, IReadOnlyList<CandidateQuestion> questions,
        GenerationConfig? generation, bool constrained, int batchSize, int maxPromptTokens)
    {
        CheckBatchSize(batchSize);
        var config = (generation ?? new GenerationConfig { MaxNewTokens = 32 }) with
        {
            EosTokenId = tokenizer.StopIds().ToList(),
            PadTokenId = tokenizer.PadOrEosId(),
        };
        var answers = new List<string>(questions.Count);
        using var _ = no_grad();
        for (int start = 0; start < questions.Count; start += batchSize)
        {
            var batch = questions.Skip(start).Take(batchSize).ToList();
            // Room for the generated answer within the model's positions: longer prompts keep their end.
            int budget = Math.Min(maxPromptTokens, lm.Config.MaxPositionEmbeddings - config.MaxNewTokens);
            if (budget < 2) throw new ArgumentException($"max_new_tokens ({config.MaxNewTokens}) leaves no room for a prompt in the model's {lm.Config.MaxPositionEmbeddings} positions");
            var prompts = batch.Select(q => PromptTokenization.Prompt(tokenizer, q.Prompt, budget)).ToList();
            IReadOnlyList<TokenTrie?>? tries = constrained
                ? batch.Select(q => (TokenTrie?)new TokenTrie(q.Candidates.Select(c => (IReadOnlyList<int>)PromptTokenization.Response(tokenizer, c)))).ToList()
                : null;
            var result = Models.Language.Generation.Generator.Generate(lm, prompts, config, tries, ids => tokenizer.Decode(ids));
            for (int i = 0; i < batch.Count; i++)
                answers.Add(tokenizer.Decode(result.Best(i).Tokens));
        }
        return answers;
    }

    public static EvaluationResult FromScores(Tensor scores, IReadOnlyList<CandidateQuestion> questions, IReadOnlyList<int>? ks = null)
    {
        using var targets = tensor(questions.Select(q => (long)q.TargetIndex).ToArray());
        var result = Metrics.FromScores(scores, targets, ks ?? DefaultKs);
        var extra = new Dictionary<string, double>
        {
            [Metrics.HitRatioAt1Key] = result[Metrics.HitRatioKey(1)],
            [Metrics.ValidRatioKey] = 1.0,
        };
        return result.Merge(new EvaluationResult(result.N, extra));
    }
}
