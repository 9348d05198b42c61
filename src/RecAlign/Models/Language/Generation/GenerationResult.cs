namespace RecAlign.Models.Language.Generation;

/// <summary>Why a sequence stopped.</summary>
public enum FinishReason
{
    /// <summary>An EOS token was generated (it is the last token of <see cref="GeneratedSequence.Tokens"/>).</summary>
    Eos,
    MaxNewTokens,
    /// <summary>The decoded text came to contain a stop string.</summary>
    StopString,
    /// <summary>The output reached the end of an allowed sequence of the token trie (one without a trailing EOS).</summary>
    Constraint,
}

/// <summary>
/// One generated continuation. <see cref="TokenLogProbs"/> are the model's own log-probabilities of each generated
/// token (log-softmax of the unprocessed fp32 logits, before temperature/top-k/top-p/constraints). <see cref="Score"/>
/// is their sum for greedy and sampling, and the HF beam score sum / length^length_penalty for beam search.
/// <see cref="Text"/> is the decoded output when a decode callback was given (cut before the stop string if one hit;
/// a trailing EOS is not decoded).
/// </summary>
public sealed record GeneratedSequence(int[] Tokens, float[] TokenLogProbs, double Score, FinishReason FinishReason, string? Text)
{
    public double SumLogProb => TokenLogProbs.Sum(x => (double)x);
}

/// <summary>Per prompt, its returned sequences best first (num_return_sequences of them).</summary>
public sealed class GenerationResult(IReadOnlyList<IReadOnlyList<GeneratedSequence>> sequences)
{
    public IReadOnlyList<IReadOnlyList<GeneratedSequence>> Sequences { get; } = sequences;
    public int Count => Sequences.Count;
    public IReadOnlyList<GeneratedSequence> this[int prompt] => Sequences[prompt];
    /// <summary>The first (best) sequence of <paramref name="prompt"/>.</summary>
    public GeneratedSequence Best(int prompt) => Sequences[prompt][0];
}
