using RecAlign.Prompts;
using RecAlign.Data;
using RecAlign.Evaluation;
using RecAlign.Inference;

namespace RecAlign.Tests.Evaluation;

public class GenerationMetricsTests
{
    [Fact]
    public void CandidateListsWorkedExample()
    {
        var questions = new[]
        {
            new CandidateQuestion("p", ["Radiohead", "Muse", "Blur"], 1),
            new CandidateQuestion("p", ["Radiohead", "Muse", "Blur"], 0),
            new CandidateQuestion("p", ["Radiohead", "Muse", "Blur"], 2),
            new CandidateQuestion("p", ["Oasis", "Oasis", "Blur"], 1), // duplicated target title
        };
        // hit, wrong pick (valid), no candidate (invalid), hit through the duplicate → hr1 2/4, valid 3/4.
        string[] answers = ["Muse.", "Blur", "I don't know", "oasis"];
        var r = GenerationMetrics.CandidateLists(answers, questions, keepDetails: true);
        Assert.Equal(4, r.N);
        Assert.Equal(0.5, r["hr1"], 1e-12);
        Assert.Equal(0.75, r["valid_ratio"], 1e-12);
        Assert.Equal([true, false, false, true], r.Details!.Select(d => d.Hit!.Value).ToArray());

        // S-DPO's rule: "Muse." contains "Muse" → hit; "oasis" is not a case-sensitive substring → invalid.
        var s = GenerationMetrics.CandidateLists(answers, questions, sdpoRule: true);
        Assert.Equal(0.25, s["hr1"], 1e-12);
        Assert.Equal(0.5, s["valid_ratio"], 1e-12);
    }

    [Fact]
    public void FullCatalogGroundsAnswersAndRanksTargets()
    {
        var catalog = new ItemCatalog(new[] { "Heat (1995)", "Toy Story (1995)", "Toy Story 2 (1999)", "Casino (1995)" }
            .Select((t, i) => new Item(i, $"m{i}", t)));
        var grounder = new CatalogGrounder(catalog);
        // Answer 0 is exactly item 1 (target) → rank 1. Answer 1 grounds to item 1 first, target item 2 second → rank 2;
        // with item 1 in the history it is excluded → rank 1.
        string[] answers = ["toy story (1995)", "Toy Story (1995)"];
        var r = GenerationMetrics.FullCatalog(answers, [1, 2], grounder, [1, 2], batchSize: 1);
        Assert.Equal(0.5, r["hr@1"], 1e-12);
        Assert.Equal(1.0, r["hr@2"], 1e-12);
        Assert.Equal((1 + 1 / Math.Log2(3)) / 2, r["ndcg@2"], 1e-12);
        var h = GenerationMetrics.FullCatalog(answers, [1, 2], grounder, [1], histories: [[], [1]], keepDetails: true);
        Assert.Equal(1.0, h["hr@1"], 1e-12);
        Assert.Equal("Toy Story (1995)", h.Details![1].Answer);
    }
}
