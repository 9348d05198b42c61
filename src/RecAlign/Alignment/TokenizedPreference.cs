using RecAlign.Prompts;
using RecAlign.Text;

namespace RecAlign.Alignment;

/// <summary>Token ids of a preference example: prompt (with BOS), chosen response and K rejected responses (each
/// ending with EOS).</summary>
public sealed record TokenizedPreference(int[] Prompt, int[] Chosen, int[][] Rejected)
{
    /// <summary>The example's loss weight (see <see cref="PreferenceExample.Weight"/>).</summary>
    public double Weight { get; init; } = 1;
    /// <summary>The user's history as text (see <see cref="PreferenceExample.History"/>).</summary>
    public string? History { get; init; }
    /// <summary>The known environment (see <see cref="PreferenceExample.Environment"/>).</summary>
    public int? Environment { get; init; }

    public static TokenizedPreference From(ITokenizer tokenizer, PreferenceExample example, int maxPromptTokens = int.MaxValue) =>
        new(PromptTokenization.Prompt(tokenizer, example.Prompt, maxPromptTokens),
            PromptTokenization.Response(tokenizer, example.Chosen),
            example.Rejected.Select(r => PromptTokenization.Response(tokenizer, r)).ToArray()) { Weight = example.Weight, History = example.History, Environment = example.Environment };
}
