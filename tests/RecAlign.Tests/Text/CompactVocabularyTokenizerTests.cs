using Microsoft.ML.Tokenizers;
using RecAlign.Text;

namespace RecAlign.Tests.Text;

public sealed class CompactVocabularyTokenizerTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "recalign-tok-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private static readonly string[] Corpus =
    [
        "Title: Júpiter Maçã - A Sétima Efervescência (1997)",
        "Title: Sigur Rós - Ágætis byrjun",
        "Title: 東京事変 - 教育",
        "The user listened to Radiohead, Björk and Sigur Rós. Next: 🎵 Homogenic",
        "Recommend the next movie: Toy Story (1995), Jumanji (1995), Heat (1995)",
    ];

    private static readonly string[] Unseen =
    [
        "Júpiter Maçã",
        "Sigur Rós",
        "東京事変",
        "emoji 🎸🥁 and ZWJ 👩‍👩‍👧 family",
        "Zanzibar quokka xylophone 12345\r\n\ttabs",
        "",
    ];

    [Fact]
    public void VocabularyIsSmallAndKeepsAllBytes()
    {
        var tok = CompactVocabularyTokenizer.Build(Corpus);
        Assert.InRange(tok.VocabSize, 4 + 256, 1000);
        Assert.Equal(tok.Cl100kIds.OrderBy(x => x), tok.Cl100kIds);
        Assert.Equal(0, tok.PadId);
        Assert.Equal(1, tok.BosId);
        Assert.Equal(2, tok.EosId);
        Assert.Equal(3, tok.UnkId);
        Assert.Equal(2, tok.TokenToId(CompactVocabularyTokenizer.EosToken));
        Assert.Equal(CompactVocabularyTokenizer.PadToken, tok.IdToToken(0));
        Assert.Null(tok.IdToToken(tok.VocabSize));
    }

    [Fact]
    public void CorpusAndUnseenTextRoundTripWithoutUnk()
    {
        var tok = CompactVocabularyTokenizer.Build(Corpus);
        foreach (var text in Corpus.Concat(Unseen))
        {
            var ids = tok.Encode(text);
            Assert.DoesNotContain(tok.UnkId!.Value, ids);
            Assert.All(ids, id => Assert.InRange(id, 4, tok.VocabSize - 1));
            Assert.Equal(text, tok.Decode(ids));
        }
    }

    [Fact]
    public void CorpusTextUsesMergedTokensAndUnseenWordsFallBackToBytes()
    {
        var tok = CompactVocabularyTokenizer.Build(Corpus);
        var cl100k = TiktokenTokenizer.CreateForModel("gpt-4");
        // Seen text: exactly one compact id per cl100k token.
        Assert.Equal(cl100k.EncodeToIds(Corpus[1]).Count, tok.Encode(Corpus[1]).Length);
        // " quokka" never appears in the corpus: it is spelled byte by byte (7 bytes).
        var unseen = tok.Encode(" quokka");
        Assert.Equal(7, unseen.Length);
        Assert.Equal(" quokka", tok.Decode(unseen));
    }

    [Fact]
    public void BuildIsDeterministicAndOrderIndependent()
    {
        var a = CompactVocabularyTokenizer.Build(Corpus);
        var b = CompactVocabularyTokenizer.Build(Corpus.Reverse());
        Assert.Equal(a.Cl100kIds, b.Cl100kIds);
        var rare = CompactVocabularyTokenizer.Build(Corpus.Concat(Corpus), minCount: 2);
        var frequent = CompactVocabularyTokenizer.Build(Corpus, minCount: 2);
        Assert.Equal(a.Cl100kIds, rare.Cl100kIds);
        Assert.True(frequent.VocabSize < a.VocabSize);
    }

    [Fact]
    public void SpecialTokensAreAddedAndSkipped()
    {
        var tok = CompactVocabularyTokenizer.Build(Corpus);
        var ids = tok.Encode("Sigur Rós", addBos: true);
        Assert.Equal(1, ids[0]);
        var withEos = ids.Append(2).ToArray();
        Assert.Equal("Sigur Rós", tok.Decode(withEos));
        Assert.Equal("<|bos|>Sigur Rós<|eos|>", tok.Decode(withEos, skipSpecialTokens: false));
        // Special-token text inside user input is plain text, never a control token.
        Assert.DoesNotContain(2, tok.Encode("<|eos|>"));
        Assert.Throws<ArgumentOutOfRangeException>(() => tok.Decode([tok.VocabSize]));
    }

    [Fact]
    public void OurCl100kSplitMatchesTheLibraryGpt4Tokenizer()
    {
        var reference = TiktokenTokenizer.CreateForModel("gpt-4");
        var ours = Cl100kBase.Tokenizer;
        foreach (var text in Corpus.Concat(Unseen).Append("I'll say it's 1234567 don't\n\n  x  \r\nYOU'RE"))
            Assert.Equal(reference.EncodeToIds(text), ours.EncodeToIds(text));
    }

    [Fact]
    public void SaveLoadGivesTheSameTokenizer()
    {
        var tok = CompactVocabularyTokenizer.Build(Corpus);
        tok.Save(_dir);
        Assert.True(File.Exists(Path.Combine(_dir, CompactVocabularyTokenizer.FileName)));
        var loaded = Assert.IsType<CompactVocabularyTokenizer>(TokenizerLoader.Load(_dir));
        Assert.Equal(tok.Cl100kIds, loaded.Cl100kIds);
        Assert.Equal(tok.VocabSize, loaded.VocabSize);
        foreach (var text in Corpus.Concat(Unseen))
            Assert.Equal(tok.Encode(text), loaded.Encode(text));
        Assert.Empty(Directory.GetFiles(_dir, "*.tmp-*"));
    }

    [Fact]
    public void CorruptFileErrorsNameFileAndField()
    {
        Directory.CreateDirectory(_dir);
        var path = Path.Combine(_dir, CompactVocabularyTokenizer.FileName);
        File.WriteAllText(path, """
            {"format":"recalign.compact_vocab","version":1,"base_encoding":"cl100k_base",
             "special_tokens":{"<|pad|>":0,"<|bos|>":1,"<|eos|>":2,"<|unk|>":3},"cl100k_ids":[5,3]}
            """);
        var e = Assert.Throws<InvalidDataException>(() => CompactVocabularyTokenizer.Load(_dir));
        Assert.Contains(path, e.Message);
        Assert.Contains("cl100k_ids[1]", e.Message);

        File.WriteAllText(path, "{\"format\":\"recalign.compact_vocab\",");
        e = Assert.Throws<InvalidDataException>(() => CompactVocabularyTokenizer.Load(_dir));
        Assert.Contains(path, e.Message);
    }
}
