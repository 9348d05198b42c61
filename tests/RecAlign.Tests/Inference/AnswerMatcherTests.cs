using RecAlign.Data;
using RecAlign.Evaluation;
using RecAlign.Inference;
using static TorchSharp.torch;

namespace RecAlign.Tests.Inference;

public class AnswerMatcherTests
{
    private static readonly string[] Candidates = ["Love", "Love Story", "The Beatles", "Help!", "Radiohead"];

    [Theory]
    [InlineData("  \"The   BEATLES\". ", "the beatles")]
    [InlineData("“Help!”", "help")]
    [InlineData("'Love Story'?!", "love story")]
    [InlineData("   ", "")]
    [InlineData("Guns N' Roses", "guns n' roses")]
    public void NormalizeTrimsQuotesCaseSpacesAndTrailingPunctuation(string raw, string expected) =>
        Assert.Equal(expected, AnswerMatcher.Normalize(raw));

    [Theory]
    [InlineData("the beatles.", 2, MatchKind.Exact)]
    [InlineData("HELP", 3, MatchKind.Exact)]
    [InlineData("I recommend Love Story by Taylor Swift", 1, MatchKind.Contained)] // "Love" lies inside "Love Story"
    [InlineData("Maybe radiohead would fit", 4, MatchKind.Contained)]
    [InlineData("Lovers", null, MatchKind.None)] // word boundary: "Love" is not in "Lovers"
    [InlineData("Radiohead or The Beatles", null, MatchKind.Ambiguous)]
    [InlineData("", null, MatchKind.None)]
    public void MatchesCandidates(string answer, int? index, MatchKind kind)
    {
        var m = new AnswerMatcher().Match(answer, Candidates);
        Assert.Equal(index, m.Index);
        Assert.Equal(kind, m.Kind);
    }

    [Fact]
    public void AmbiguousAnswersPickTheLongestWhenAllowed()
    {
        var m = new AnswerMatcher { RejectAmbiguous = false }.Match("Radiohead or The Beatles", Candidates);
        Assert.Equal(2, m.Index); // "the beatles" (11 chars) beats "radiohead" (9)
        Assert.Equal(MatchKind.Ambiguous, m.Kind);
    }

    [Fact]
    public void SdpoRuleIsRawSubstringCountingExactlyOne()
    {
        Assert.Equal(4, AnswerMatcher.MatchSdpo("Radiohead", Candidates).Index);
        Assert.Null(AnswerMatcher.MatchSdpo("radiohead", Candidates).Index); // case-sensitive
        Assert.Null(AnswerMatcher.MatchSdpo("Love Story", Candidates).Index); // "Love" and "Love Story" both occur
        Assert.Equal(0, AnswerMatcher.MatchSdpo("Lovers", Candidates).Index); // no word boundaries
    }

    [Fact]
    public void MatchItemsFeedsGeneratedAnswerMetrics()
    {
        var catalog = new ItemCatalog(Candidates.Select((t, i) => new Item(i, $"x{i}", t)));
        var examples = new[]
        {
            new CandidateExample(0, [0], 2, [3, 2, 4]),
            new CandidateExample(1, [1], 4, [4, 0, 1]),
            new CandidateExample(2, [2], 0, [0, 3]),
        };
        var matched = new AnswerMatcher().MatchItems(["The Beatles", "Love", "nothing"], examples, catalog);
        Assert.Equal([2, 0, null], matched);
        var r = Metrics.FromGeneratedAnswers(matched, examples.Select(e => e.Target).ToArray());
        Assert.Equal(1.0 / 3, r["hr1"], 1e-12);
        Assert.Equal(2.0 / 3, r["valid_ratio"], 1e-12);
    }
}

public class CatalogGrounderTests
{
    private static ItemCatalog Catalog() => new(new[]
    {
        "The Matrix (1999)", "The Matrix Reloaded (2003)", "Toy Story (1995)", "Toy Story 2 (1999)", "Heat (1995)", "Toy Story (1995)",
    }.Select((t, i) => new Item(i, $"m{i}", t)));

    [Fact]
    public void ExactMatchesRankFirstThenSimilarTitles()
    {
        var g = new CatalogGrounder(Catalog());
        var top = g.Ground("toy story (1995)", 3);
        Assert.Equal([2, 5, 3], top); // both exact duplicates, in id order, then the nearest title
        var fuzzy = g.Ground("Matrix Reloaded", 2);
        Assert.Equal([1, 0], fuzzy);
    }

    [Fact]
    public void TfIdfSelfSimilarityIsOneAndScoresAreBounded()
    {
        var titles = Catalog().Items.Select(i => i.Title).ToArray();
        var sim = new CharNGramTfIdf(titles, 3);
        using var s = sim.Scores(titles);
        Assert.Equal(new long[] { 6, 6 }, s.shape);
        using var diag = s.diagonal();
        Assert.All(diag.data<float>().ToArray(), v => Assert.Equal(1f, v, 1e-5f));
        Assert.True(s.max().item<float>() <= 1.00001f);
        using var none = sim.Scores(["\u4E2D\u6587"]); // no shared n-grams → all zero
        Assert.Equal(0f, none.abs().sum().item<float>());
    }

    [Fact]
    public void ExclusionRemovesHistoryItems()
    {
        var g = new CatalogGrounder(Catalog());
        var top = g.Ground(["Toy Story (1995)"], 2, [[2, 5]]);
        Assert.Equal(2, top[0].Length);
        Assert.DoesNotContain(2, top[0]);
        Assert.DoesNotContain(5, top[0]);
        Assert.Equal(3, top[0][0]);
    }

    [Fact]
    public void GroundingScoresFeedFullCatalogMetrics()
    {
        var g = new CatalogGrounder(Catalog());
        using var scores = g.Scores(["Heat", "Toy Story 2 (1999)"]);
        var r = Metrics.FromScores(scores, tensor(new long[] { 4, 3 }), [1]);
        Assert.Equal(1.0, r["hr@1"], 1e-12);
    }

    private sealed class LengthEmbedder : ITextEmbedder
    {
        // 2-d toy embedding: (length, 1). Cosine then prefers titles of similar length.
        public Tensor Embed(IReadOnlyList<string> texts) =>
            tensor(texts.SelectMany(t => new[] { (float)t.Length, 10f }).ToArray()).view(texts.Count, 2);
    }

    [Fact]
    public void EmbeddingSimilarityIsPluggable()
    {
        var catalog = Catalog();
        using var sim = new EmbeddingSimilarity(new LengthEmbedder(), catalog.Items.Select(i => i.Title).ToArray());
        var g = new CatalogGrounder(catalog, sim);
        Assert.Equal(4, g.Ground("ab", 1)[0]); // shortest title, "Heat (1995)", is the closest in length
    }
}
