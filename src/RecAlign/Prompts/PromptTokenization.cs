using RecAlign.Text;
using RecAlign.Training.Batching;

namespace RecAlign.Prompts;

/// <summary>Text → token ids for every stage, in one place, so training and inference see identical sequences:
/// prompt = BOS + encode(prompt); response = encode(response) + EOS. Prompt and response are encoded apart (as TRL's
/// prompt-completion format does), so a candidate scored at inference has the same tokens it was trained on.</summary>
public static class PromptTokenization
{
    public static int[] Prompt(ITokenizer tokenizer, string prompt, int maxTokens = int.MaxValue)
    {
        var ids = tokenizer.Encode(prompt, addBos: true);
        if (ids.Length <= maxTokens) return ids;
        // Keep BOS and the end of the prompt (the question and candidate list come last in every template).
        var kept = new int[maxTokens];
        kept[0] = ids[0];
        Array.Copy(ids, ids.Length - (maxTokens - 1), kept, 1, maxTokens - 1);
        return kept;
    }

    public static int[] Response(ITokenizer tokenizer, string response)
    {
        var eos = tokenizer.EosId ?? throw new InvalidOperationException("the tokenizer has no EOS token; responses need one to end");
        return [.. tokenizer.Encode(response), eos];
    }

    public static TokenizedExample Example(ITokenizer tokenizer, PromptExample example, int maxPromptTokens = int.MaxValue) =>
        new(Prompt(tokenizer, example.Prompt, maxPromptTokens), Response(tokenizer, example.Response));
}
