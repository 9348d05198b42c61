using RecAlign.Prompts;

namespace RecAlign.Text;

/// <summary>Text → token ids for every stage, in one place, so training and inference see identical sequences:
/// prompt = BOS + encode(prompt); response = encode(" " + response) + EOS. Prompt and response are encoded apart (as
/// TRL's prompt-completion format does), so a candidate scored at inference has the same tokens it was trained on.
/// The response is encoded as the text that follows the prompt after one space ("Answer:" + " Title"), and trailing
/// spaces of the prompt are dropped so the space is never doubled: every supported tokenizer is byte-level BPE, where
/// a word's token carries its leading space, so " Title" is the token a language model met mid-text (in pretraining
/// histories, or in a HuggingFace checkpoint's corpus), while a bare "Title" after a lone space token is one it rarely
/// saw. Encoding it bare made the model learn the answer's first token afresh in SFT and read the history far less
/// (docs/benchmarks.md, session 5).</summary>
public static class PromptTokenization
{
    public static int[] Prompt(ITokenizer tokenizer, string prompt, int maxTokens = int.MaxValue)
    {
        var ids = tokenizer.Encode(prompt.TrimEnd(' '), addBos: true);
        if (ids.Length <= maxTokens) return ids;
        // Keep BOS and the end of the prompt (the question and candidate list come last in every template).
        var kept = new int[maxTokens];
        kept[0] = ids[0];
        Array.Copy(ids, ids.Length - (maxTokens - 1), kept, 1, maxTokens - 1);
        return kept;
    }

    /// <summary>What separates the prompt (trailing spaces dropped) from the response in the encoded text.</summary>
    public const string ResponseSeparator = " ";

    /// <summary>encode(" " + response) + EOS; an answer that is one item token (<see cref="ItemTokenizer"/>) is that
    /// token alone: it names a whole item, so it ends the answer, and its likelihood is one softmax at the prompt's end.</summary>
    public static int[] Response(ITokenizer tokenizer, string response)
    {
        var ids = tokenizer.Encode(ResponseSeparator + response);
        if (ids.Length == 1 && tokenizer is ItemTokenizer items && items.ItemOf(ids[0]) is not null) return ids;
        var eos = tokenizer.EosId ?? throw new InvalidOperationException("the tokenizer has no EOS token; responses need one to end");
        return [.. ids, eos];
    }

    public static TokenizedExample Example(ITokenizer tokenizer, PromptExample example, int maxPromptTokens = int.MaxValue) =>
        new(Prompt(tokenizer, example.Prompt, maxPromptTokens), Response(tokenizer, example.Response)) { Weight = example.Weight };
}
