using RecAlign.Alignment;
using RecAlign.Inference;
using RecAlign.Prompts;
using Xunit;
using static TorchSharp.torch;

namespace RecAlign.Tests.Alignment;

public class HardNegativesTests
{
    [Fact]
    public void Rejected_are_the_highest_scored_wrong_candidates_best_first()
    {
        var questions = new List<CandidateQuestion>
        {
            new("p0", ["a", "b", "c", "d"], 1),
            new("p1", ["e", "f", "g", "h"], 0),
        };
        // Row 0: target b scores highest; the wrong ones rank d > a > c. Row 1: the target e is beaten by g.
        using var scores = tensor(new float[] { -2f, 0f, -3f, -1f, -1f, -4f, 0.5f, -2f }, [2, 4]);
        var prefs = HardNegatives.Select(scores, questions, 2);
        Assert.Equal(["d", "a"], prefs[0].Rejected);
        Assert.Equal("b", prefs[0].Chosen);
        Assert.Equal("p0", prefs[0].Prompt);
        Assert.Equal(["g", "h"], prefs[1].Rejected);
        Assert.Equal("e", prefs[1].Chosen);
    }

    [Fact]
    public void Padded_slots_and_duplicate_titles_are_skipped()
    {
        var questions = new List<CandidateQuestion>
        {
            new("p", ["x", "y", "y", "z"], 0),
            new("q", ["u", "v"], 1), // shorter list: slots 2 and 3 are padding
        };
        using var scores = tensor(new float[] { 0f, 5f, 4f, 1f, 1f, 0f, float.NegativeInfinity, float.NegativeInfinity }, [2, 4]);
        var prefs = HardNegatives.Select(scores, questions, 1);
        Assert.Equal(["y"], prefs[0].Rejected);
        Assert.Equal(["u"], prefs[1].Rejected);
        var two = HardNegatives.Select(scores[..1], questions.Take(1).ToList(), 2);
        Assert.Equal(["y", "z"], two[0].Rejected);
    }

    [Fact]
    public void Too_few_negatives_or_mismatched_scores_are_clear_errors()
    {
        var questions = new List<CandidateQuestion> { new("p", ["a", "b"], 0) };
        using var scores = tensor(new float[] { 1f, 0f }, [1, 2]);
        Assert.Contains("1 negatives", Assert.Throws<ArgumentException>(() => HardNegatives.Select(scores, questions, 2)).Message);
        using var wrong = zeros(2, 2);
        Assert.Contains("questions=1", Assert.Throws<ArgumentException>(() => HardNegatives.Select(wrong, questions, 1)).Message);
    }

    [Fact]
    public void Generated_answers_lead_the_rejected_list_only_when_wrong()
    {
        var hard = new List<PreferenceExample>
        {
            new("p0", "Target A", ["X", "Y", "Z"]),
            new("p1", "Target B", ["X", "Y", "Z"]),
            new("p2", "Target C", ["X", "Y", "Z"]),
            new("p3", "Target D", ["X", "Y", "Z"]),
        };
        // off-list answer; a correct one (case and quotes differ); a listed wrong one; nothing
        var got = HardNegatives.WithGeneratedAnswers(hard, ["Burning Window", "\"target b\"", " y ", ""]);
        Assert.Equal(["Burning Window", "X", "Y"], got[0].Rejected);
        Assert.Equal(["X", "Y", "Z"], got[1].Rejected);
        Assert.Equal(["y", "X", "Z"], got[2].Rejected);
        Assert.Equal(["X", "Y", "Z"], got[3].Rejected);
        Assert.Throws<ArgumentException>(() => HardNegatives.WithGeneratedAnswers(hard, ["a"]));
    }
}
