using RecAlign.Models.Language;
using RecAlign.Prompts;
using RecAlign.Tests.Models;
using RecAlign.Tests.Runs;
using RecAlign.Text;
using RecAlign.Training;
using RecAlign.Pipelines.Stages;
using static TorchSharp.torch;

namespace RecAlign.Tests.Training.Stages;

public class StageRunnerTests
{
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
