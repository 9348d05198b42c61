using RecAlign.Data;
using RecAlign.Evaluation;
using RecAlign.Models;
using RecAlign.Models.Language;
using RecAlign.Models.Language.Generation;
using RecAlign.Prompts;
using RecAlign.Tests.Text;
using RecAlign.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace RecAlign.Tests.Models;

public sealed class ItemTokenLanguageModelTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "recalign-itemlm-" + Guid.NewGuid().ToString("N"));
    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private static (LanguageModel, ItemTokenizer) Make(int items = 6, long seed = 5, bool tied = true)
    {
        var tok = ItemTokenizerTests.Make(items);
        var lm = LanguageModel.Create(LanguageModelTests.TinyConfig(tied: tied) with { VocabSize = tok.VocabSize }, seed);
        return (lm, tok);
    }

    private static List<CandidateQuestion> Questions() =>
    [
        new("History: <item_0>, <item_1>. Candidates: <item_2>, <item_3>. Answer:", ["<item_2>", "<item_3>", "<item_5>"], 1),
        new("History: <item_4>. Answer:", ["<item_0>", "<item_1>"], 0),
        new("a, b <item_3> <item_3>", ["<item_1>", "<item_4>", "<item_3>", "<item_2>"], 2),
    ];

    [Fact]
    public void OneTokenRankingEqualsTheGeneralContinuationScorer()
    {
        var (lm, tok) = Make();
        using (lm)
        {
            var questions = Questions();
            using var rec = new LanguageModelRecommender(lm, tok, ownsModel: false) { BatchSize = 2 };
            using var fast = rec.ScoreCandidates(questions);
            using var _ = no_grad();
            var prompts = questions.Select(q => PromptTokenization.Prompt(tok, q.Prompt)).ToList();
            var conts = questions.Select(q => (IReadOnlyList<int[]>)q.Candidates.Select(c => PromptTokenization.Response(tok, c)).ToList()).ToList();
            Assert.All(conts.SelectMany(c => c), c => Assert.Single(c));
            using var general = ContinuationScorer.Score(lm, prompts, conts, tok.PadOrEosId());
            var g = general.Sums.data<float>().ToArray();
            int k = 0;
            for (int i = 0; i < questions.Count; i++)
                for (int j = 0; j < questions[i].Candidates.Count; j++)
                    Assert.Equal(g[k++], fast[i, j].item<float>(), 1e-4);
            Assert.True(float.IsNegativeInfinity(fast[1, 2].item<float>())); // the shorter list's padding
        }
    }

    [Fact]
    public void TheCatalogIsRankedFromTheHistorysItemTokens_AsTheCandidatePathScoresThem()
    {
        var (lm, tok) = Make();
        using (lm)
        {
            using var rec = new LanguageModelRecommender(lm, tok, ownsModel: false) { BatchSize = 2 };
            Assert.Same(tok.Catalog, rec.Catalog);
            IReadOnlyList<int>[] histories = [[0, 1, 2], [4], [3, 3, 5, 1]];
            using var catalogScores = rec.ScoreCatalog(histories);
            Assert.Equal(new long[] { 3, 6 }, catalogScores.shape);
            var all = Enumerable.Range(0, 6).Select(ItemTokens.Token).ToList();
            var asQuestions = histories.Select(h => new CandidateQuestion(string.Join(" ", h.Select(ItemTokens.Token)), all, 0)).ToList();
            using var candidateScores = rec.ScoreCandidates(asQuestions);
            Assert.True(allclose(catalogScores, candidateScores, rtol: 1e-4, atol: 1e-5));
            // a vocabulary pretrained on windows reads the last items only
            using var windowed = new LanguageModelRecommender(lm, new ItemTokenizer(tok.Inner, tok.Catalog) { HistoryWindow = 2 }, ownsModel: false);
            using var cut = rec.ScoreCatalog([[2, 3], [5, 1]]);
            Assert.True(allclose(windowed.ScoreCatalog([[0, 1, 2, 3], [3, 5, 1]]), cut, rtol: 1e-4, atol: 1e-5));
            // a model pretrained on "<item_k> Title" windows reads the history with its titles, as the history prompt writes it
            using var titled = new LanguageModelRecommender(lm, new ItemTokenizer(tok.Inner, tok.Catalog) { HistoryTitles = true }, ownsModel: false);
            var withTitles = histories.Select(h => new CandidateQuestion(PromptBuilder.SequencePrefix(h.ToList(), tok.Catalog, ItemText.TitleToken), all, 0)).ToList();
            Assert.Contains(tok.Catalog.Title(4), withTitles[1].Prompt);
            Assert.True(allclose(titled.ScoreCatalog(histories), rec.ScoreCandidates(withTitles), rtol: 1e-4, atol: 1e-5));
            Assert.False(allclose(titled.ScoreCatalog(histories), catalogScores, rtol: 1e-4, atol: 1e-5));
            // log-probabilities: the catalog's share of the next-token distribution is at most 1
            Assert.True(catalogScores.exp().sum(1).le(1.0001).all().item<bool>());
        }
    }

    [Fact]
    public void ConstrainedGenerationOnlyEmitsTheListedItemTokens()
    {
        var (lm, tok) = Make(seed: 9);
        using (lm)
        {
            var questions = Questions();
            var result = CandidateEvaluator.Generate(lm, tok, questions, new GenerationConfig { MaxNewTokens = 4 }, constrained: true, keepDetails: true);
            Assert.Equal(1.0, result.Metrics[Metrics.GeneratedPrefix + Metrics.ValidRatioKey]);
            for (int i = 0; i < questions.Count; i++)
                Assert.Contains(result.Details![i].Answer, questions[i].Candidates);
            // greedy over one-token answers is the argmax of the ranking
            using var scores = new LanguageModelRecommender(lm, tok, ownsModel: false).ScoreCandidates(questions);
            var best = scores.argmax(1).data<long>().ToArray();
            for (int i = 0; i < questions.Count; i++)
                Assert.Equal(questions[i].Candidates[(int)best[i]], result.Details![i].Answer);
        }
    }

    [Fact]
    public void RankingFromTheHistoryGathersTheCandidatesFromTheCatalogRanking()
    {
        var (lm, tok) = Make();
        using (lm)
        {
            using var rec = new LanguageModelRecommender(lm, tok, ownsModel: false) { BatchSize = 2, RankFromHistory = true };
            // A question over another catalog holding the same titles in another order: mapped by title.
            var other = new ItemCatalog(tok.Catalog.Items.Reverse().Select((item, i) => new Item(i, "o" + item.ExternalId, item.Title)));
            int Other(int id) => tok.Catalog.Count - 1 - id;
            var questions = new List<CandidateQuestion>
            {
                new("ignored", ["a", "b", "c"], 0) { Items = new QuestionItems(tok.Catalog, [0, 1], [2, 3, 5]) },
                new("ignored", ["a", "b"], 0) { Items = new QuestionItems(other, [Other(4)], [Other(0), Other(1)]) },
            };
            using var scores = rec.ScoreCandidates(questions);
            using var catalog = rec.ScoreCatalog([[0, 1], [4]]);
            Assert.Equal(new long[] { 2, 3 }, scores.shape);
            var s = scores.data<float>().ToArray();
            var full = catalog.data<float>().ToArray();
            int n = tok.Catalog.Count;
            Assert.Equal([full[2], full[3], full[5]], s[..3]);
            Assert.Equal([full[n + 0], full[n + 1]], s[3..5]);
            Assert.True(float.IsNegativeInfinity(s[5])); // the shorter list's padding
        }
    }

    [Fact]
    public void AnItemTokenModelDirectoryLoadsAsARecommenderWithACatalog()
    {
        var (lm, tok) = Make();
        using (lm)
        {
            ModelDirectory.Save(lm, tok, _dir);
            using var expected = new LanguageModelRecommender(lm, tok, ownsModel: false).ScoreCatalog([[1, 2]]);
            using var loaded = Recommenders.Load(_dir);
            var rec = Assert.IsType<LanguageModelRecommender>(loaded);
            Assert.NotNull(rec.Catalog);
            Assert.Equal(6, rec.Catalog!.Count);
            using var scores = rec.ScoreCatalog([[1, 2]]);
            Assert.True(allclose(expected, scores, rtol: 1e-5, atol: 1e-6));
            var top = Enumerable.Range(0, 3).Select(j => rec.TopK([[1, 2]], 3).Ids[0, j]).ToArray();
            Assert.DoesNotContain(1L, top);
            Assert.DoesNotContain(2L, top);
        }
    }

    [Fact]
    public void AddingItemTokensToAModelKeepsItsOldRowsAndStartsEachItemAtItsTitle()
    {
        var catalog = ItemTokenizerTests.Catalog(4);
        var inner = CompactVocabularyTokenizer.Build(["History: a, b.", .. catalog.Items.Select(i => " " + i.Title)]);
        foreach (var tied in new[] { true, false })
        {
            using var lm = LanguageModel.Create(LanguageModelTests.TinyConfig(tied: tied) with { VocabSize = inner.VocabSize + 3 }, seed: 4); // spare rows, as HF checkpoints pad
            var (grown, tok) = ItemTokenEmbeddings.Add(lm, inner, catalog);
            using (grown)
            {
                Assert.Equal(inner.VocabSize + 4, tok.VocabSize);
                Assert.Equal(tok.VocabSize, grown.Config.VocabSize);
                using var _ = no_grad();
                Assert.True(grown.EmbeddingWeight.narrow(0, 0, inner.VocabSize).equal(lm.EmbeddingWeight.narrow(0, 0, inner.VocabSize)).all().item<bool>());
                foreach (var weight in new (Tensor Grown, Tensor Old)[] { (grown.EmbeddingWeight, lm.EmbeddingWeight), (grown.OutputWeight, lm.OutputWeight) })
                    for (int k = 0; k < catalog.Count; k++)
                    {
                        var ids = inner.Encode(" " + catalog.Title(k)).Select(i => (long)i).ToArray();
                        var expected = weight.Old.index_select(0, tensor(ids)).mean([0]);
                        Assert.True(allclose(weight.Grown[tok.ItemTokenId(k)], expected, rtol: 1e-5, atol: 1e-6));
                    }
                // the model's outputs on old tokens are unchanged
                using var ids2 = tensor(new long[,] { { 1, 5, 6, 7 } });
                var oldLogits = lm.Forward(ids2);
                var newLogits = grown.Forward(ids2).narrow(2, 0, inner.VocabSize);
                Assert.True(allclose(oldLogits.narrow(2, 0, inner.VocabSize), newLogits, rtol: 1e-4, atol: 1e-5));
            }
        }
    }
}

[Collection(GlobalTorchRng.Name)] // dropout draws from the process-wide generator
public class HiddenDropoutTests
{
    [Fact]
    public void DropoutActsInTrainingOnly_AndTheConfigKeepsIt()
    {
        var config = LanguageModelTests.TinyConfig() with { HiddenDropout = 0.3 };
        using var plain = LanguageModel.Create(config with { HiddenDropout = 0 }, seed: 2);
        using var dropped = LanguageModel.Create(config, seed: 2);
        using var ids = tensor(new long[,] { { 1, 5, 9, 3, 7 } });
        using var _ = no_grad();
        dropped.eval();
        Assert.True(allclose(plain.Forward(ids), dropped.Forward(ids)));
        dropped.train();
        Assert.False(allclose(plain.Forward(ids), dropped.Forward(ids)));
        var json = config.ToHuggingFaceJson();
        Assert.Equal(0.3, json["hidden_dropout"]!.GetValue<double>());
        Assert.Equal(config, LanguageModelConfig.FromHuggingFaceJson(json));
        Assert.Throws<ArgumentException>(() => (config with { HiddenDropout = 1 }).Validate());
    }
}
