using RecAlign.Inference;
using RecAlign.Prompts;
using TorchSharp;
using static TorchSharp.torch;

namespace RecAlign.Alignment;

/// <summary>How the rejected responses of a preference example are picked from its candidate list.</summary>
public enum RejectedSelection
{
    /// <summary>A uniform subset of the other candidates, seeded per example (the S-DPO paper's choice).</summary>
    Random,
    /// <summary>The other candidates the starting (SFT) model scores highest: the mistakes alignment should fix.</summary>
    Hard,
    /// <summary>The starting model's own greedy answer when it is wrong (often a title that is not in the list), then
    /// its hard listed negatives: teaches "a listed title over the one you would have written".</summary>
    Generated,
}

/// <summary>
/// On-policy hard negatives: for each candidate question, rejected = the k wrong candidates a model ranks highest
/// (given its [N, C] candidate scores, e.g. from <c>CandidateEvaluator.Score</c>). With uniform negatives most pairs are
/// already far apart and DPO mostly pushes every non-target title down, which sharpens popularity; the model's own
/// top wrong answers put the gradient on the confusions that decide HR@1.
/// </summary>
public static class HardNegatives
{
    public static List<PreferenceExample> Select(Tensor scores, IReadOnlyList<CandidateQuestion> questions, int k)
    {
        if (k < 1) throw new ArgumentException($"rejected count must be >= 1, got {k}");
        if (scores.dim() != 2 || scores.shape[0] != questions.Count)
            throw new ArgumentException($"scores must be [questions={questions.Count}, candidates], got [{string.Join(", ", scores.shape)}]");
        using var scope = NewDisposeScope();
        // Best first; padded slots hold -inf and so come last.
        var order = scores.to(ScalarType.Float32).cpu().argsort(dim: 1, descending: true).to(ScalarType.Int32);
        int c = (int)scores.shape[1];
        var flat = order.data<int>().ToArray();
        var result = new List<PreferenceExample>(questions.Count);
        for (int i = 0; i < questions.Count; i++)
        {
            var q = questions[i];
            var rejected = new List<string>(k);
            for (int r = 0; r < c && rejected.Count < k; r++)
            {
                int j = flat[i * c + r];
                if (j >= q.Candidates.Count) continue;
                var title = q.Candidates[j];
                if (title != q.Target && !rejected.Contains(title, StringComparer.Ordinal)) rejected.Add(title);
            }
            if (rejected.Count < k)
                throw new ArgumentException($"question {i}: {rejected.Count} negatives in its candidate list, {k} rejected requested");
            result.Add(new PreferenceExample(q.Prompt, q.Target, rejected));
        }
        return result;
    }

    /// <summary>Puts each example's generated answer first among its rejected responses when it is a wrong, non-empty
    /// answer (compared after <see cref="AnswerMatcher.Normalize"/>), keeping the count: the last hard negative makes room.</summary>
    public static List<PreferenceExample> WithGeneratedAnswers(IReadOnlyList<PreferenceExample> hard, IReadOnlyList<string> answers)
    {
        if (answers.Count != hard.Count) throw new ArgumentException($"{answers.Count} answers for {hard.Count} examples");
        var result = new List<PreferenceExample>(hard.Count);
        for (int i = 0; i < hard.Count; i++)
        {
            var e = hard[i];
            var answer = answers[i].Trim();
            var key = AnswerMatcher.Normalize(answer);
            if (key.Length == 0 || key == AnswerMatcher.Normalize(e.Chosen)) { result.Add(e); continue; }
            var rest = e.Rejected.Where(r => AnswerMatcher.Normalize(r) != key);
            result.Add(e with { Rejected = [answer, .. rest.Take(e.Rejected.Count - 1)] });
        }
        return result;
    }
}
