using System.Text;
using RecAlign.Data;

namespace RecAlign.Inference;

/// <summary>How a generated answer was tied to a candidate.</summary>
public enum MatchKind
{
    /// <summary>No candidate title occurs in the answer.</summary>
    None,
    /// <summary>The normalised answer equals a normalised candidate title.</summary>
    Exact,
    /// <summary>Exactly one candidate title (after dropping titles contained in longer contained titles) occurs in the answer.</summary>
    Contained,
    /// <summary>Several unrelated candidate titles occur in the answer; the answer is invalid unless
    /// <see cref="AnswerMatcher.RejectAmbiguous"/> is off (then the longest wins).</summary>
    Ambiguous,
}

/// <summary>The outcome of matching one answer: the candidate's position in the list (null = invalid answer).</summary>
public readonly record struct AnswerMatch(int? Index, MatchKind Kind)
{
    public bool IsValid => Index.HasValue;
}

/// <summary>
/// Ties a generated answer to one of the candidate titles it was asked to choose from, for S-DPO's HitRatio@1 and
/// ValidRatio. Both sides are normalised (<see cref="Normalize"/>); then the candidate whose title equals the answer
/// wins; else the candidates whose titles occur in the answer at word boundaries, ignoring those that only occur
/// inside a longer contained title; exactly one left = a match, several = ambiguous (invalid by default).
/// <para>S-DPO's own rule (evaluate_batch.py) is <see cref="MatchSdpo"/>: raw, case-sensitive substring search, and
/// an answer is valid only when exactly one candidate occurs in it. Differences of the default rule: normalisation
/// (case, quotes, spacing, trailing punctuation), word boundaries (S-DPO counts "Love" inside "Lovers"), and a title
/// contained in a longer contained title no longer makes the answer invalid ("Love" vs "Love Story").</para>
/// </summary>
public sealed class AnswerMatcher
{
    /// <summary>When several unrelated candidates occur in the answer: true = invalid (S-DPO's choice), false = the
    /// longest title wins (ties: the earliest candidate).</summary>
    public bool RejectAmbiguous { get; init; } = true;

    /// <summary>Trim, strip surrounding quotes and trailing punctuation, case-fold, collapse white space.</summary>
    public static string Normalize(string text)
    {
        var sb = new StringBuilder(text.Length);
        bool space = false;
        foreach (var ch in text)
        {
            if (char.IsWhiteSpace(ch)) { space = sb.Length > 0; continue; }
            if (space) { sb.Append(' '); space = false; }
            sb.Append(char.ToLowerInvariant(ch));
        }
        // Peel quotes, brackets of quotation and trailing punctuation from the ends until nothing changes.
        int start = 0, end = sb.Length;
        while (true)
        {
            int s0 = start, e0 = end;
            while (start < end && IsQuote(sb[start])) start++;
            while (end > start && (IsQuote(sb[end - 1]) || IsTrailingPunctuation(sb[end - 1]))) end--;
            while (start < end && sb[start] == ' ') start++;
            while (end > start && sb[end - 1] == ' ') end--;
            if (s0 == start && e0 == end) break;
        }
        return sb.ToString(start, end - start);
    }

    /// <summary>Matches one answer against candidate titles (raw; they are normalised here).</summary>
    public AnswerMatch Match(string answer, IReadOnlyList<string> candidateTitles)
    {
        var a = Normalize(answer);
        if (a.Length == 0) return new AnswerMatch(null, MatchKind.None);
        var norm = new string[candidateTitles.Count];
        for (int i = 0; i < norm.Length; i++)
        {
            norm[i] = Normalize(candidateTitles[i]);
            if (norm[i] == a) return new AnswerMatch(i, MatchKind.Exact);
        }
        var contained = new List<int>();
        for (int i = 0; i < norm.Length; i++)
            if (norm[i].Length > 0 && ContainsAtWordBoundary(a, norm[i]) && !contained.Any(j => norm[j] == norm[i]))
                contained.Add(i); // duplicate titles count once (the first)
        // Drop titles that only appear because a longer contained title includes them.
        var maximal = contained.Where(i => !contained.Any(j => j != i && norm[j].Length > norm[i].Length && norm[j].Contains(norm[i], StringComparison.Ordinal))).ToList();
        if (maximal.Count == 0) return new AnswerMatch(null, MatchKind.None);
        if (maximal.Count == 1) return new AnswerMatch(maximal[0], MatchKind.Contained);
        if (RejectAmbiguous) return new AnswerMatch(null, MatchKind.Ambiguous);
        int best = maximal.OrderByDescending(i => norm[i].Length).ThenBy(i => i).First();
        return new AnswerMatch(best, MatchKind.Ambiguous);
    }

    /// <summary>S-DPO's evaluate_batch.py rule, kept for reproducing its numbers: count candidates that are raw
    /// (case-sensitive, ordinal) substrings of the answer; valid only when the count is exactly one.</summary>
    public static AnswerMatch MatchSdpo(string answer, IReadOnlyList<string> candidateTitles)
    {
        int count = 0, index = -1;
        for (int i = 0; i < candidateTitles.Count; i++)
            if (answer.Contains(candidateTitles[i], StringComparison.Ordinal)) { count++; index = i; }
        return count == 1 ? new AnswerMatch(index, MatchKind.Contained) : new AnswerMatch(null, count == 0 ? MatchKind.None : MatchKind.Ambiguous);
    }

    /// <summary>The catalog id of the candidate the answer picks, or null when invalid.</summary>
    public int? MatchItem(string answer, CandidateExample example, ItemCatalog catalog, bool sdpoRule = false)
    {
        var titles = example.Candidates.Select(catalog.Title).ToArray();
        var m = sdpoRule ? MatchSdpo(answer, titles) : Match(answer, titles);
        return m.Index is int i ? example.Candidates[i] : null;
    }

    /// <summary>Matches a batch of answers to their examples' candidates (catalog ids; null = invalid), ready for
    /// <see cref="Evaluation.Metrics.FromGeneratedAnswers"/>.</summary>
    public int?[] MatchItems(IReadOnlyList<string> answers, IReadOnlyList<CandidateExample> examples, ItemCatalog catalog, bool sdpoRule = false)
    {
        if (answers.Count != examples.Count)
            throw new ArgumentException($"{answers.Count} answers for {examples.Count} examples");
        var result = new int?[answers.Count];
        for (int i = 0; i < result.Length; i++) result[i] = MatchItem(answers[i], examples[i], catalog, sdpoRule);
        return result;
    }

    private static bool ContainsAtWordBoundary(string text, string part)
    {
        for (int at = text.IndexOf(part, StringComparison.Ordinal); at >= 0; at = text.IndexOf(part, at + 1, StringComparison.Ordinal))
        {
            int after = at + part.Length;
            bool leftOk = at == 0 || !char.IsLetterOrDigit(text[at - 1]) || !char.IsLetterOrDigit(part[0]);
            bool rightOk = after == text.Length || !char.IsLetterOrDigit(text[after]) || !char.IsLetterOrDigit(part[^1]);
            if (leftOk && rightOk) return true;
        }
        return false;
    }

    private static bool IsQuote(char c) => c is '"' or '\'' or '`' or '\u201C' or '\u201D' or '\u2018' or '\u2019' or '\u00AB' or '\u00BB';

    private static bool IsTrailingPunctuation(char c) => c is '.' or ',' or ';' or ':' or '!' or '?' or '\u3002';
}
