using RecAlign.Data;
using RecAlign.Models.Checkpoints;
using RecAlign.Models.Language;
using RecAlign.Prompts;
using RecAlign.Tests.Text;
using RecAlign.Text;
using RecAlign.Training;
using RecAlign.Training.Optimization;
using static TorchSharp.torch;

namespace RecAlign.Tests.Models;

public sealed class HybridItemEmbedderTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "recalign-hybrid-" + Guid.NewGuid().ToString("N"));
    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private static (LanguageModel, ItemTokenizer) Make(int items = 6)
    {
        var tok = ItemTokenizerTests.Make(items);
        return (LanguageModel.Create(LanguageModelTests.TinyConfig() with { VocabSize = tok.VocabSize }, 5), tok);
    }

    /// <summary>A recommender catalog of the LM's items in another order, one of them missing, with 4-d embeddings row r = r + 1.</summary>
    private static (ItemCatalog Catalog, Tensor Embeddings) Recommender(ItemCatalog lmItems)
    {
        var items = lmItems.Items.Reverse().Where(i => i.Id != 2).Select((i, r) => new Item(r, i.ExternalId, i.Title)).ToList();
        var emb = arange(1, items.Count + 1, ScalarType.Float32).unsqueeze(1).expand(items.Count, 4).contiguous();
        return (new ItemCatalog(items), emb);
    }

    private static HybridItemEmbedder Embedder(LanguageModel lm, ItemTokenizer tok, long seed = 3)
    {
        var (catalog, emb) = Recommender(tok.Catalog);
        return HybridItemEmbedder.FromRecommender(lm.Config.VocabSize, tok.FirstItemId, tok.Catalog, catalog, emb, lm.Config.HiddenSize, "sasrec", seed);
    }

    [Fact]
    public void KnownItemTokensEnterAsProjectedRecommenderRows_OthersKeepTheirEmbeddings()
    {
        var (lm, tok) = Make();
        using (lm)
        {
            using var hybrid = Embedder(lm, tok);
            Assert.Equal(5, hybrid.KnownItems); // item 2 is not in the recommender's catalog
            int[] ids = [1, tok.ItemTokenId(0), 7, tok.ItemTokenId(2), tok.ItemTokenId(5)];
            using var input = tensor(ids.Select(i => (long)i).ToArray(), [1, ids.Length]);
            using var plain = lm.EmbeddingWeight.index_select(0, input.reshape(-1)).unsqueeze(0);
            using var mixed = hybrid.Inject(input, plain);
            // Matched by id: the recommender holds items 5, 4, 3, 1, 0 as rows 0-4, whose values are 1-5; item 2 is unknown (zeros).
            Assert.Equal(new float[] { 5, 4, 0, 3, 2, 1 }, hybrid.RecItemEmbeddings.select(1, 0).data<float>().ToArray());
            foreach (var (pos, item) in new[] { (1, 0L), (4, 5L) })
            {
                using var expected = hybrid.Project(tensor(new[] { item }));
                Assert.True(mixed[0, pos].allclose(expected[0], 1e-6, 1e-6), $"position {pos}");
            }
            foreach (var pos in new[] { 0, 2, 3 }) Assert.True(mixed[0, pos].allclose(plain[0, pos], 0, 0), $"position {pos} keeps its row");
            hybrid.Active = false;
            using var off = hybrid.Inject(input, plain);
            Assert.True(off.allclose(plain, 0, 0));
        }
    }

    [Fact]
    public void TheModelScoresThroughItAndTheProjectorLearns()
    {
        var (lm, tok) = Make();
        using (lm)
        {
            var prompt = PromptTokenization.Prompt(tok, "History: <item_0>, <item_1>. Answer:");
            int[][] answers = [[tok.ItemTokenId(3)], [tok.ItemTokenId(4)]];
            using var before = ContinuationScorer.Score(lm, [prompt], [answers], tok.PadOrEosId());
            var hybrid = Embedder(lm, tok);
            lm.AttachHybrid(hybrid);
            using var after = ContinuationScorer.Score(lm, [prompt], [answers], tok.PadOrEosId());
            Assert.False(before.Sums.allclose(after.Sums), "item tokens in the prompt now enter as projected rows");
            Assert.Contains(lm.named_parameters(), p => p.name == "hybrid.mlp_proj.0.weight");
            after.Sums.sum().backward();
            Assert.True(hybrid.ProjectorParameters().All(p => p.grad is not null && p.grad.abs().sum().item<float>() > 0), "the projector gets gradients");
            hybrid.Active = false;
            using var textOnly = ContinuationScorer.Score(lm, [prompt], [answers], tok.PadOrEosId());
            Assert.True(before.Sums.allclose(textOnly.Sums, 1e-6, 1e-6), "inactive: the text-only model");
        }
    }

    /// <summary>Add: known item tokens enter as their own row plus the projection, which starts at zero, so the hybrid model
    /// starts as the LM with its learned item tokens and moves away only as the projector trains.</summary>
    [Fact]
    public void AddKeepsTheItemTokensRowAndStartsAsTheLmItself()
    {
        var (lm, tok) = Make();
        using (lm)
        {
            var prompt = PromptTokenization.Prompt(tok, "History: <item_0>, <item_2>, <item_5>. Answer:");
            int[][] answers = [[tok.ItemTokenId(3)], [tok.ItemTokenId(4)]];
            lm.eval();
            using var before = ContinuationScorer.Score(lm, [prompt], [answers], tok.PadOrEosId());
            var (catalog, emb) = Recommender(tok.Catalog);
            var hybrid = HybridItemEmbedder.FromRecommender(lm.Config.VocabSize, tok.FirstItemId, tok.Catalog, catalog, emb, lm.Config.HiddenSize, "sasrec", seed: 3, HybridCombine.Add);
            lm.AttachHybrid(hybrid);
            using var start = ContinuationScorer.Score(lm, [prompt], [answers], tok.PadOrEosId());
            Assert.True(before.Sums.allclose(start.Sums, 0, 0), "a zero projection adds nothing");
            start.Sums.sum().backward();
            Assert.True(hybrid.ProjectorParameters().Last().grad!.abs().sum().item<float>() > 0, "the projector's output layer gets gradients from zero");

            using (var gen = new Generator(11)) using (no_grad()) foreach (var p in hybrid.ProjectorParameters()) p.uniform_(-0.5, 0.5, gen);
            int[] ids = [1, tok.ItemTokenId(0), tok.ItemTokenId(2), tok.ItemTokenId(5)];
            using var input = tensor(ids.Select(i => (long)i).ToArray(), [1, ids.Length]);
            using var plain = lm.EmbeddingWeight.index_select(0, input.reshape(-1)).unsqueeze(0);
            using var mixed = hybrid.Inject(input, plain);
            foreach (var (pos, item) in new[] { (1, 0L), (3, 5L) })
            {
                using var projected = hybrid.Project(tensor(new[] { item }));
                // Batched and single-row matmuls may round differently, so the tolerance is float32's, not zero.
                Assert.True(mixed[0, pos].allclose(plain[0, pos] + projected[0], 1e-5, 1e-5), $"position {pos}: own row + projection");
            }
            foreach (var pos in new[] { 0, 2 }) Assert.True(mixed[0, pos].allclose(plain[0, pos], 0, 0), $"position {pos} keeps its row (item 2 is unknown)");

            using var expected = ContinuationScorer.Score(lm, [prompt], [answers], tok.PadOrEosId());
            ModelDirectory.Save(lm, tok, _dir);
            Assert.Contains("\"combine\": \"add\"", File.ReadAllText(Path.Combine(_dir, HybridItemEmbedder.ConfigFile)));
            var (loaded, loadedTok) = ModelDirectory.Load(_dir);
            using (loaded)
            {
                Assert.Equal(HybridCombine.Add, loaded.Hybrid!.Combine);
                using var actual = ContinuationScorer.Score(loaded, [prompt], [answers], loadedTok.PadOrEosId());
                Assert.True(expected.Sums.allclose(actual.Sums, 1e-5, 1e-5));
            }
        }
    }

    /// <summary>LLaRA's SFT stopped by a crash and resumed gives the uninterrupted run's losses bit for bit: the projector's
    /// weights and Adam moments (at its own lr scale) come from the checkpoint, and so does the curriculum's batch count,
    /// so the resumed run draws the same hybrid/text-only batches.</summary>
    [Fact]
    public void AHybridSftRunResumedAfterACrashReproducesTheUninterruptedRun()
    {
        var tok = ItemTokenizerTests.Make(6);
        var corpus = Enumerable.Range(0, 24).Select(i =>
        {
            int start = i % 6, step = 1 + i % 2;
            return new TokenizedExample([], Enumerable.Range(0, 6).Select(k => tok.ItemTokenId((start + k * step) % 6)).Append(2).ToArray());
        }).ToList();
        var config = new TrainingConfig
        {
            Seed = 5, MaxSteps = 12, BatchSize = 4, MaxLength = 16, LogEvery = 1, SaveEvery = 4, BucketFactor = 2,
            Optimizer = new OptimizerConfig { LearningRate = 3e-3, WarmupSteps = 2, WeightDecay = 0.0, MaxGradNorm = 1.0 },
        };
        var scales = new Dictionary<string, double> { ["hybrid"] = 10 };
        Trainer Run(LanguageModel lm, string dir, long? crash = null) => new(lm,
            new NextTokenObjective(lm, corpus, 0, 16, curriculum: new HybridCurriculum(HybridSchedule.Curriculum, config.MaxSteps, 7)),
            config, Path.Combine(_dir, dir)) { LrScales = scales, CrashAfterStep = crash };
        LanguageModel Hybrid(int seed)
        {
            var lm = LanguageModel.Create(LanguageModelTests.TinyConfig() with { VocabSize = tok.VocabSize }, seed);
            lm.AttachHybrid(Embedder(lm, tok, seed));
            return lm;
        }
        static List<double> Flags(TrainingResult r) =>
            r.History.Where(e => e.Values.ContainsKey("hybrid")).Select(e => e.Values["hybrid"]).ToList();

        List<double> flags;
        float[] projector;
        using (var lm = Hybrid(5))
        {
            flags = Flags(Run(lm, "a").Train());
            projector = lm.Hybrid!.ProjectorParameters().First().data<float>().ToArray();
        }
        Assert.Equal(12, flags.Count);
        Assert.Contains(0.0, flags); // the curriculum mixes text-only and hybrid batches
        Assert.Contains(1.0, flags);
        var uninterrupted = Trainer.LossTrace(Trainer.LatestCheckpoint(Path.Combine(_dir, "a"))!);
        using (var lm = Hybrid(5)) Assert.Throws<OperationCanceledException>(() => Run(lm, "b", crash: 6).Train());
        using (var lm = Hybrid(99)) // another LM and projector init: everything must come from the checkpoint
        {
            var resumed = Run(lm, "b").Train(resume: true);
            Assert.Equal(flags, Flags(resumed)); // steps 5-12 decided after the resume from step 4
            Assert.Equal(projector, lm.Hybrid!.ProjectorParameters().First().data<float>().ToArray());
        }
        Assert.Equal(uninterrupted, Trainer.LossTrace(Trainer.LatestCheckpoint(Path.Combine(_dir, "b"))!));
    }

    [Fact]
    public void ACombineTheDirectoryDoesNotKnowIsAClearError()
    {
        var (lm, tok) = Make();
        using (lm)
        {
            lm.AttachHybrid(Embedder(lm, tok));
            ModelDirectory.Save(lm, tok, _dir);
            var path = Path.Combine(_dir, HybridItemEmbedder.ConfigFile);
            Assert.Contains("\"combine\": \"replace\"", File.ReadAllText(path));
            File.WriteAllText(path, File.ReadAllText(path).Replace("\"replace\"", "\"multiply\""));
            var e = Assert.Throws<FormatException>(() => HybridItemEmbedder.Load(_dir, lm.Config.VocabSize));
            Assert.Contains("field 'combine' must be \"replace\" or \"add\"", e.Message);
            Assert.Contains(path, e.Message);
        }
    }

    [Fact]
    public void RoundTripsThroughTheModelDirectory_BesideAPlainHuggingFaceCheckpoint()
    {
        var (lm, tok) = Make();
        using (lm)
        {
            lm.AttachHybrid(Embedder(lm, tok));
            var prompt = PromptTokenization.Prompt(tok, "History: <item_0>, <item_5>, <item_2>. Answer:");
            int[][] answers = [[tok.ItemTokenId(1)], [tok.ItemTokenId(4)]];
            lm.eval();
            using var expected = ContinuationScorer.Score(lm, [prompt], [answers], tok.PadOrEosId());
            ModelDirectory.Save(lm, tok, _dir);
            Assert.True(File.Exists(Path.Combine(_dir, HybridItemEmbedder.ConfigFile)));
            using (var ckpt = SafetensorsCheckpoint.Open(_dir))
                Assert.DoesNotContain(ckpt.TensorNames, n => n.StartsWith("hybrid"));
            var (loaded, loadedTok) = ModelDirectory.Load(_dir);
            using (loaded)
            {
                Assert.NotNull(loaded.Hybrid);
                Assert.Equal(("sasrec", 5), (loaded.Hybrid!.Recommender, loaded.Hybrid.KnownItems));
                using var actual = ContinuationScorer.Score(loaded, [prompt], [answers], loadedTok.PadOrEosId());
                Assert.True(expected.Sums.allclose(actual.Sums, 1e-5, 1e-5));
            }
        }
    }

    [Fact]
    public void AdaptersSavedWithTheProjectorLoadAsTheHybridModel()
    {
        var (lm, tok) = Make();
        using (lm)
        {
            lm.AttachHybrid(Embedder(lm, tok));
            lm.AddLora(new LoraConfig { Rank = 2, Alpha = 4, Dropout = 0, TargetModules = LoraConfig.AllTargets }, seed: 1);
            var adapters = Path.Combine(_dir, "adapter");
            ModelDirectory.SaveAdapter(lm, adapters, "base");
            lm.Hybrid!.Save(adapters);
            var (plain, _) = Make();
            using (plain)
            {
                ModelDirectory.LoadAdapter(plain, adapters);
                Assert.NotNull(plain.Hybrid);
                Assert.Equal(5, plain.Hybrid!.KnownItems);
            }
        }
    }

    [Fact]
    public void ARecommenderSharingNoItemIsRefused()
    {
        var (lm, tok) = Make();
        using (lm)
        {
            var other = new ItemCatalog([new Item(0, "zz", "Nothing Shared")]);
            var e = Assert.Throws<ArgumentException>(() => HybridItemEmbedder.FromRecommender(lm.Config.VocabSize, tok.FirstItemId, tok.Catalog, other,
                ones(1, 4), lm.Config.HiddenSize, "gru4rec", 1));
            Assert.Contains("none of the LM's", e.Message);
        }
    }
}
