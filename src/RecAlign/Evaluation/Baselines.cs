using RecAlign.Prompts;
using RecAlign.Data;
using RecAlign.Inference;
using static TorchSharp.torch;

namespace RecAlign.Evaluation;

/// <summary>Ground-truth reference points for candidate-list evaluation, scored through the same metrics as every model
/// (the learned-free baselines, random, popularity and transitions, are recommenders: <c>Models/Baselines</c>).</summary>
public static class Baselines
{
    /// <summary>Scores each candidate with a ground-truth scorer, e.g. a synthetic world's true next-item logit: the
    /// Bayes-optimal ranking, the ceiling every learned model is measured against. <paramref name="examples"/> are the
    /// questions' source examples, in the same order and with the candidates in the order shown.</summary>
    public static IReadOnlyDictionary<string, double> Oracle(IReadOnlyList<CandidateQuestion> questions, IReadOnlyList<CandidateExample> examples,
        Func<CandidateExample, int, double> score)
    {
        if (examples.Count != questions.Count)
            throw new ArgumentException($"{examples.Count} examples for {questions.Count} questions", nameof(examples));
        for (int i = 0; i < questions.Count; i++)
            if (examples[i].Candidates.Count != questions[i].Candidates.Count)
                throw new ArgumentException($"example {i} has {examples[i].Candidates.Count} candidates, its question {questions[i].Candidates.Count}", nameof(examples));
        return Ranked(questions, (i, j) => score(examples[i], examples[i].Candidates[j]));
    }

    /// <summary>The metrics of ranking each question's candidates by <paramref name="score"/>(question, candidate),
    /// called in question then candidate order; shorter lists are padded with −∞.</summary>
    private static IReadOnlyDictionary<string, double> Ranked(IReadOnlyList<CandidateQuestion> questions, Func<int, int, double> score)
    {
        int c = questions.Max(q => q.Candidates.Count);
        var scores = new float[questions.Count * c];
        Array.Fill(scores, float.NegativeInfinity);
        for (int i = 0; i < questions.Count; i++)
            for (int j = 0; j < questions[i].Candidates.Count; j++)
                scores[i * c + j] = (float)score(i, j);
        using var t = tensor(scores, [questions.Count, c]);
        return CandidateEvaluator.FromScores(t, questions).Metrics;
    }
}
