using RecAlign.Data;
using RecAlign.Interpretation;
using RecAlign.Models.Language;
using RecAlign.Models.Language.Generation;
using LmGenerator = RecAlign.Models.Language.Generation.Generator;
using TorchGenerator = TorchSharp.torch.Generator;
using RecAlign.Models.Sequential;
using RecAlign.Tests.Models;
using RecAlign.Text;
using RecAlign.Training;
using RecAlign.Training.Optimization;
using TorchSharp;
using static TorchSharp.torch;

namespace RecAlign.Tests.Interpretation;

/// <summary>The LM's soft-token path (<see cref="InjectedEmbeddings"/>) and RecInterpreter's pieces.</summary>
[Collection(GlobalTorchRng.Name)]
public sealed class InterpreterTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "recalign-interp-" + Guid.NewGuid().ToString("N"));
    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    // ---------------------------------------------------------------- injection into the LM

    [Fact]
    public void Injection_ChangesThePlaceholderPosition_AndNothingBeforeIt()
    {
        using var lm = LanguageModel.Create(LanguageModelTests.TinyConfig(), seed: 3);
        using var scope = NewDisposeScope();
        var ids = tensor(new long[] { 1, 5, 9, 0, 7, 3 }, [1, 6]);
        using var g = new TorchGenerator(7);
        var vector = randn([1, lm.Config.HiddenSize], generator: g);
        var injected = InjectedEmbeddings.ForRows([new SoftTokens([3], vector)], [0], 1, 6, CPU)!;
        // At the input: exactly the placeholder's row is replaced.
        var plainEmb = lm.EmbeddingWeight.index_select(0, ids.reshape(-1)).unsqueeze(0);
        var mixed = injected.Apply(plainEmb);
        for (int p = 0; p < 6; p++)
            Assert.Equal(p == 3, !mixed[0, p].allclose(plainEmb[0, p], 0, 0));
        Assert.True(mixed[0, 3].allclose(vector[0], 0, 0));
        // At the output: positions before it are untouched (causal), the placeholder's own output changes.
        var plain = lm.Forward(ids);
        var soft = lm.Forward(ids, injected: injected);
        Assert.True(plain.narrow(1, 0, 3).allclose(soft.narrow(1, 0, 3), 0, 1e-6), "a position before the soft token changed");
        Assert.False(plain[0, 3].allclose(soft[0, 3], 0, 1e-3), "the soft token's position kept the placeholder's output");
    }

    [Fact]
    public void InjectingTheTokensOwnEmbedding_ReproducesThePlainModel_InForwardAndGeneration()
    {
        using var lm = LanguageModel.Create(LanguageModelTests.TinyConfig(), seed: 4);
        lm.eval();
        int[][] prompts = [[1, 5, 9, 12, 7], [1, 22, 8]];
        int[][] positions = [[1, 3], [2]];
        SoftTokens Own(int r) => new(positions[r], lm.EmbeddingWeight.index_select(0, tensor(positions[r].Select(p => (long)prompts[r][p]).ToArray())).detach());
        using (var scope = NewDisposeScope())
        {
            var ids = tensor(prompts[0].Select(i => (long)i).ToArray(), [1, 5]);
            var injected = InjectedEmbeddings.ForRows([Own(0)], [0], 1, 5, CPU);
            Assert.True(lm.Forward(ids).allclose(lm.Forward(ids, injected: injected), 0, 0));
        }
        // Generation left-pads the shorter prompt: the soft tokens must follow it.
        var config = new GenerationConfig { MaxNewTokens = 6, EosTokenId = [2], PadTokenId = 0 };
        var plain = LmGenerator.Generate(lm, prompts, config);
        var soft = LmGenerator.Generate(lm, prompts, config, softTokens: [Own(0), Own(1)]);
        for (int r = 0; r < 2; r++) Assert.Equal(plain.Best(r).Tokens, soft.Best(r).Tokens);
        // And other vectors do change what is generated (the path is live in generation).
        using var g = new TorchGenerator(1);
        var other = LmGenerator.Generate(lm, prompts, config, softTokens: [new SoftTokens([1, 3], randn([2, lm.Config.HiddenSize], generator: g) * 3), null]);
        Assert.NotEqual(plain.Best(0).TokenLogProbs, other.Best(0).TokenLogProbs);
        Assert.Equal(plain.Best(1).Tokens, other.Best(1).Tokens);
    }

    // ---------------------------------------------------------------- the adapter

    [Fact]
    public void Adapter_WeightsPositionsFromTheMostRecent_AndIgnoresPadding()
    {
        using var adapter = new StateAdapter(positions: 3, recHiddenSize: 4, hiddenSize: 6, seed: 5);
        using var scope = NewDisposeScope();
        using var g = new TorchGenerator(2);
        var states = randn([2, 5, 4], generator: g);
        var lengths = tensor(new long[] { 4, 2 });
        var pooled = adapter.Pool(states, lengths);
        // By hand: s = Σ_r a_r·H[n−1−r] + b over the last min(n, 3) positions.
        var a = adapter.named_parameters().Single(p => p.name == "position_weight").parameter;
        var b = adapter.named_parameters().Single(p => p.name == "position_bias").parameter;
        var row0 = a[0] * states[0, 3] + a[1] * states[0, 2] + a[2] * states[0, 1] + b;
        var row1 = a[0] * states[1, 1] + a[1] * states[1, 0] + b;
        Assert.True(pooled[0].allclose(row0, 1e-5, 1e-6));
        Assert.True(pooled[1].allclose(row1, 1e-5, 1e-6));
        // Padding invariance: garbage past each length, and more of it, changes nothing.
        var wider = cat([states, randn([2, 3, 4], generator: g) * 100], 1);
        wider[1].narrow(0, 2, 3).copy_(randn([3, 4], generator: g) * 100);
        Assert.True(adapter.Forward(states, lengths).allclose(adapter.Forward(wider, lengths), 1e-5, 1e-5));
        // The same real states left-aligned at another width give the same token.
        var narrow = states[1].narrow(0, 0, 2).unsqueeze(0);
        Assert.True(adapter.Forward(narrow, tensor(new long[] { 2 }))[0].allclose(adapter.Forward(states, lengths)[1], 1e-5, 1e-5));
    }

    [Fact]
    public void Adapter_RoundTripsThroughItsDirectory()
    {
        using var adapter = new StateAdapter(4, 8, 16, seed: 9);
        var info = new InterpreterInfo { LanguageModel = "/lm", Recommender = "/rec", Task = "both", RecoveryPrompt = "r <SeqHere>", ResidualPrompt = "a <SeqHere> b <SeqHere>" };
        InterpreterDirectory.Save(adapter, info, _dir);
        Assert.True(File.Exists(Path.Combine(_dir, InterpreterDirectory.WeightsFile)));
        Assert.True(RecAlign.IO.OutputKind.Interpreter.Recognizes(_dir));
        var (loaded, loadedInfo) = InterpreterDirectory.Load(_dir);
        using (loaded)
        {
            Assert.Equal(info with { Positions = 4, RecHiddenSize = 8, HiddenSize = 16 }, loadedInfo);
            using var scope = NewDisposeScope();
            using var g = new TorchGenerator(3);
            var states = randn([3, 4, 8], generator: g);
            var lengths = tensor(new long[] { 4, 1, 3 });
            Assert.True(adapter.Forward(states, lengths).allclose(loaded.Forward(states, lengths), 0, 0));
        }
    }

    // ---------------------------------------------------------------- metrics

    [Fact]
    public void Recovery_CountsLiteralTitles_NotRegexes_PerUser()
    {
        string[] history = ["a+b (c)", "Love", "x.y", "Love"];
        // "a+b (c)" as a regex would need "ab c" or similar; as text it is found. "x.y" as a regex would match "xzy".
        Assert.Equal(2, InterpretationMetrics.Recovered("I like a+b (c), Lovers and xzy", history)); // distinct titles: a+b (c), Love
        Assert.Equal(0, InterpretationMetrics.Recovered("aab c and love", history)); // case-sensitive, literal
        Assert.Equal(3, InterpretationMetrics.Recovered("x.y; Love; a+b (c)", history));
        var outputs = new List<InterpretationOutput>
        {
            new(InterpretTask.Recovery, 1, "", "", 2, 3, false),
            new(InterpretTask.Recovery, 2, "", "", 0, 2, false),
            new(InterpretTask.Recovery, 3, "", "", 2, 4, false),
            new(InterpretTask.Residual, 1, "", "", 0, 0, true),
            new(InterpretTask.Residual, 2, "", "", 0, 0, false),
        };
        var scores = InterpretationEvaluator.Summarize(outputs);
        Assert.Equal(4.0 / 3, scores.Metrics["recovered_mean"], 12);
        Assert.Equal((2.0 / 3 + 0 + 0.5) / 3, scores.Metrics["recovered_fraction"], 12);
        Assert.Equal(0.5, scores.Metrics["residual_accuracy"]);
        Assert.Equal(new Dictionary<int, int> { [0] = 1, [2] = 2 }, scores.RecoveredHistogram);
        Assert.True(InterpretationMetrics.ResidualHit("  \"a+b (C)\". ", "a+b (c)"));
        Assert.False(InterpretationMetrics.ResidualHit("a+b (c) and more", "a+b (c)"));
    }

    // ---------------------------------------------------------------- examples and training

    private static readonly string[] Titles = ["Alpha Band", "Beta Boys", "Gamma (Live)", "Delta+", "Epsilon", "Zeta Crew"];

    private sealed record Setup(LanguageModel Lm, ITokenizer Tokenizer, SequentialModel Rec, ItemCatalog Catalog, List<InterpretationExample> Examples) : IDisposable
    {
        public void Dispose() { Lm.Dispose(); Rec.Dispose(); }
    }

    private static Setup Make(InterpretTask task = InterpretTask.Both)
    {
        var catalog = new ItemCatalog(Titles.Select((t, i) => new Item(i, $"e{i}", t)));
        var tok = CompactVocabularyTokenizer.Build([string.Join(", ", Titles), InterpretationPrompts.DefaultRecovery, InterpretationPrompts.DefaultResidual]);
        var lm = LanguageModel.Create(LanguageModelTests.TinyConfig() with { VocabSize = tok.VocabSize, MaxPositionEmbeddings = 128 }, seed: 1);
        lm.eval();
        foreach (var p in lm.parameters()) p.requires_grad = false;
        var rec = SequentialModel.Create(SequentialModelConfig.For("sasrec") with { NItems = 6, MaxSeqLength = 3, HiddenSize = 8, InnerSize = 16, NLayers = 1, NHeads = 2 }, seed: 2);
        rec.eval();
        var rng = new Random(4);
        var source = Enumerable.Range(0, 24).Select(u =>
        {
            var h = Enumerable.Range(0, 1 + u % 3).Select(_ => rng.Next(6)).ToArray();
            return new SequenceExample(u, h, rng.Next(6), 0);
        }).ToList();
        var (examples, skipped) = InterpretationData.Build(source, catalog, InterpretationData.MapToRecommender(catalog, catalog), 3, task,
            new InterpretationPrompts(), tok, 0, 128, "test");
        Assert.Equal(0, skipped);
        return new Setup(lm, tok, rec, catalog, examples);
    }

    [Fact]
    public void Examples_HoldTheFullTarget_SlotsAtPlaceholders_AndRefuseWhatDoesNotFit()
    {
        using var s = Make();
        var recovery = s.Examples.First(e => e.Task == InterpretTask.Recovery && e.HistoryTitles.Count == 3);
        Assert.Single(recovery.Slots);
        Assert.Equal(string.Join(", ", recovery.HistoryTitles), recovery.Target);
        Assert.Equal(" " + recovery.Target, s.Tokenizer.Decode(recovery.Response));
        var residual = s.Examples.First(e => e.Task == InterpretTask.Residual);
        Assert.Equal(2, residual.Slots.Length);
        Assert.Equal(residual.States[0].Items.Length == 3 ? residual.States[0].Items[1..] : residual.States[0].Items, residual.States[1].Items[..^1]);
        var tooLong = new SequenceExample(0, [0, 1, 2], 3, 0);
        var e = Assert.Throws<ArgumentException>(() => InterpretationData.Build([tooLong], s.Catalog, InterpretationData.MapToRecommender(s.Catalog, s.Catalog), 3,
            InterpretTask.Recovery, new InterpretationPrompts(), s.Tokenizer, 0, 20, "val.csv"));
        Assert.Contains("val.csv", e.Message);
        Assert.Contains("never cut", e.Message);
    }

    private static TrainingConfig Training(long steps, int saveEvery = 0) => new()
    {
        MaxSteps = steps, BatchSize = 8, LogEvery = 1, SaveEvery = saveEvery, Seed = 3, Precision = Precision.Fp32, MetricForBestModel = "",
        Optimizer = new OptimizerConfig { LearningRate = 1e-2, WeightDecay = 1e-6, Schedule = LrScheduleKind.Constant, WarmupRatio = 0 },
    };

    [Fact]
    public void Training_TheAdapterAloneLowersTheLoss_TheLmStaysFrozen()
    {
        using var s = Make();
        using var adapter = new StateAdapter(3, 8, s.Lm.Config.HiddenSize, seed: 6);
        var before = s.Lm.parameters().Select(p => p.clone()).ToList();
        var objective = new InterpretationObjective(s.Lm, adapter, new RecommenderStates(s.Rec), s.Examples, s.Tokenizer.PadOrEosId());
        var result = new Trainer(adapter, objective, Training(40)).Train();
        var losses = result.History.Where(h => h.Values.ContainsKey("loss")).Select(h => h.Values["loss"]).ToList();
        Assert.True(losses.TakeLast(5).Average() < losses.Take(3).Average() - 0.3, $"loss {losses.Take(3).Average():F3} → {losses.TakeLast(5).Average():F3}");
        Assert.True(s.Lm.parameters().Zip(before).All(p => p.First.allclose(p.Second, 0, 0)), "the LM changed");
        // Evaluation runs end to end on the trained adapter.
        var outputs = InterpretationEvaluator.Run(s.Lm, s.Tokenizer, adapter, new RecommenderStates(s.Rec), s.Examples.Take(4).ToList(), maxNewTokens: 8, batchSize: 3);
        Assert.Equal(4, outputs.Count);
        foreach (var b in before) b.Dispose();
    }

    [Fact]
    public void Resume_GivesTheUninterruptedAdaptersWeights_WithRecommenderAndRandomStates()
    {
        foreach (bool random in new[] { false, true })
        {
            using var s = Make();
            IHistoryStates States() => random ? new RandomStates(3, 8, 0.5, seed: 9) : new RecommenderStates(s.Rec);
            string a = Path.Combine(_dir, $"a{random}"), b = Path.Combine(_dir, $"b{random}");
            using var full = new StateAdapter(3, 8, s.Lm.Config.HiddenSize, seed: 6);
            new Trainer(full, new InterpretationObjective(s.Lm, full, States(), s.Examples, 0), Training(10, saveEvery: 3), a).Train();
            using (var crashing = new StateAdapter(3, 8, s.Lm.Config.HiddenSize, seed: 6))
                Assert.Throws<OperationCanceledException>(() =>
                    new Trainer(crashing, new InterpretationObjective(s.Lm, crashing, States(), s.Examples, 0), Training(10, saveEvery: 3), b) { CrashAfterStep = 5 }.Train());
            using var resumed = new StateAdapter(3, 8, s.Lm.Config.HiddenSize, seed: 77); // everything must come from the checkpoint
            new Trainer(resumed, new InterpretationObjective(s.Lm, resumed, States(), s.Examples, 0), Training(10, saveEvery: 3), b).Train(resume: true);
            Assert.Equal(Trainer.LossTrace(Trainer.LatestCheckpoint(a)!), Trainer.LossTrace(Trainer.LatestCheckpoint(b)!));
            foreach (var ((name, p), (_, q)) in full.named_parameters().Zip(resumed.named_parameters()))
                Assert.True(p.allclose(q, 0, 0), $"{name} differs after resume (random states: {random})");
        }
    }

    /// <summary>With LoRA the trainer sees the adapter and the LM's LoRA matrices as one module: both train, the LM's
    /// base weights do not move, and a resumed run ends with the uninterrupted run's adapter and LoRA weights.</summary>
    [Fact]
    public void WithLora_TheLmsAdaptersTrainToo_TheBaseStaysFrozen_AndResumeMatches()
    {
        Dictionary<string, Tensor> Train(string dir, long? crashAfter, bool resume, int adapterSeed)
        {
            using var s = Make();
            s.Lm.AddLora(new LoraConfig { Rank = 2, Alpha = 4, Dropout = 0, TargetModules = LoraConfig.AllTargets }, seed: 5);
            var frozen = s.Lm.named_parameters().Where(p => !p.parameter.requires_grad).Select(p => (p.name, Value: p.parameter.clone())).ToList();
            using var adapter = new StateAdapter(3, 8, s.Lm.Config.HiddenSize, seed: adapterSeed);
            var module = new RecAlign.Pipelines.Stages.InterpreterWithLm(adapter, s.Lm);
            var trainer = new Trainer(module, new InterpretationObjective(s.Lm, adapter, new RecommenderStates(s.Rec), s.Examples, 0), Training(12, saveEvery: 4), dir)
            {
                CrashAfterStep = crashAfter,
            };
            if (crashAfter is not null)
            {
                Assert.Throws<OperationCanceledException>(() => trainer.Train());
                return [];
            }
            var result = trainer.Train(resume: resume);
            var losses = result.History.Where(h => h.Values.ContainsKey("loss")).Select(h => h.Values["loss"]).ToList();
            if (!resume) Assert.True(losses.TakeLast(3).Average() < losses.Take(3).Average() - 0.1, $"loss {losses.Take(3).Average():F3} → {losses.TakeLast(3).Average():F3}");
            var now = s.Lm.named_parameters().ToDictionary(p => p.name, p => p.parameter);
            foreach (var (name, value) in frozen) Assert.True(now[name].allclose(value, 0, 0), $"base weight {name} moved");
            Assert.Contains(module.named_parameters(), p => p.name.Contains("lora_B") && p.parameter.abs().sum().item<float>() > 0);
            Assert.Contains(module.named_parameters(), p => p.name.StartsWith("adapter.") && p.parameter.requires_grad);
            return module.named_parameters().Where(p => p.parameter.requires_grad).ToDictionary(p => p.name, p => p.parameter.detach().clone());
        }
        string a = Path.Combine(_dir, "lora-a"), b = Path.Combine(_dir, "lora-b");
        var full = Train(a, null, false, 6);
        Train(b, 6, false, 6);
        var resumed = Train(b, null, true, 77); // the adapter's and LoRA's weights must all come from the checkpoint
        Assert.Equal(Trainer.LossTrace(Trainer.LatestCheckpoint(a)!), Trainer.LossTrace(Trainer.LatestCheckpoint(b)!));
        Assert.Equal(full.Keys.Order(), resumed.Keys.Order());
        foreach (var (name, value) in full) Assert.True(value.allclose(resumed[name], 0, 0), $"{name} differs after resume");
    }

    [Fact]
    public void RandomStates_AreFixedPerKey_AndIndependentOfTheItems()
    {
        var states = new RandomStates(4, 5, 2.0, seed: 1);
        using var scope = NewDisposeScope();
        var (x, lx) = states.Read([new StateRequest([0, 1], 10), new StateRequest([3, 2, 1, 0, 5], 11)], CPU);
        var (y, _) = states.Read([new StateRequest([4, 4], 10)], CPU);
        Assert.Equal(new long[] { 2, 4 }, lx.data<long>().ToArray());
        Assert.True(x[0].narrow(0, 0, 2).allclose(y[0].narrow(0, 0, 2), 0, 0), "the same key gives the same vectors, whatever the items");
        Assert.False(x[0].allclose(x[1], 0, 1e-3));
    }

    /// <summary>Each recommender's states have the width the adapter is built for (GRU4Rec's are its embedding size, not
    /// its GRU's hidden size).</summary>
    [Theory]
    [InlineData("sasrec")]
    [InlineData("gru4rec")]
    public void RecommenderStatesHaveTheWidthTheyDeclare(string model)
    {
        var config = RecAlign.Models.Sequential.SequentialModelConfig.For(model) with { NItems = 6, MaxSeqLength = 4 };
        using var rec = RecAlign.Models.Sequential.SequentialModel.Create(config, seed: 1);
        var states = new RecommenderStates(rec);
        var (read, lengths) = states.Read([new StateRequest([0, 1, 2], 1), new StateRequest([3], 2)], TorchSharp.torch.CPU);
        using (read) using (lengths)
        {
            Assert.Equal(new long[] { 2, 3, states.Dim }, read.shape);
            Assert.Equal(model == "gru4rec" ? config.EmbeddingSize : config.HiddenSize, states.Dim);
        }
    }
}
