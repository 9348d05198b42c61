using System.Text.Json.Nodes;
using RecAlign.Text;

namespace RecAlign.Tests.Text;

public sealed class HuggingFaceTokenizerTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "recalign-hf-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    internal const string Qwen2Pattern =
        @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    /// <summary>GPT-2's bytes_to_unicode: printable bytes map to themselves, the rest to U+0100 onwards.</summary>
    private static char[] ByteChars()
    {
        var chars = new char[256];
        var printable = Enumerable.Range('!', '~' - '!' + 1).Concat(Enumerable.Range(0xA1, 0xAC - 0xA1 + 1)).Concat(Enumerable.Range(0xAE, 0xFF - 0xAE + 1)).ToHashSet();
        int n = 0;
        for (int b = 0; b < 256; b++) chars[b] = printable.Contains(b) ? (char)b : (char)(256 + n++);
        return chars;
    }

    /// <summary>A hand-built byte-level tokenizer.json: ids 0..255 are the bytes, then merged tokens, then added tokens.</summary>
    internal static (string Json, Dictionary<string, int> Vocab) BuildTokenizerJson(JsonNode preTokenizer, bool arrayMerges, JsonNode? normalizer = null, bool ignoreMerges = false, string[]? addedTokens = null)
    {
        var bytes = ByteChars();
        var vocab = new Dictionary<string, int>();
        for (int b = 0; b < 256; b++) vocab[bytes[b].ToString()] = b;
        string[][] merges = [["Ġ", "t"], ["h", "e"], ["Ġt", "he"], ["2", "0"], ["R", "ó"], ["Ã", "³"], ["R", "Ã³"]];
        foreach (var m in merges) vocab.TryAdd(m[0] + m[1], vocab.Count);
        vocab["Ġxyz"] = vocab.Count; // reachable only with ignore_merges
        int next = vocab.Count;
        var added = new JsonArray();
        var addedList = addedTokens?.Select(t => (t, true)).ToArray()
            ?? [("<|endoftext|>", true), ("<|im_start|>", true), ("<|im_end|>", true), ("<tool_call>", false)];
        foreach (var (content, special) in addedList)
            added.Add(new JsonObject { ["id"] = next++, ["content"] = content, ["single_word"] = false, ["lstrip"] = false, ["rstrip"] = false, ["normalized"] = false, ["special"] = special });

        var root = new JsonObject
        {
            ["version"] = "1.0",
            ["added_tokens"] = added,
            ["normalizer"] = normalizer,
            ["pre_tokenizer"] = preTokenizer,
            ["decoder"] = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = true, ["use_regex"] = true },
            ["model"] = new JsonObject
            {
                ["type"] = "BPE",
                ["byte_fallback"] = false,
                ["ignore_merges"] = ignoreMerges,
                ["vocab"] = new JsonObject(vocab.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))),
                ["merges"] = arrayMerges
                    ? new JsonArray(merges.Select(m => (JsonNode?)new JsonArray(m[0], m[1])).ToArray())
                    : new JsonArray(merges.Select(m => (JsonNode?)(m[0] + " " + m[1])).ToArray()),
            },
        };
        return (root.ToJsonString(), vocab);
    }

    internal static JsonNode QwenPreTokenizer() => new JsonObject
    {
        ["type"] = "Sequence",
        ["pretokenizers"] = new JsonArray(
            new JsonObject { ["type"] = "Split", ["pattern"] = new JsonObject { ["Regex"] = Qwen2Pattern }, ["behavior"] = "Isolated", ["invert"] = false },
            new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = false, ["use_regex"] = false }),
    };

    private const string QwenConfig = """
        {"bos_token": null, "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>", "unk_token": null,
         "chat_template": "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"}
        """;

    private static HuggingFaceTokenizer Qwen() =>
        HuggingFaceTokenizer.FromJson(BuildTokenizerJson(QwenPreTokenizer(), arrayMerges: true, new JsonObject { ["type"] = "NFC" }).Json, QwenConfig);

    [Fact]
    public void MergesApplyInRankOrderWithinPreTokens()
    {
        var (json, vocab) = BuildTokenizerJson(QwenPreTokenizer(), arrayMerges: true);
        var tok = HuggingFaceTokenizer.FromJson(json);
        // "the" → t,h,e → t,he ; " the" → Ġ,t,h,e → Ġt,h,e → Ġt,he → Ġthe
        Assert.Equal([vocab["t"], vocab["he"], vocab["Ġthe"]], tok.Encode("the the"));
        // "Rós" is bytes R,Ã,³,s in byte-level form; merges R+ó never fire, Ã+³ then R+Ã³ do.
        Assert.Equal([vocab["RÃ³"], vocab["s"]], tok.Encode("Rós"));
        Assert.Equal(vocab.Count + 4, tok.VocabSize);
    }

    [Fact]
    public void IgnoreMergesTakesWholeVocabularyPreTokens()
    {
        var (json, vocab) = BuildTokenizerJson(QwenPreTokenizer(), arrayMerges: true, ignoreMerges: true);
        var tok = HuggingFaceTokenizer.FromJson(json);
        Assert.Equal([vocab["Ġxyz"], vocab["Ġthe"]], tok.Encode(" xyz the"));
        var (plainJson, _) = BuildTokenizerJson(QwenPreTokenizer(), arrayMerges: true);
        Assert.Equal([vocab["Ġ"], vocab["x"], vocab["y"], vocab["z"], vocab["Ġthe"]], HuggingFaceTokenizer.FromJson(plainJson).Encode(" xyz the"));
    }

    [Fact]
    public void NfcNormalizerComposesBeforeEncoding()
    {
        var tok = Qwen();
        const string decomposed = "Ro\u0301s"; // o + combining acute
        var text = System.Text.RegularExpressions.Regex.Unescape(decomposed);
        // With InvariantGlobalization the runtime cannot normalise: the tokenizer says so instead of failing.
        if (tok.SkipsUnicodeNormalization) Assert.Equal(text, tok.Decode(tok.Encode(text)));
        else Assert.Equal(tok.Encode("Rós"), tok.Encode(text));
    }

    [Theory]
    [InlineData("Júpiter Maçã")]
    [InlineData("Sigur Rós")]
    [InlineData("東京事変")]
    [InlineData("emoji 🎸🥁 👩‍👩‍👧 and\r\n tabs\t 2024!")]
    [InlineData("")]
    public void NonAsciiRoundTrips(string text)
    {
        var tok = Qwen();
        Assert.Equal(text, tok.Decode(tok.Encode(text)));
    }

    [Fact]
    public void AddedTokensAreMatchedInTextAndSkippedOnDecode()
    {
        var tok = Qwen();
        int start = tok.TokenToId("<|im_start|>")!.Value, end = tok.TokenToId("<|im_end|>")!.Value;
        const string text = "<|im_start|>user\nthe <tool_call> Rós<|im_end|>";
        var ids = tok.Encode(text);
        Assert.Equal(start, ids[0]);
        Assert.Equal(end, ids[^1]);
        Assert.Contains(tok.TokenToId("<tool_call>")!.Value, ids);
        Assert.Equal(text, tok.Decode(ids, skipSpecialTokens: false));
        Assert.Equal("user\nthe <tool_call> Rós", tok.Decode(ids)); // non-special added tokens stay
        Assert.Equal("<|im_end|>", tok.IdToToken(end));
        Assert.Equal("Ġthe", tok.IdToToken(tok.TokenToId("Ġthe")!.Value));
    }

    [Fact]
    public void SpecialIdsComeFromTokenizerConfig()
    {
        var tok = Qwen();
        Assert.Null(tok.BosId);
        Assert.Equal(tok.TokenToId("<|im_end|>"), tok.EosId);
        Assert.Equal(tok.TokenToId("<|endoftext|>"), tok.PadId);
        Assert.Null(tok.UnkId);
        Assert.Equal(tok.Encode("the"), tok.Encode("the", addBos: true)); // no BOS defined: nothing prepended
        Assert.Equal([tok.EosId!.Value], tok.StopIds());
    }

    [Fact]
    public void Gpt2StyleFileWithoutConfigFallsBackToEndOfText()
    {
        var pre = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = true, ["use_regex"] = true };
        var (json, vocab) = BuildTokenizerJson(pre, arrayMerges: false);
        var tok = HuggingFaceTokenizer.FromJson(json);
        int eot = tok.TokenToId("<|endoftext|>")!.Value;
        Assert.Equal(eot, tok.BosId);
        Assert.Equal(eot, tok.EosId);
        Assert.Null(tok.PadId);
        Assert.Equal(eot, tok.PadOrEosId());
        Assert.Equal([eot, vocab["t"], vocab["he"], vocab["Ġthe"]], tok.Encode("the the", addBos: true));
        // The file defines <|im_start|>/<|im_end|>, so ChatML is picked even without a config (no default system turn).
        Assert.Null(Assert.IsType<ChatMlTemplate>(tok.ChatTemplate).DefaultSystemPrompt);
        Assert.Null(ChatTemplates.Detect(_ => false));
    }

    [Fact]
    public void IndividualDigitsPreventDigitMerges()
    {
        var smol = new JsonObject
        {
            ["type"] = "Sequence",
            ["pretokenizers"] = new JsonArray(
                new JsonObject { ["type"] = "Digits", ["individual_digits"] = true },
                new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = true, ["use_regex"] = true }),
        };
        var (json, vocab) = BuildTokenizerJson(smol, arrayMerges: false);
        var tok = HuggingFaceTokenizer.FromJson(json);
        Assert.Equal([vocab["2"], vocab["0"], vocab["2"], vocab["4"]], tok.Encode("2024"));

        var plain = HuggingFaceTokenizer.FromJson(BuildTokenizerJson(
            new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["use_regex"] = true }, arrayMerges: false).Json);
        Assert.Equal([vocab["20"], vocab["2"], vocab["4"]], plain.Encode("2024"));
    }

    [Fact]
    public void ChatMlTemplateRendersWithDefaultSystemPromptAndEncodes()
    {
        var tok = Qwen();
        var template = Assert.IsType<ChatMlTemplate>(tok.ChatTemplate);
        Assert.Equal("You are a helpful assistant.", template.DefaultSystemPrompt);
        var text = template.Render([ChatMessage.User("Recommend a film."), ChatMessage.Assistant("Heat (1995)")], addGenerationPrompt: false);
        Assert.Equal(
            "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
            + "<|im_start|>user\nRecommend a film.<|im_end|>\n"
            + "<|im_start|>assistant\nHeat (1995)<|im_end|>\n", text);
        var prompt = template.Render([ChatMessage.System("Be brief."), ChatMessage.User("Hi")], addGenerationPrompt: true);
        Assert.Equal("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n", prompt);
        var ids = tok.Encode(prompt);
        Assert.Equal(3, ids.Count(i => i == tok.TokenToId("<|im_start|>")));
        Assert.Equal(prompt, tok.Decode(ids, skipSpecialTokens: false));
        Assert.Throws<ArgumentException>(() => template.Render([new ChatMessage("tool", "x")], false));
    }

    [Fact]
    public void Llama3TemplateRendersHeaders()
    {
        var template = ChatTemplates.Detect(t => t is "<|start_header_id|>" or "<|end_header_id|>" or "<|eot_id|>");
        Assert.IsType<Llama3ChatTemplate>(template);
        var text = template!.Render([ChatMessage.System("S"), ChatMessage.User(" Hi ")], addGenerationPrompt: true);
        Assert.Equal(
            "<|start_header_id|>system<|end_header_id|>\n\nS<|eot_id|>"
            + "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
            + "<|start_header_id|>assistant<|end_header_id|>\n\n", text);
        Assert.Equal("<|eot_id|>", template.EndOfTurn);
    }

    [Fact]
    public void Llama3TokenizerPicksHeaderTemplateAndBosFromConfig()
    {
        string[] specials = ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"];
        var (json, vocab) = BuildTokenizerJson(QwenPreTokenizer(), arrayMerges: true, ignoreMerges: true, addedTokens: specials);
        var tok = HuggingFaceTokenizer.FromJson(json, """{"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"}""");
        var template = Assert.IsType<Llama3ChatTemplate>(tok.ChatTemplate);
        var ids = tok.Encode(template.Render([ChatMessage.User("the")], addGenerationPrompt: true), addBos: true);
        int Id(string t) => tok.TokenToId(t)!.Value;
        int[] expected =
        [
            Id("<|begin_of_text|>"), Id("<|start_header_id|>"), vocab["u"], vocab["s"], vocab["e"], vocab["r"], Id("<|end_header_id|>"),
            vocab["Ċ"], vocab["Ċ"], vocab["t"], vocab["he"], Id("<|eot_id|>"),
            Id("<|start_header_id|>"), vocab["a"], vocab["s"], vocab["s"], vocab["i"], vocab["s"], vocab["t"], vocab["a"], vocab["n"], vocab["t"],
            Id("<|end_header_id|>"), vocab["Ċ"], vocab["Ċ"],
        ];
        Assert.Equal(expected, ids);
        Assert.Null(tok.PadId);
        Assert.Equal(Id("<|eot_id|>"), tok.PadOrEosId());
    }

    [Fact]
    public void LoaderReadsDirectoryAndSaveRoundTrips()
    {
        Directory.CreateDirectory(_dir);
        var (json, _) = BuildTokenizerJson(QwenPreTokenizer(), arrayMerges: true);
        File.WriteAllText(Path.Combine(_dir, "tokenizer.json"), json);
        File.WriteAllText(Path.Combine(_dir, "tokenizer_config.json"), QwenConfig);
        var tok = Assert.IsType<HuggingFaceTokenizer>(TokenizerLoader.Load(_dir));
        var copy = Path.Combine(_dir, "copy");
        tok.Save(copy);
        var again = TokenizerLoader.Load(copy);
        Assert.Equal(tok.Encode("Sigur Rós the 東京"), again.Encode("Sigur Rós the 東京"));
        Assert.Equal(tok.EosId, again.EosId);
        Assert.Equal(File.ReadAllText(Path.Combine(_dir, "tokenizer.json")), File.ReadAllText(Path.Combine(copy, "tokenizer.json")));
    }

    [Fact]
    public void UnsupportedOrBrokenFilesGiveClearErrors()
    {
        var meta = new JsonObject { ["type"] = "Metaspace", ["replacement"] = "▁" };
        var (json, _) = BuildTokenizerJson(meta, arrayMerges: false);
        var e = Assert.Throws<NotSupportedException>(() => HuggingFaceTokenizer.FromJson(json));
        Assert.Contains("Metaspace", e.Message);
        Assert.Contains("tokenizer.json", e.Message);

        var (ok, _) = BuildTokenizerJson(QwenPreTokenizer(), arrayMerges: true);
        var badConfig = "{\"eos_token\": \"<|nope|>\"}";
        var e2 = Assert.Throws<InvalidDataException>(() => HuggingFaceTokenizer.FromJson(ok, badConfig));
        Assert.Contains("tokenizer_config.json", e2.Message);
        Assert.Contains("eos_token", e2.Message);

        Assert.Throws<FileNotFoundException>(() => TokenizerLoader.Load(_dir));
    }
}
