namespace RecAlign.Prompts;

/// <summary>A candidate-list question as text: the rendered prompt, the candidate titles in the order shown, and the
/// index of the true next item among them. Synthetic data, S-DPO/CausalDPO JSON files and any loader end up here.</summary>
public sealed record CandidateQuestion(string Prompt, IReadOnlyList<string> Candidates, int TargetIndex)
{
    public string Target => Candidates[TargetIndex];
}
