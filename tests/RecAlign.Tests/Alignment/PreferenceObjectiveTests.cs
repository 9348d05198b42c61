using RecAlign.Alignment;
using RecAlign.Models.Language;
using RecAlign.Training;
using RecAlign.Training.Optimization;
using static TorchSharp.torch;

namespace RecAlign.Tests.Alignment;

public class PreferenceObjectiveTests
{
    private static LanguageModelConfig Config => new()
    {
        VocabSize = 40, HiddenSize = 32, IntermediateSize = 64, NumHiddenLayers = 2, NumAttentionHeads = 4,
        NumKeyValueHeads = 2, MaxPositionEmbeddings = 32,
    };

    /// <summary>Prompt [BOS, x] prefers the response [10 + x, EOS]; K negatives are other "items".</summary>
    private static List<TokenizedPreference> Data(int k) =>
        Enumerable.Range(0, 48).Select(i =>
        {
            int x = 3 + i % 6;
            var rejected = Enumerable.Range(1, k).Select(j => new[] { 10 + (x - 3 + j) % 6 + 3, 2 }).ToArray();
            return new TokenizedPreference([1, x, 30 + i % 5], [10 + x, 2], rejected);
        }).ToList();

    private static double RankAccuracy(LanguageModel lm)
    {
        // HR@1 over the 6 possible answers for each of the 6 prompts.
        using var _ = no_grad();
        int hits = 0;
        for (int x = 3; x < 9; x++)
        {
            var answers = Enumerable.Range(13, 6).Select(a => new[] { a, 2 }).ToList();
            using var s = ContinuationScorer.Score(lm, [[1, x, 30]], [answers], 0);
            if (s.Sums.argmax().item<long>() == x - 3) hits++;
        }
        return hits / 6.0;
    }

    private static TrainingConfig Training(int steps) => new()
    {
        Seed = 1, MaxSteps = steps, BatchSize = 8, Precision = Precision.Fp32, LogEvery = 1, BucketFactor = 1,
        Optimizer = new OptimizerConfig { LearningRate = 3e-3, WarmupSteps = 2, WeightDecay = 0 },
    };

    [Theory]
    [InlineData("dpo", 1)]
    [InlineData("sdpo", 3)]
    public void AlignmentLowersLossAndRaisesHitRatio(string lossType, int k)
    {
        using var lm = LanguageModel.Create(Config, seed: 5);
        var data = Data(k);
        var reference = ReferenceLogProbs.Compute(lm, data, padId: 0);
        double before = RankAccuracy(lm);
        var loss = PreferenceLosses.Create(new PreferenceLossConfig { LossType = lossType, Beta = 1.0 });
        var result = new Trainer(lm, new PreferenceObjective(lm, data, loss, 0, reference), Training(40)).Train();
        var first = result.History.First().Values;
        var last = result.History.Last(h => h.Values.ContainsKey("loss")).Values;
        // At step 0 policy == reference: DPO loss = ln 2, S-DPO = softplus(ln K) = ln(1 + K).
        Assert.Equal(Math.Log(1 + k), first["loss"], 3);
        Assert.True(last["loss"] < 0.3 * first["loss"], $"loss {first["loss"]} → {last["loss"]}");
        Assert.True(last["rewards/margins"] > 0);
        double after = RankAccuracy(lm);
        Assert.True(after >= 0.8 && after >= before + 0.5, $"HR@1 {before} → {after}");
    }

    /// <summary>β-DPO's and α-DPO's running moments (and β-DPO's step counter, which seeds its sampling) and BCO's
    /// running reward shift (also as a component of a combined loss) travel in the checkpoint: a run crashed at step 6
    /// and resumed from a different initialisation logs exactly the losses of an uninterrupted one.</summary>
    [Theory]
    [InlineData("betadpo")]
    [InlineData("alphadpo")]
    [InlineData("bco_pair")]
    [InlineData("dpo,bco_pair")] // a combined loss checkpoints its stateful components
    [InlineData("causaldpo")]
    [InlineData("causaldpo", true)] // its adversarial projection is a trainable parameter of the objective, checkpointed with the model's
    public void StatefulLossesResumeExactly(string lossType, bool adversarial = false)
    {
        using var dir = new RecAlign.Tests.Runs.TempDir();
        var data = Data(1);
        var config = Training(12) with { SaveEvery = 4 };
        ReferenceLogProbs reference;
        using (var start = LanguageModel.Create(Config, seed: 5)) reference = ReferenceLogProbs.Compute(start, data, padId: 0);
        IReadOnlyList<double> Run(string name, long seed, int? crashAfter, bool resume)
        {
            using var lm = LanguageModel.Create(Config, seed: seed);
            var loss = PreferenceLosses.Create(new PreferenceLossConfig
            {
                LossType = lossType, Beta = 1.0, CausalDpoProjection = adversarial ? EnvironmentProjection.Adversarial : EnvironmentProjection.Fixed,
                CausalDpoVrexWeight = adversarial ? 1 : 0,
            });
            var objective = new PreferenceObjective(lm, data, loss, 0, reference);
            Assert.Equal(adversarial ? 2 : 0, objective.Parameters.Count());
            var trainer = new Trainer(lm, objective, config, Path.Combine(dir.Path, name)) { CrashAfterStep = crashAfter };
            if (crashAfter is null) trainer.Train(resume);
            else Assert.Throws<OperationCanceledException>(() => trainer.Train(resume));
            (loss as IDisposable)?.Dispose();
            return Trainer.LossTrace(Trainer.LatestCheckpoint(Path.Combine(dir.Path, name))!);
        }
        var uninterrupted = Run("a", 5, null, false);
        Run("b", 5, 6, false);
        var state = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(Trainer.LatestCheckpoint(Path.Combine(dir.Path, "b"))!, Trainer.ObjectiveStateFile)))!;
        Assert.Equal(lossType, state["loss"]!.GetValue<string>());
        var moved = lossType switch
        {
            "betadpo" => state["gap_std"],
            "alphadpo" => state["margin_std"],
            "bco_pair" => state["reward_shift"],
            "causaldpo" => state["centres"]![1]![0],
            _ => state["components"]!["bco_pair"]!["reward_shift"],
        };
        Assert.NotEqual(0.0, moved!.GetValue<double>()); // a real state, not the initial zeros
        // Another initialisation: the weights, the RNG and the loss's state come from the checkpoint. CausalDPO's
        // environment features come from the model the run starts from (its frozen reference), as a resumed stage
        // reloads it, so its run restarts from the same model; its centres still come from the checkpoint.
        var resumed = Run("b", lossType == "causaldpo" ? 5 : 77, null, true);
        Assert.Equal(12, uninterrupted.Count);
        Assert.Equal(uninterrupted, resumed);
    }

    /// <summary>Embeds "genre A" or "genre B" as two distant points (with a little per-text jitter).</summary>
    private sealed class FakeEmbedder : RecAlign.Inference.ITextEmbedder
    {
        public List<string> Seen { get; } = [];
        public Tensor Embed(IReadOnlyList<string> texts)
        {
            Seen.AddRange(texts);
            return tensor(texts.SelectMany(t => new[] { t.Contains('A') ? 5f : -5f, t.Length * 0.01f, 1f }).ToArray(), [texts.Count, 3]);
        }
    }

    /// <summary>history_text features come from the examples' history text through the embedder, standardised; the
    /// k-means bank then separates the two kinds of history; examples without history text are a clear error.</summary>
    [Fact]
    public void CausalDpoInfersEnvironmentsFromHistoryText()
    {
        using var lm = LanguageModel.Create(Config, seed: 5);
        var data = Data(1).Select((e, i) => e with { History = i % 2 == 0 ? "genre A, A" : "genre B" }).ToList();
        var reference = ReferenceLogProbs.Compute(lm, data, padId: 0);
        var config = new PreferenceLossConfig { LossType = "causaldpo", CausalDpoFeatures = EnvironmentFeatures.HistoryText };
        var embedder = new FakeEmbedder();
        using var loss = (CausalDpoLoss)PreferenceLosses.Create(config);
        var objective = new PreferenceObjective(lm, data, loss, 0, reference, embedder);
        Assert.Equal(data.Select(e => e.History!), embedder.Seen);
        var centres = loss.Centres.Centres!.select(1, 0).data<double>().OrderBy(v => v).ToArray();
        Assert.True(centres[0] < -0.9 && centres[1] > 0.9, $"centres {string.Join(", ", centres)}");
        using (NewDisposeScope())
        {
            var output = objective.Compute([0, 1, 2, 3]);
            Assert.Equal(0.5, output.Stats[CausalDpoLoss.SizeStat(0)].to(ScalarType.Float64).item<double>(), 2);
        }
        var e = Assert.Throws<ArgumentException>(() => new PreferenceObjective(lm, Data(1), (CausalDpoLoss)PreferenceLosses.Create(config), 0, reference, embedder));
        Assert.Contains("no history text", e.Message);
    }

    /// <summary>given features: each example's known environment label, one-hot; with K = 2 environments each example is
    /// assigned to its own label's environment (a batch of labels 0, 0, 0, 1 has environment sizes 3/4 and 1/4, with
    /// full confidence); examples without a label are a clear error.</summary>
    [Fact]
    public void CausalDpoTakesGivenEnvironmentsAsOneHotFeatures()
    {
        using var lm = LanguageModel.Create(Config, seed: 5);
        var data = Data(1).Select((e, i) => e with { Environment = i % 4 == 3 ? 1 : 0 }).ToList();
        using (var features = PreferenceObjective.GivenFeatures(data))
        {
            Assert.Equal(new long[] { 48, 2 }, features.shape);
            Assert.Equal(new float[] { 1, 0, 1, 0, 1, 0, 0, 1 }, features.narrow(0, 0, 4).reshape(-1).data<float>().ToArray());
        }
        var reference = ReferenceLogProbs.Compute(lm, data, padId: 0);
        var config = new PreferenceLossConfig { LossType = "causaldpo", CausalDpoFeatures = EnvironmentFeatures.Given };
        using var loss = (CausalDpoLoss)PreferenceLosses.Create(config);
        var objective = new PreferenceObjective(lm, data, loss, 0, reference);
        using (NewDisposeScope())
        {
            var output = objective.Compute([0, 1, 2, 3]);
            var sizes = new[] { 0, 1 }.Select(k => output.Stats[CausalDpoLoss.SizeStat(k)].to(ScalarType.Float64).item<double>()).Order().ToArray();
            Assert.Equal(0.25, sizes[0], 3);
            Assert.Equal(0.75, sizes[1], 3);
            Assert.True(output.Stats[CausalDpoLoss.ConfidenceStat].to(ScalarType.Float64).item<double>() > 0.999);
        }
        var e = Assert.Throws<ArgumentException>(() => new PreferenceObjective(lm, Data(1), (CausalDpoLoss)PreferenceLosses.Create(config), 0, reference));
        Assert.Contains("no environment label", e.Message);
    }

        [Fact]
    public void LoraLiveReferenceEqualsCachedReference()
    {
        using var lm = LanguageModel.Create(Config, seed: 6);
        var data = Data(1);
        var cached = ReferenceLogProbs.Compute(lm, data, padId: 0);
        lm.AddLora(new LoraConfig { Rank = 4, Alpha = 8, Dropout = 0, TargetModules = LoraConfig.AllTargets }, seed: 2);
        using (var g = new Generator(3)) using (no_grad())
            foreach (var (name, p) in lm.named_parameters())
                if (name.Contains("lora_B")) p.normal_(0, 0.2, g); // policy now differs from the reference
        var loss = PreferenceLosses.Create(new PreferenceLossConfig { LossType = "dpo", Beta = 0.5 });
        int[] batch = [0, 1, 2, 3, 7];
        using var live = new PreferenceObjective(lm, data, loss, 0).Compute(batch).Loss;
        using var withCache = new PreferenceObjective(lm, data, loss, 0, cached).Compute(batch).Loss;
        Assert.Equal(withCache.item<float>(), live.item<float>(), 5);
    }

    [Fact]
    public void ReferenceCacheIsReusedOnlyForTheSameDataAndModel()
    {
        var path = Path.Combine(Path.GetTempPath(), "recalign-ref-" + Guid.NewGuid().ToString("N") + ".safetensors");
        try
        {
            using var lm = LanguageModel.Create(Config, seed: 7);
            var data = Data(2);
            var first = ReferenceLogProbs.LoadOrCompute(path, lm, data, 0, modelHash: "m1");
            using var other = LanguageModel.Create(Config, seed: 8);
            var reused = ReferenceLogProbs.LoadOrCompute(path, other, data, 0, modelHash: "m1"); // same hash: cache hit
            var recomputed = ReferenceLogProbs.LoadOrCompute(path, other, data, 0, modelHash: "m2");
            int[] all = Enumerable.Range(0, data.Count).ToArray();
            using var a = first.Rows(all, CPU);
            using var b = reused.Rows(all, CPU);
            using var c = recomputed.Rows(all, CPU);
            Assert.True(a.allclose(b, 0, 0));
            Assert.False(a.allclose(c, 1e-3, 1e-3));
        }
        finally { File.Delete(path); }
    }
}
