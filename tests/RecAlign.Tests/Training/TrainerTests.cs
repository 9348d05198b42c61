using RecAlign.Text;
using RecAlign.Models.Language;
using RecAlign.Training;
using RecAlign.Training.Batching;
using RecAlign.Training.Optimization;
using TorchSharp;
using static TorchSharp.torch;

namespace RecAlign.Tests.Training;

public class TrainerTests
{
    private static LanguageModelConfig Config => new()
    {
        VocabSize = 24, HiddenSize = 32, IntermediateSize = 64, NumHiddenLayers = 2, NumAttentionHeads = 4,
        NumKeyValueHeads = 2, MaxPositionEmbeddings = 32,
    };

    /// <summary>Deterministic "sentences": each is a counting pattern start, start+step, ... so the next token is
    /// predictable from the previous two.</summary>
    private static List<TokenizedExample> Corpus(int n) =>
        Enumerable.Range(0, n).Select(i =>
        {
            int start = 3 + i % 7, step = 1 + i % 3;
            var seq = Enumerable.Range(0, 8).Select(k => 3 + (start + k * step) % 20).Append(2).ToArray();
            return new TokenizedExample([], seq);
        }).ToList();

    private static TrainingConfig Training(int steps, Precision precision = Precision.Fp32) => new()
    {
        Seed = 5, MaxSteps = steps, BatchSize = 8, MaxLength = 16, Precision = precision, LogEvery = 5, BucketFactor = 2,
        Optimizer = new OptimizerConfig { LearningRate = 3e-3, WarmupSteps = 5, WeightDecay = 0.0, MaxGradNorm = 1.0 },
    };

    /// <summary>Worked example: 20 steps logged every 2 (and evaluated at 10 and 20): the last 10 % of the steps are
    /// steps 19-20, one log entry; 20 % are steps 17-20, two entries (18, 20) averaged; evaluation entries and
    /// non-statistics (learning rate) are left out; first_loss is the first logged loss.</summary>
    [Fact]
    public void FinalTrainingValuesAverageTheLogEntriesOfTheLastStepsAndKeepTheFirstLoss()
    {
        var history = new List<TrainingLogEntry>();
        for (int step = 2; step <= 20; step += 2)
        {
            history.Add(new TrainingLogEntry(step, step / 20.0, new Dictionary<string, double>
            {
                ["loss"] = 2.0 - step * 0.05, ["learning_rate"] = 1e-3, ["rewards/margins"] = step * 0.1,
            }));
            if (step % 10 == 0) history.Add(new TrainingLogEntry(step, step / 20.0, new Dictionary<string, double> { ["eval_hr1"] = 0.5 }));
        }
        var result = new TrainingResult(20, 1.0, null, null, false, 1, history);

        var last = result.FinalTrainingValues();
        Assert.Equal(["first_loss", "loss", "rewards/margins"], last.Keys.Order());
        Assert.Equal(1.0, last["loss"], 12);
        Assert.Equal(2.0, last["rewards/margins"], 12);
        Assert.Equal(1.9, last["first_loss"], 12);

        var fifth = result.FinalTrainingValues(0.2);
        Assert.Equal((1.1 + 1.0) / 2, fifth["loss"], 12);
        Assert.Equal((1.8 + 2.0) / 2, fifth["rewards/margins"], 12);
        Assert.Empty(new TrainingResult(0, double.NaN, null, null, false, 0, []).FinalTrainingValues());
    }

    [Fact]
    public void TinyModelOverfitsSmallCorpus()
    {
        using var lm = LanguageModel.Create(Config, seed: 1);
        var objective = new NextTokenObjective(lm, Corpus(24), padId: 0, maxLength: 16);
        var result = new Trainer(lm, objective, Training(250) with { Optimizer = new OptimizerConfig { LearningRate = 1e-2, WarmupSteps = 10, WeightDecay = 0 } }).Train();
        var first = result.History.First(h => h.Values.ContainsKey("loss")).Values["loss"];
        Assert.True(first > 2.0, $"initial loss {first} should be near ln(24)≈3.2");
        // The best possible loss is ≈ ln(3)/8 ≈ 0.14 (the step of each pattern is unknown until its second token).
        Assert.True(result.FinalLoss < 0.4, $"final loss {result.FinalLoss} should fall below 0.4");
    }

    /// <summary>Adam's first step moves every element with a gradient by lr·|g|/(|g|+eps) ≈ lr, so one step shows each
    /// group's rate: a prefix given a 10× scale (a projector beside a pretrained LM) moves 10× as far as the rest.</summary>
    [Fact]
    public void LrScalesStepAPrefixAtItsOwnRate()
    {
        using var lm = LanguageModel.Create(Config, seed: 1);
        var before = lm.named_parameters().ToDictionary(p => p.name, p => p.parameter.detach().clone());
        var objective = new NextTokenObjective(lm, Corpus(24), padId: 0, maxLength: 16);
        var config = Training(1) with { Optimizer = new OptimizerConfig { LearningRate = 1e-3, Schedule = LrScheduleKind.Constant, WarmupSteps = 0, WarmupRatio = 0, WeightDecay = 0, MaxGradNorm = 0 } };
        new Trainer(lm, objective, config) { LrScales = new Dictionary<string, double> { ["model.layers.1"] = 10 } }.Train();
        foreach (var (name, p) in lm.named_parameters())
        {
            double moved = (p.detach() - before[name]).abs().max().item<float>();
            double expected = name.StartsWith("model.layers.1.") ? 1e-2 : 1e-3;
            Assert.True(Math.Abs(moved - expected) < 0.02 * expected, $"{name} moved {moved}, expected {expected}");
        }
        foreach (var t in before.Values) t.Dispose();
    }

    [Fact]
    public void ALearningRateFarTooHighStopsWithDivergence_NotACompletedCollapsedModel()
    {
        // lr 30 with clipping: every loss stays finite (no NaN to catch), but the running loss climbs far above where
        // it started; the trainer must stop and say so rather than return a collapsed model as trained.
        using var lm = LanguageModel.Create(Config, seed: 1);
        var objective = new NextTokenObjective(lm, Corpus(24), padId: 0, maxLength: 16);
        var config = Training(60) with { Optimizer = new OptimizerConfig { LearningRate = 30, WarmupSteps = 0, WeightDecay = 0, MaxGradNorm = 1.0 } };
        var e = Assert.Throws<TrainingDivergedException>(() => new Trainer(lm, objective, config).Train());
        Assert.Contains("lower the learning rate", e.Message);
        Assert.InRange(e.Step, 2, 60);
        // The same run with the check off trains on (the user asked for it) and ends far above the starting loss.
        using var lm2 = LanguageModel.Create(Config, seed: 1);
        var off = new Trainer(lm2, new NextTokenObjective(lm2, Corpus(24), padId: 0, maxLength: 16), config with { DivergenceFactor = 0 }).Train();
        Assert.True(off.FinalLoss > 2 * Math.Log(24), $"final loss {off.FinalLoss}");
    }

    [Fact]
    public void ANonFiniteLossStopsWithDivergenceNamingTheStep()
    {
        using var lm = LanguageModel.Create(Config, seed: 1);
        var inner = new NextTokenObjective(lm, Corpus(24), padId: 0, maxLength: 16);
        var e = Assert.Throws<TrainingDivergedException>(() => new Trainer(lm, new NaNAfter(inner, 3), Training(10)).Train());
        Assert.Equal(4, e.Step);
        Assert.Contains("NaN at step 4", e.Message);
    }

    [Fact]
    public void AResumeFromTheFinalCheckpointReportsItsLastLoss_NotNaN()
    {
        // Killed after the last checkpoint, before the run completed: the resume has no step left to train.
        var dir = Path.Combine(Path.GetTempPath(), "recalign-resume-end-" + Guid.NewGuid().ToString("N"));
        try
        {
            double finalLoss;
            using (var lm = LanguageModel.Create(Config, seed: 3))
                finalLoss = new Trainer(lm, new NextTokenObjective(lm, Corpus(16), 0, 16), Training(6) with { SaveEvery = 3 }, dir).Train().FinalLoss;
            using var again = LanguageModel.Create(Config, seed: 3);
            var resumed = new Trainer(again, new NextTokenObjective(again, Corpus(16), 0, 16), Training(6) with { SaveEvery = 3 }, dir).Train(resume: true);
            Assert.Equal(6, resumed.Steps);
            Assert.Equal(finalLoss, resumed.FinalLoss);
        }
        finally { if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true); }
    }

    /// <summary>An objective whose loss turns NaN after <c>calls</c> micro-batches.</summary>
    private sealed class NaNAfter(ITrainingObjective inner, int calls) : ITrainingObjective
    {
        private int _calls;
        public int Count => inner.Count;
        public int Length(int index) => inner.Length(index);
        public ObjectiveOutput Compute(IReadOnlyList<int> batch)
        {
            var o = inner.Compute(batch);
            return ++_calls > calls ? o with { Loss = o.Loss * float.NaN } : o;
        }
    }

    [Fact]
    public void ResumeAfterCrashReproducesUninterruptedLosses()
    {
        var dir = Path.Combine(Path.GetTempPath(), "recalign-resume-" + Guid.NewGuid().ToString("N"));
        try
        {
            var corpus = Corpus(40);
            var config = Training(12, Precision.Bf16) with { SaveEvery = 4 };
            IReadOnlyList<double> uninterrupted;
            long uninterruptedTokens;
            using (var lm = LanguageModel.Create(Config, seed: 2))
            {
                lm.to(ScalarType.BFloat16);
                uninterruptedTokens = new Trainer(lm, new NextTokenObjective(lm, corpus, 0, 16), config, Path.Combine(dir, "a")).Train().Tokens;
                uninterrupted = Trainer.LossTrace(Trainer.LatestCheckpoint(Path.Combine(dir, "a"))!);
            }
            using (var lm = LanguageModel.Create(Config, seed: 2))
            {
                lm.to(ScalarType.BFloat16);
                var crashing = new Trainer(lm, new NextTokenObjective(lm, corpus, 0, 16), config, Path.Combine(dir, "b")) { CrashAfterStep = 6 };
                Assert.Throws<OperationCanceledException>(() => crashing.Train());
            }
            using (var lm = LanguageModel.Create(Config, seed: 99)) // different init: everything must come from the checkpoint
            {
                lm.to(ScalarType.BFloat16);
                long? resumedAt = null;
                var resumed = new Trainer(lm, new NextTokenObjective(lm, corpus, 0, 16), config, Path.Combine(dir, "b"))
                    { OnResume = (step, _) => resumedAt = step }.Train(resume: true);
                Assert.Equal(12, resumed.Steps);
                Assert.Equal(4, resumedAt); // the last checkpoint before the crash after step 6
                Assert.True(uninterruptedTokens > 0);
                Assert.Equal(uninterruptedTokens, resumed.Tokens); // the whole run's tokens, not this process's
            }
            var afterResume = Trainer.LossTrace(Trainer.LatestCheckpoint(Path.Combine(dir, "b"))!);
            Assert.Equal(12, uninterrupted.Count);
            Assert.Equal(uninterrupted, afterResume); // bit-identical
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void EarlyStoppingKeepsBestCheckpoint()
    {
        var dir = Path.Combine(Path.GetTempPath(), "recalign-early-" + Guid.NewGuid().ToString("N"));
        try
        {
            using var lm = LanguageModel.Create(Config, seed: 3);
            var scripted = new Queue<double>([0.2, 0.5, 0.4, 0.3, 0.45, 0.1]);
            var trainer = new Trainer(lm, new NextTokenObjective(lm, Corpus(16), 0, 16),
                Training(60) with { EvalEvery = 2, MetricForBestModel = "hr1", EarlyStoppingPatience = 3 }, dir)
            {
                Evaluate = _ => new Dictionary<string, double> { ["hr1"] = scripted.Dequeue() },
            };
            var result = trainer.Train();
            Assert.True(result.StoppedEarly);
            Assert.Equal(4, result.BestStep);     // 0.5 at the second evaluation
            Assert.Equal(10, result.Steps);       // 3 evaluations without improvement after step 4
            Assert.Equal(0.5, result.BestMetrics!["hr1"]);
            Assert.True(Directory.Exists(Path.Combine(dir, "best")));
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }
}
