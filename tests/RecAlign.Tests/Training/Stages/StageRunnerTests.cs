using RecAlign.Data;
using RecAlign.Models;
using RecAlign.Models.Language;
using RecAlign.Prompts;
using RecAlign.Tests.Models;
using RecAlign.Tests.Runs;
using RecAlign.Text;
using RecAlign.Training;
using RecAlign.Pipelines.Stages;
using static TorchSharp.torch;

namespace RecAlign.Tests.Training.Stages;

[Collection(GlobalTorchRng.Name)] // the trainer seeds the process-wide generator; pretraining draws dropout from it
public class StageRunnerTests
{
    [Fact]
    public void PretrainingOnItemTokenHistoriesLearnsWhichItemFollowsWhich()
    {
        // Learnable data: every user walks the 12-item cycle i → i+1 from a different start; the item-token LM must
        // learn it as plain next-token prediction and then rank the whole catalog with the next item first.
        using var tmp = new TempDir();
        const int n = 12;
        var catalog = new ItemCatalog(Enumerable.Range(0, n).Select(i => new Item(i, $"x{i}", $"Artist {i}")));
        var histories = Enumerable.Range(0, 48).Select(u => Enumerable.Range(0, 9).Select(j => (u + j) % n).ToArray()).ToList();
        var corpus = PretrainCorpus.Render(histories, catalog, ItemText.Token);
        var tokenizer = new ItemTokenizer(CompactVocabularyTokenizer.Build(PretrainCorpus.Render(histories, catalog, ItemText.Title)), catalog);
        var config = new PretrainConfig
        {
            Training = new TrainingConfig { Epochs = 12, BatchSize = 8, MaxLength = 32, Precision = Precision.Fp32, LogEvery = 1, Seed = 3,
                Optimizer = new() { LearningRate = 3e-3, WarmupRatio = 0.05 } },
        };
        var outDir = Path.Combine(tmp.Path, "pretrain");
        var result = StageRunner.Pretrain(corpus, tokenizer, config, outDir, new StageContext());
        var losses = result.Training.History.Where(h => h.Values.ContainsKey("loss")).Select(h => h.Values["loss"]).ToList();
        Assert.True(losses.TakeLast(5).Average() < 0.5 * losses.Take(5).Average(), $"loss {losses.Take(5).Average():F3} → {losses.TakeLast(5).Average():F3}");
        using var recommender = RecAlign.Models.Recommenders.Load(outDir);
        IReadOnlyList<int>[] asked = [[3, 4, 5], [10, 11], [7]];
        var top = recommender.TopK(asked, 1).Ids;
        Assert.Equal([6L, 0L, 8L], new[] { top[0, 0], top[1, 0], top[2, 0] });
    }

    [Fact]
    public void AProjectorLearningRateMustBeUsableBesideTheModels()
    {
        new SftConfig { ProjectorLearningRate = 1e-2 }.Validate();
        Assert.Contains("projector_learning_rate", Assert.Throws<ArgumentException>(() => new SftConfig { ProjectorLearningRate = -1 }.Validate()).Message);
        Assert.Contains("projector_learning_rate", Assert.Throws<ArgumentException>(() => new SftConfig { ProjectorLearningRate = double.NaN }.Validate()).Message);
        var frozen = new SftConfig { ProjectorLearningRate = 1e-3 };
        frozen = frozen with { Training = frozen.Training with { Optimizer = frozen.Training.Optimizer with { LearningRate = 0 } } };
        Assert.Contains("learning_rate > 0", Assert.Throws<ArgumentException>(frozen.Validate).Message);
    }

    [Fact]
    public void SftGivesAModelWithoutItemTokensOnePerItem_AndWritesAnItemTokenModelDirectory()
    {
        using var tmp = new TempDir();
        var catalog = new ItemCatalog(Enumerable.Range(0, 4).Select(i => new Item(i, $"x{i}", $"Band {i}")));
        var inner = CompactVocabularyTokenizer.Build(["History: a, b. Answer:", .. catalog.Items.Select(i => " " + i.Title)]);
        var baseDir = Path.Combine(tmp.Path, "base");
        using (var lm = LanguageModel.Create(LanguageModelTests.TinyConfig() with { VocabSize = inner.VocabSize }, seed: 5))
            ModelDirectory.Save(lm, inner, baseDir);
        var train = new List<PromptExample> { new("History: <item_0>, <item_1>. Answer:", "<item_2>"), new("History: <item_3>. Answer:", "<item_0>") };
        var config = new SftConfig { Training = new TrainingConfig { MaxSteps = 2, BatchSize = 2, Precision = Precision.Fp32 } };
        var outDir = Path.Combine(tmp.Path, "sft");
        StageRunner.Sft(baseDir, train, [], config, outDir, new StageContext(), addItemTokens: catalog);
        using var recommender = Recommenders.Load(outDir);
        Assert.True(catalog.SameItems(recommender.Catalog!));
        var (model, tokenizer) = ModelDirectory.Load(outDir);
        using (model)
        {
            Assert.Equal(inner.VocabSize + 4, model.Config.VocabSize);
            Assert.Equal([((ItemTokenizer)tokenizer).ItemTokenId(2)], PromptTokenization.Response(tokenizer, "<item_2>"));
        }
    }

    [Fact]
    public void LoraSftWritesTheMergedModelAndThePeftAdaptersThatReproduceIt()
    {
        using var tmp = new TempDir();
                var texts = new[] { "user watched alpha beta", "user watched gamma delta", " alpha", " gamma" };
        var tokenizer = CompactVocabularyTokenizer.Build(texts);
        var baseDir = Path.Combine(tmp.Path, "base");
        using (var lm = LanguageModel.Create(LanguageModelTests.TinyConfig() with { VocabSize = tokenizer.VocabSize }, seed: 5))
            ModelDirectory.Save(lm, tokenizer, baseDir);
        var train = new List<PromptExample> { new("user watched alpha beta", "alpha"), new("user watched gamma delta", "gamma") };
        var config = new SftConfig
        {
            Lora = new LoraConfig { Rank = 2, Alpha = 4, Dropout = 0 },
            Training = new TrainingConfig { MaxSteps = 3, BatchSize = 2, Precision = Precision.Fp32, Optimizer = new() { LearningRate = 1e-2 } },
        };
        var outDir = Path.Combine(tmp.Path, "sft");
        var result = StageRunner.Sft(baseDir, train, [], config, outDir, new StageContext());
        Assert.Equal(3, result.Training.Steps);
        Assert.True(result.Training.Tokens > 0);

        var adapterDir = Path.Combine(outDir, ModelDirectory.AdapterFolder);
        Assert.True(File.Exists(Path.Combine(adapterDir, ModelDirectory.AdapterConfigFile)));
        using var ids = tensor(new long[,] { { 1, 2, 3, 4 } });
        var (merged, _) = ModelDirectory.Load(outDir);
        var (withAdapter, _) = ModelDirectory.Load(baseDir);
        using (merged)
        using (withAdapter)
        {
            ModelDirectory.LoadAdapter(withAdapter, adapterDir);
            withAdapter.eval();
            using var expected = merged.Forward(ids);
            using var actual = withAdapter.Forward(ids);
            Assert.True(expected.allclose(actual, 1e-4, 1e-4));
            using var plain = ModelDirectory.Load(baseDir).Model;
            Assert.False(plain.Forward(ids).allclose(expected, 1e-4, 1e-4)); // the adapters did change the model
        }
    }
}
