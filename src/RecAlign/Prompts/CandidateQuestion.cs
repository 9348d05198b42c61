using RecAlign.Data;

namespace RecAlign.Prompts;

/// <summary>A candidate-list question as text: the rendered prompt, the candidate titles in the order shown, and the
/// index of the true next item among them. Synthetic data, S-DPO/CausalDPO JSON files and any loader end up here.
/// <see cref="Items"/> carries the same question as catalog ids, for recommenders that read ids rather than text.</summary>
public sealed record CandidateQuestion(string Prompt, IReadOnlyList<string> Candidates, int TargetIndex)
{
    public string Target => Candidates[TargetIndex];

    /// <summary>The history and candidates as ids of <see cref="QuestionItems.Catalog"/> (null for a question known
    /// only as text, e.g. a TRL JSONL prompt).</summary>
    public QuestionItems? Items { get; init; }
}

/// <summary>A question's items as ids of <paramref name="Catalog"/>: the user's whole history (oldest first; the prompt
/// may show only its end; empty when the prompt leaves it out) and the candidates in the order shown.</summary>
public sealed record QuestionItems(ItemCatalog Catalog, IReadOnlyList<int> History, IReadOnlyList<int> Candidates);
