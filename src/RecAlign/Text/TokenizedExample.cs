namespace RecAlign.Text;

/// <summary>Token ids of one supervised example: the model reads <see cref="Prompt"/> and is trained on
/// <see cref="Response"/> (which already ends with EOS). Pretraining examples have an empty prompt.</summary>
public sealed record TokenizedExample(int[] Prompt, int[] Response)
{
    public int Length => Prompt.Length + Response.Length;
    /// <summary>The example's loss weight (see <see cref="Prompts.PromptExample.Weight"/>).</summary>
    public double Weight { get; init; } = 1;
}
