using RecAlign.Data;
using RecAlign.Evaluation;
using RecAlign.Inference;
using RecAlign.Models.Language;
using RecAlign.Tests.Models;
using RecAlign.Text;
using static TorchSharp.torch;

namespace RecAlign.Tests.Inference;

/// <summary>Catalog grounding with each <see cref="Grounding"/>: exact title first, then the nearest title over the
/// whole catalog by the chosen similarity, on the whole answer (CausalDPO's evaluation grounded the answer's first
/// character and cut titles at "," and ".").</summary>
public class GroundingTests
{
    private static readonly string[] Titles =
        ["Toy Story", "Lion King", "Lion King, The", "Dark Knight, The", "Titanic", "Heat", "Tommy Boy", "Knight and Day", "Lion of the Desert"];

    private static ItemCatalog Movies() => new(Titles.Select((t, i) => new Item(i, $"m{i}", t)));

    private static ITitleSimilarity MiniLm()
    {
        var sim = TitleSimilarities.Create(Grounding.MiniLm, Titles, out var used, out var fallback, required: true);
        Assert.Equal((Grounding.MiniLm, (string?)null), (used, fallback)); // the package's ONNX model runs on this machine
        return sim;
    }

    [Fact]
    public void MiniLm_ExactTitleFirst_ThenNearestWholeAnswerByEmbedding()
    {
        using var sim = (EmbeddingSimilarity)MiniLm();
        var g = new CatalogGrounder(Movies(), sim);
        // Exact (case-insensitive, white space collapsed) wins, even over a near-identical title.
        Assert.Equal(2, g.Ground("  lion   KING, the ", 1)[0]);
        Assert.Equal(1, g.Ground("Lion King", 1)[0]);
        // No exact title: the whole multi-word answer is embedded. Its first character "T" alone would ground to
        // "Heat" (the released evaluate.py's bug); the whole answer finds the film.
        Assert.Equal(3, g.Ground("The Dark Knight", 1)[0]);
        Assert.Equal(3, g.Ground("Batman: The Dark Knight (2008)", 1)[0]);
        Assert.Equal(0, g.Ground("I would recommend Toy Story next.", 1)[0]);
        Assert.NotEqual(3, g.Ground("T", 1)[0]);
        // A full ranking of the catalog for HR/NDCG@K: every item gets a score, the exact match above any cosine.
        using var scores = g.Scores(["Lion King, The", "The Dark Knight"]);
        Assert.Equal(new long[] { 2, Titles.Length }, scores.shape);
        Assert.Equal(CatalogGrounder.ExactScore, scores[0, 2].item<float>());
        var r = Metrics.FromScores(scores, tensor(new long[] { 2, 3 }), [1]);
        Assert.Equal(1.0, r["hr@1"]);
    }

    [Fact]
    public void TitlesAreNeverCutAtCommasOrFullStops()
    {
        // Cut at "," (inference.py), "Lion King, The" became "Lion King": a different catalog item.
        using var sim = MiniLm() as IDisposable;
        foreach (var similarity in new[] { (ITitleSimilarity)sim!, new CharNGramTfIdf(Titles, 3), new NoSimilarity(Titles.Length) })
        {
            var g = new CatalogGrounder(Movies(), similarity);
            Assert.Equal(2, g.Ground("Lion King, The", 1)[0]);
            Assert.Equal(2, g.Ground("Lion King, The.", 1)[0]); // a trailing full stop is punctuation, not a cut
        }
        var answers = GenerationMetrics.FullCatalog(["Lion King, The"], [2], new CatalogGrounder(Movies()), [1], keepDetails: true);
        Assert.Equal("Lion King, The", answers.Details![0].Answer);
        Assert.Equal(1.0, answers["hr@1"]);
    }

    [Fact]
    public void ExactGrounding_RanksOnlyExactTitles()
    {
        var g = new CatalogGrounder(Movies(), TitleSimilarities.Create(Grounding.Exact, Titles, out _, out _));
        var r = GenerationMetrics.FullCatalog(["heat", "a heat wave"], [5, 5], g, [1, 9]);
        Assert.Equal(0.5, r["hr@1"]); // the second answer names no title: every item ties, the target ranks last
        Assert.Equal(1.0, r["hr@9"]);
        Assert.Equal(0.5, r["valid_ratio"]);
    }

    [Fact]
    public void MiniLmEmbeddings_AreUnitLength_AndIndependentOfBatching()
    {
        using var embedder = new MiniLmEmbedder(threads: 1, batchSize: 4);
        using var all = embedder.Embed(Titles);
        Assert.Equal(new long[] { Titles.Length, MiniLmEmbedder.Dimension }, all.shape);
        using var norms = all.norm(1);
        Assert.All(norms.data<float>().ToArray(), n => Assert.Equal(1f, n, 1e-4f));
        using var one = embedder.Embed([Titles[5]]);
        Assert.True((all[5] - one[0]).abs().max().item<float>() < 1e-4f);
        using var none = embedder.Embed([]);
        Assert.Equal(new long[] { 0, MiniLmEmbedder.Dimension }, none.shape);
    }

    [Fact]
    public void LanguageModelEmbedder_MeanPoolsRealTokensOnly()
    {
        var tokenizer = CompactVocabularyTokenizer.Build(Titles);
        using var lm = LanguageModel.Create(LanguageModelTests.TinyConfig() with { VocabSize = tokenizer.VocabSize }, seed: 3);
        var embedder = new LanguageModelEmbedder(lm, tokenizer);
        using var padded = embedder.Embed(["Heat", "Lion of the Desert"]);
        using var alone = embedder.Embed(["Heat"]);
        Assert.Equal(new long[] { 2, lm.Config.HiddenSize }, padded.shape);
        Assert.True((padded[0] - alone[0]).abs().max().item<float>() < 1e-4f); // padding never enters the mean
        using var sim = new EmbeddingSimilarity(embedder, Titles);
        Assert.Equal(5, new CatalogGrounder(Movies(), sim).Ground("Heat", 1)[0]);
    }
}
