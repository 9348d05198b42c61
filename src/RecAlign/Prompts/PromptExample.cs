namespace RecAlign.Prompts;

/// <summary>A rendered supervised example: the model reads <see cref="Prompt"/> and is trained on
/// <see cref="Response"/> only (prompt tokens masked).</summary>
public sealed record PromptExample(string Prompt, string Response);

/// <summary>A preference example in TRL's shape: one chosen response and one or more rejected ones
/// (one for DPO, several for Softmax-DPO).</summary>
public sealed record PreferenceExample(string Prompt, string Chosen, IReadOnlyList<string> Rejected);
