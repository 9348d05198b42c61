using System.Runtime.CompilerServices;
using RecAlign.Prompts;
using RecAlign.Text;

namespace RecAlign.Tests.Prompts;

/// <summary>Prompt and response are tokenized apart (so one candidate has the same tokens under every prompt), yet
/// their concatenation must be the tokenization of the text "prompt answer": the answer's tokens are the ones a
/// language model meets mid-text, never a bare first word after a lone space token.</summary>
public class PromptTokenizationTests
{
    private const string Prompt = "This user has listened to Boris, Fever Ray in the previous. Pick one of: Lion King, The, Iggy Pop. Answer:";
    private const string Answer = "Iggy Pop";

    private static string GoldenDir([CallerFilePath] string thisFile = "") =>
        Path.Combine(Path.GetDirectoryName(thisFile)!, "..", "Text", "Fixtures", "hf-golden");

    public static TheoryData<string> Tokenizers => new() { "compact", "gpt2", "smollm", "qwen2", "llama3" };

    private static ITokenizer Load(string name) => name == "compact"
        ? CompactVocabularyTokenizer.Build([Prompt + " " + Answer])
        : TokenizerLoader.Load(Path.Combine(GoldenDir(), name));

    [Theory]
    [MemberData(nameof(Tokenizers))]
    public void PromptThenResponseIsTheTokenizationOfTheJoinedText(string name)
    {
        var tok = Load(name);
        var joined = tok.Encode(Prompt + " " + Answer, addBos: true);
        var response = PromptTokenization.Response(tok, Answer);
        Assert.Equal(tok.EosId, response[^1]);
        Assert.Equal(joined, PromptTokenization.Prompt(tok, Prompt).Concat(response[..^1]).ToArray());
        // A trailing space in the prompt (S-DPO's "Answer: ") is not doubled, nor left as a token of its own.
        Assert.Equal(PromptTokenization.Prompt(tok, Prompt), PromptTokenization.Prompt(tok, Prompt + "  "));
        // The bare encoding differs: the leading space is part of the answer's first token.
        Assert.NotEqual(tok.Encode(Answer), response[..^1]);
    }

    [Fact]
    public void TruncationKeepsBosAndTheEndOfTheTrimmedPrompt()
    {
        var tok = Load("compact");
        var full = PromptTokenization.Prompt(tok, Prompt);
        var cut = PromptTokenization.Prompt(tok, Prompt + " ", maxTokens: 6);
        Assert.Equal(6, cut.Length);
        Assert.Equal(tok.BosId, cut[0]);
        Assert.Equal(full[^5..], cut[1..]);
    }
}
