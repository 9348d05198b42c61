namespace RecAlign.Prompts;

/// <summary>A rendered supervised example: the model reads <see cref="Prompt"/> and is trained on
/// <see cref="Response"/> only (prompt tokens masked).</summary>
public sealed record PromptExample(string Prompt, string Response)
{
    /// <summary>The example's loss weight (1 unless reweighted, e.g. IFairLRS's group weights); a weighted stage
    /// averages w·(the example's token-mean loss) over the batch.</summary>
    public double Weight { get; init; } = 1;
}

/// <summary>A preference example in TRL's shape: one chosen response and one or more rejected ones
/// (one for DPO, several for Softmax-DPO).</summary>
public sealed record PreferenceExample(string Prompt, string Chosen, IReadOnlyList<string> Rejected)
{
    /// <summary>The example's loss weight (TRL's <c>use_weighting</c> shape: the batch loss is mean_i w_i·ℓ_i).</summary>
    public double Weight { get; init; } = 1;
    /// <summary>The user's history as text (titles, oldest first), for losses that embed it (CausalDPO's
    /// <c>history_text</c> environment features); null where the source has none (a TRL file).</summary>
    public string? History { get; init; }
    /// <summary>The environment the example is known to come from (0, 1, ...; e.g. the period its target happened in),
    /// for CausalDPO's <c>given</c> environment features; null where the data does not say.</summary>
    public int? Environment { get; init; }
}
