using RecAlign.Models.Language;
using RecAlign.Models.Language.Generation;
using TorchSharp;
using static TorchSharp.torch;
using Gen = RecAlign.Models.Language.Generation.Generator;

namespace RecAlign.Tests.Models.Generation;

public class GeneratorTests
{
    private const int Eos = 2;

    /// <summary>A tiny model with N(0, 0.2) weights from an explicit generator, the same in every process, so the
    /// seed-dependent checks below (beam vs greedy) always see the same model.</summary>
    internal static LanguageModel Model(int seed = 11)
    {
        var lm = new LanguageModel(LanguageModelTests.TinyConfig());
        using var g = new torch.Generator((ulong)seed);
        using var _ = no_grad();
        foreach (var (name, p) in lm.named_parameters())
        {
            if (name.EndsWith("norm.weight")) p.fill_(1.0);
            else p.normal_(0, 0.2, g);
        }
        return lm;
    }

    private static readonly int[][] Prompts = [[5, 9, 13, 7, 21], [30, 4], [17, 8, 44, 3, 12, 19, 6]];

    /// <summary>Reference greedy: a full forward over prompt + generated tokens (no cache) per step.</summary>
    private static (List<int> Tokens, List<float> LogProbs) NaiveGreedy(LanguageModel lm, int[] prompt, int maxNew, int eos)
    {
        var tokens = new List<int>();
        var lps = new List<float>();
        using var _ = no_grad();
        for (int i = 0; i < maxNew; i++)
        {
            using var scope = NewDisposeScope();
            var ids = tensor(prompt.Concat(tokens).Select(t => (long)t).ToArray()).unsqueeze(0);
            var logProbs = lm.Forward(ids)[0, -1].log_softmax(-1);
            int next = (int)logProbs.argmax().item<long>();
            tokens.Add(next);
            lps.Add(logProbs[next].item<float>());
            if (next == eos) break;
        }
        return (tokens, lps);
    }

    /// <summary>Σ log p(continuation | prompt) by one full forward.</summary>
    internal static double FullLogProb(LanguageModel lm, int[] prompt, IReadOnlyList<int> continuation)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var ids = tensor(prompt.Concat(continuation).Select(t => (long)t).ToArray()).unsqueeze(0);
        var logProbs = lm.Forward(ids)[0].log_softmax(-1);
        double sum = 0;
        for (int j = 0; j < continuation.Count; j++) sum += logProbs[prompt.Length - 1 + j, continuation[j]].item<float>();
        return sum;
    }

    [Fact]
    public void GreedyEqualsArgmaxOfFullForwardsWithoutCache()
    {
        using var lm = Model();
        var config = new GenerationConfig { MaxNewTokens = 10, EosTokenId = [Eos] };
        var result = Gen.Generate(lm, [Prompts[0]], config);
        var (expected, lps) = NaiveGreedy(lm, Prompts[0], 10, Eos);
        var got = result.Best(0);
        Assert.Equal(expected, got.Tokens);
        for (int i = 0; i < lps.Count; i++) Assert.Equal(lps[i], got.TokenLogProbs[i], 1e-4);
        Assert.Equal(lps.Sum(x => (double)x), got.Score, 1e-3);
        Assert.Equal(expected[^1] == Eos ? FinishReason.Eos : FinishReason.MaxNewTokens, got.FinishReason);
    }

    [Fact]
    public void BatchedLeftPaddedGreedyEqualsPerPromptGreedy()
    {
        using var lm = Model();
        var config = new GenerationConfig { MaxNewTokens = 8, EosTokenId = [Eos] };
        var batched = Gen.Generate(lm, Prompts, config);
        Assert.Equal(Prompts.Length, batched.Count);
        for (int p = 0; p < Prompts.Length; p++)
        {
            var single = Gen.Generate(lm, [Prompts[p]], config).Best(0);
            Assert.Equal(single.Tokens, batched.Best(p).Tokens);
            Assert.Equal(single.Score, batched.Best(p).Score, 1e-3);
        }
    }

    [Fact]
    public void EosStopsARowAndMaxNewTokensCapsTheRest()
    {
        using var lm = Model();
        var free = Gen.Generate(lm, [Prompts[0]], new GenerationConfig { MaxNewTokens = 6, EosTokenId = [49] }).Best(0);
        Assert.True(free.Tokens.Length <= 6);
        // Make the 3rd greedy token an EOS id (one of two): generation must stop right there.
        int third = free.Tokens[2];
        if (free.Tokens[..2].Contains(third)) return; // would stop earlier; nothing to check with this seed
        var stopped = Gen.Generate(lm, [Prompts[0]], new GenerationConfig { MaxNewTokens = 6, EosTokenId = [49, third] }).Best(0);
        Assert.Equal(free.Tokens[..3], stopped.Tokens);
        Assert.Equal(FinishReason.Eos, stopped.FinishReason);
    }

    [Fact]
    public void SamplingIsDeterministicPerSeedAndTopK1IsGreedy()
    {
        using var lm = Model();
        var sample = new GenerationConfig { MaxNewTokens = 12, DoSample = true, TopK = 0, Temperature = 1.5, EosTokenId = [Eos], Seed = 7 };
        var a = Gen.Generate(lm, Prompts, sample);
        var b = Gen.Generate(lm, Prompts, sample);
        var c = Gen.Generate(lm, Prompts, sample with { Seed = 8 });
        for (int p = 0; p < Prompts.Length; p++) Assert.Equal(a.Best(p).Tokens, b.Best(p).Tokens);
        Assert.True(Enumerable.Range(0, Prompts.Length).Any(p => !a.Best(p).Tokens.SequenceEqual(c.Best(p).Tokens)), "different seeds gave identical samples");

        var greedy = Gen.Generate(lm, Prompts, new GenerationConfig { MaxNewTokens = 12, EosTokenId = [Eos] });
        var topK1 = Gen.Generate(lm, Prompts, sample with { TopK = 1 });
        var tinyTopP = Gen.Generate(lm, Prompts, sample with { TopP = 1e-6 });
        for (int p = 0; p < Prompts.Length; p++)
        {
            Assert.Equal(greedy.Best(p).Tokens, topK1.Best(p).Tokens);
            Assert.Equal(greedy.Best(p).Tokens, tinyTopP.Best(p).Tokens);
        }
    }

    [Fact]
    public void NumReturnSequencesSamplesSeveralPerPromptFromOnePrefill()
    {
        using var lm = Model();
        var config = new GenerationConfig { MaxNewTokens = 6, DoSample = true, TopK = 0, Temperature = 2.0, NumReturnSequences = 4, EosTokenId = [Eos], Seed = 3 };
        var result = Gen.Generate(lm, Prompts[..2], config);
        Assert.All(result.Sequences, s => Assert.Equal(4, s.Count));
        Assert.True(result[0].Select(s => string.Join(',', s.Tokens)).Distinct().Count() > 1);
        foreach (var s in result[1])
            Assert.Equal(FullLogProb(lm, Prompts[1], s.Tokens), s.SumLogProb, 1e-3);
    }

    [Fact]
    public void BeamSearchWithOneBeamEqualsGreedy()
    {
        using var lm = Model();
        var greedy = Gen.Generate(lm, Prompts, new GenerationConfig { MaxNewTokens = 8, EosTokenId = [Eos] });
        // Generate routes num_beams = 1 to greedy; run the beam loop itself with one beam.
        var beam1 = Gen.BeamSearch(lm, Prompts, new GenerationConfig { MaxNewTokens = 8, EosTokenId = [Eos], NumBeams = 1 });
        for (int p = 0; p < Prompts.Length; p++) Assert.Equal(greedy.Best(p).Tokens, beam1.Best(p).Tokens);
    }

    [Fact]
    public void BeamScoresAreTheModelsLogProbsAndComeBestFirst()
    {
        using var lm = Model();
        var config = new GenerationConfig { MaxNewTokens = 7, EosTokenId = [Eos], NumBeams = 2, NumReturnSequences = 2 };
        var beams = Gen.Generate(lm, Prompts, config);
        foreach (var (seqs, p) in beams.Sequences.Select((s, i) => (s, i)))
        {
            Assert.Equal(2, seqs.Count);
            Assert.True(seqs[0].Score >= seqs[1].Score);
            foreach (var s in seqs)
            {
                // Scores are the model's own log-probs: recomputed by a full forward they agree.
                Assert.Equal(FullLogProb(lm, Prompts[p], s.Tokens), s.SumLogProb, 1e-3);
                Assert.Equal(s.SumLogProb / s.Tokens.Length, s.Score, 1e-4); // length_penalty 1
            }
        }
    }

    [Fact]
    public void WiderBeamFindsASequenceAtLeastAsLikelyAsGreedy()
    {
        using var lm = Model(seed: 12);
        // length_penalty 0: beams are ranked by total log-prob, the quantity compared.
        var greedy = Gen.Generate(lm, Prompts, new GenerationConfig { MaxNewTokens = 6, EosTokenId = [Eos] });
        var beam = Gen.Generate(lm, Prompts, new GenerationConfig { MaxNewTokens = 6, EosTokenId = [Eos], NumBeams = 5, LengthPenalty = 0 });
        for (int p = 0; p < Prompts.Length; p++)
        {
            double g = FullLogProb(lm, Prompts[p], greedy.Best(p).Tokens);
            double bm = FullLogProb(lm, Prompts[p], beam.Best(p).Tokens);
            Assert.True(bm >= g - 1e-4, $"prompt {p}: beam {bm} < greedy {g}");
            Assert.Equal(bm, beam.Best(p).Score, 1e-3);
        }
    }

    [Fact]
    public void BeamAsWideAsTheVocabularyFindsTheExactBestTwoTokenContinuation()
    {
        using var lm = Model(seed: 13);
        int v = lm.Config.VocabSize;
        int[] prompt = Prompts[0];
        var beam = Gen.Generate(lm, [prompt], new GenerationConfig { MaxNewTokens = 2, EosTokenId = [Eos], NumBeams = v, LengthPenalty = 0 }).Best(0);
        // Brute force over every continuation of at most two tokens (EOS ends a continuation early).
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var promptIds = tensor(prompt.Select(t => (long)t).ToArray());
        var first = lm.Forward(promptIds.unsqueeze(0))[0, -1].log_softmax(-1);                      // [V]
        var all = cat([promptIds.unsqueeze(0).expand(v, -1), arange(v).unsqueeze(1)], 1);           // [V, P+1]
        var second = lm.Forward(all)[.., -1].log_softmax(-1);                                        // [V, V]
        var total = first.unsqueeze(1) + second;
        total[Eos] = float.NegativeInfinity;
        long flat = total.argmax().item<long>();
        double bestTwo = total.max().item<float>(), eosOnly = first[Eos].item<float>();
        int[] expected = eosOnly > bestTwo ? [Eos] : [(int)(flat / v), (int)(flat % v)];
        Assert.Equal(expected, beam.Tokens);
        Assert.Equal(Math.Max(bestTwo, eosOnly), beam.Score, 1e-4);
    }

    [Fact]
    public void ConstrainedDecodingOnlyProducesSequencesOfThePromptsOwnTrie()
    {
        using var lm = Model();
        var trieA = new TokenTrie([5, 6, 7, Eos], [5, 8, Eos], [9, Eos], [5, 6, 10, 11, Eos], [40, 41, 42, 43, Eos]);
        var trieB = new TokenTrie([30, 31, Eos], [30, 33, 34, Eos], [12, Eos]);
        TokenTrie?[] tries = [trieA, trieB, null];
        var configs = new[]
        {
            new GenerationConfig { MaxNewTokens = 10, EosTokenId = [Eos] },
            new GenerationConfig { MaxNewTokens = 10, EosTokenId = [Eos], NumBeams = 3, NumReturnSequences = 3 },
            new GenerationConfig { MaxNewTokens = 10, EosTokenId = [Eos], DoSample = true, TopK = 0, Temperature = 3.0, NumReturnSequences = 5, Seed = 1 },
        };
        foreach (var config in configs)
        {
            var result = Gen.Generate(lm, Prompts, config, tries);
            for (int p = 0; p < 2; p++)
            {
                foreach (var s in result[p])
                {
                    Assert.True(tries[p]!.Contains(s.Tokens), $"{string.Join(',', s.Tokens)} not in trie {p} (beams {config.NumBeams})");
                    Assert.Equal(Eos, s.Tokens[^1]);
                    Assert.Equal(FinishReason.Eos, s.FinishReason);
                }
                if (config.NumBeams > 1) Assert.Equal(result[p].Count, result[p].Select(s => string.Join(',', s.Tokens)).Distinct().Count());
            }
        }
        // Beam search over a trie finds the most likely allowed sequence (all 3 of trie B are returned, best first).
        var beam = Gen.Generate(lm, Prompts, configs[1], tries)[1];
        var best = new[] { new[] { 30, 31, Eos }, [30, 33, 34, Eos], [12, Eos] }
            .Select(c => (c, lp: FullLogProb(lm, Prompts[1], c) / c.Length)).OrderByDescending(x => x.lp).ToArray();
        Assert.Equal(best.Select(x => x.c), beam.Select(s => s.Tokens));
    }

    [Fact]
    public void TrieWithoutEosEndsAtLeafWithConstraintReason()
    {
        using var lm = Model();
        var trie = new TokenTrie([7, 8, 9], [7, 3]);
        var s = Gen.Generate(lm, [Prompts[0]], new GenerationConfig { MaxNewTokens = 10, EosTokenId = [Eos] }, trie).Best(0);
        Assert.True(trie.Contains(s.Tokens));
        Assert.Equal(FinishReason.Constraint, s.FinishReason);
    }

    [Fact]
    public void StopStringTruncatesGeneration()
    {
        using var lm = Model();
        static string Decode(IReadOnlyList<int> ids) => string.Concat(ids.Select(i => $"<{i}>"));
        var free = Gen.Generate(lm, [Prompts[2]], new GenerationConfig { MaxNewTokens = 8, EosTokenId = [49] }, decode: Decode).Best(0);
        Assert.Equal(Decode(free.Tokens), free.Text);
        string stop = $"<{free.Tokens[3]}>";
        int expectedLength = Enumerable.Range(1, free.Tokens.Length).First(k => Decode(free.Tokens[..k]).Contains(stop));
        var config = new GenerationConfig { MaxNewTokens = 8, EosTokenId = [49], StopStrings = [stop] };
        var stopped = Gen.Generate(lm, [Prompts[2]], config, decode: Decode).Best(0);
        Assert.Equal(free.Tokens[..expectedLength], stopped.Tokens);
        Assert.Equal(FinishReason.StopString, stopped.FinishReason);
        var text = Decode(free.Tokens[..expectedLength]);
        Assert.Equal(text[..text.IndexOf(stop, StringComparison.Ordinal)], stopped.Text);
        Assert.Throws<ArgumentException>(() => Gen.Generate(lm, [Prompts[2]], config));
    }

    [Fact]
    public void BadInputsThrowClearErrors()
    {
        using var lm = Model();
        var config = new GenerationConfig { MaxNewTokens = 4 };
        Assert.Contains("prompt 1 is empty", Assert.Throws<ArgumentException>(() => Gen.Generate(lm, [[1, 2], []], config)).Message);
        Assert.Contains("outside the vocabulary", Assert.Throws<ArgumentException>(() => Gen.Generate(lm, [[1, 99]], config)).Message);
        Assert.Contains("max_position_embeddings", Assert.Throws<ArgumentException>(() => Gen.Generate(lm, [[1]], config with { MaxNewTokens = 100 })).Message);
        Assert.Throws<ArgumentException>(() => Gen.Generate(lm, [[1], [2]], config, [new TokenTrie([3])]));
    }

    [Fact]
    public void GenerationLeavesNoLiveTensorsBehind()
    {
        using var lm = Model();
        var config = new GenerationConfig { MaxNewTokens = 20, EosTokenId = [49], NumBeams = 3 };
        Gen.Generate(lm, Prompts, config); // warm-up: rotary tables are cached per dtype on first use
        var stats = DisposeScopeManager.Statistics;
        stats.Reset();
        Gen.Generate(lm, Prompts, config);
        Gen.Generate(lm, Prompts, config with { NumBeams = 1 }, [new TokenTrie([3, 4, 5]), null, null]);
        Assert.True(stats.ThreadTotalLiveCount == 0, stats.ToString());
    }
}
