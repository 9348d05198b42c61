using RecAlign.Models.Language.Generation;

namespace RecAlign.Tests.Models.Generation;

public class GenerationConfigTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("gencfg").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void SaveThenLoadRoundTrips()
    {
        var dir = _dir;
        {
            var config = new GenerationConfig
            {
                MaxNewTokens = 64, DoSample = true, Temperature = 0.7, TopK = 20, TopP = 0.9, LengthPenalty = 1.5,
                EarlyStopping = EarlyStopping.Never, EosTokenId = [2, 7], PadTokenId = 0, StopStrings = ["\n"], Seed = 42,
            };
            config.Save(dir);
            var path = Path.Combine(dir, GenerationConfig.FileName);
            Assert.True(File.Exists(path));
            Assert.Single(Directory.GetFiles(dir)); // no temp file left behind
            Assert.Equal(config, GenerationConfig.Load(dir));
            Assert.Equal(config, GenerationConfig.Load(path));
        }
    }

    [Fact]
    public void ReadsAHuggingFaceFileAndIgnoresKeysItDoesNotUse()
    {
        var path = Path.Combine(_dir, "generation_config.json");
        File.WriteAllText(path, """
        {
          "_from_model_config": true,
          "bos_token_id": 1,
          "eos_token_id": [128001, 128009],
          "do_sample": true,
          "temperature": 0.6,
          "top_p": 0.9,
          "early_stopping": true,
          "transformers_version": "4.45.0"
        }
        """);
        var c = GenerationConfig.Load(path);
        Assert.Equal([128001, 128009], c.EosTokenId);
        Assert.True(c.DoSample);
        Assert.Equal(0.6, c.Temperature);
        Assert.Equal(0.9, c.TopP);
        Assert.Equal(50, c.TopK); // HF default
        Assert.Equal(20, c.MaxNewTokens);
        Assert.Equal(EarlyStopping.True, c.EarlyStopping);
        Assert.Null(c.PadTokenId);
        File.WriteAllText(path, """{ "eos_token_id": 5, "early_stopping": "never" }""");
        c = GenerationConfig.Load(path);
        Assert.Equal([5], c.EosTokenId);
        Assert.Equal(EarlyStopping.Never, c.EarlyStopping);
    }

    [Fact]
    public void BadFieldsNameTheFileAndField()
    {
        var path = Path.Combine(_dir, "generation_config.json");
        File.WriteAllText(path, """{ "max_new_tokens": "many" }""");
        var e = Assert.Throws<FormatException>(() => GenerationConfig.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("max_new_tokens", e.Message);
        File.WriteAllText(path, """{ "eos_token_id": [1, "x"] }""");
        Assert.Contains("eos_token_id[1]", Assert.Throws<FormatException>(() => GenerationConfig.Load(path)).Message);
        File.WriteAllText(path, """{ "top_p": 1.5 }""");
        Assert.Contains("top_p", Assert.Throws<FormatException>(() => GenerationConfig.Load(path)).Message);
        File.WriteAllText(path, "{ not json");
        Assert.Contains(path, Assert.Throws<FormatException>(() => GenerationConfig.Load(path)).Message);
        Assert.Throws<FileNotFoundException>(() => GenerationConfig.Load(path + ".missing"));
    }
}

public class TokenTrieTests
{
    [Fact]
    public void WalksPrefixesAndListsAllowedTokens()
    {
        var trie = new TokenTrie([5, 6, 7, 2], [5, 8, 2], [9, 2], [5, 6, 7, 2]);
        Assert.Equal(3, trie.SequenceCount); // the duplicate counts once
        Assert.Equal([5, 9], trie.Allowed(TokenTrie.Root));
        int n5 = trie.Next(TokenTrie.Root, 5);
        Assert.Equal([6, 8], trie.Allowed(n5));
        Assert.Equal(TokenTrie.None, trie.Next(n5, 9));
        Assert.Empty(trie.Allowed(TokenTrie.None));
        Assert.True(trie.Contains([5, 8, 2]));
        Assert.False(trie.Contains([5, 8]));         // a prefix, not a whole sequence
        Assert.False(trie.Contains([5, 8, 2, 2]));
        int end = trie.Walk([9, 2]);
        Assert.True(trie.IsComplete(end) && trie.IsLeaf(end));
        Assert.False(trie.IsLeaf(n5));
    }

    [Fact]
    public void RejectsEmptyInput()
    {
        Assert.Throws<ArgumentException>(() => new TokenTrie([1, 2], []));
        Assert.Throws<ArgumentException>(() => new TokenTrie(Array.Empty<int[]>()));
        Assert.Throws<ArgumentException>(() => new TokenTrie([1, -3]));
    }
}
