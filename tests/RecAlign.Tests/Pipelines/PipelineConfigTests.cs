using RecAlign.Pipelines;

namespace RecAlign.Tests.Pipelines;

public class PipelineConfigTests
{
    [Fact]
    public void EveryStageTrainsWithThePipelineSeed()
    {
        var config = new PipelineConfig { Seed = 7 }.WithStageSeeds();
        Assert.All(new[] { config.Pretrain.Training, config.Sft.Training, config.Methods["dpo"].Align.Training, config.Methods["sdpo"].Align.Training,
                config.Methods["sasrec"].Sequential.Training, config.Methods["gru4rec"].Sequential.Training },
            t => Assert.Equal(7, t.Seed));
        var again = config.WithStageSeeds(); // idempotent
        Assert.Equal(RecAlign.Configuration.ConfigLoader.ToJson(config), RecAlign.Configuration.ConfigLoader.ToJson(again));
    }

    [Fact]
    public void AStageSeedThatDisagreesIsRefusedNotReplaced()
    {
        var config = new PipelineConfig { Seed = 7 };
        config = config with { Sft = config.Sft with { Training = config.Sft.Training with { Seed = 5 } } };
        var error = Assert.Throws<ArgumentException>(() => config.WithStageSeeds());
        Assert.Contains("pipeline.sft.training.seed=5", error.Message);
    }

    [Fact]
    public void ValidateNamesTheFirstBadField()
    {
        var defaults = new PipelineConfig();
        Assert.Same(defaults, defaults.Validate());
        Assert.Contains("pipeline.evaluation_questions = 0", Assert.Throws<ArgumentException>(() => new PipelineConfig { EvaluationQuestions = 0 }.Validate()).Message);
        Assert.Contains("pipeline.max_history = -1", Assert.Throws<ArgumentException>(() => new PipelineConfig { MaxHistory = -1 }.Validate()).Message);
        Assert.Equal(50, RecAlign.Configuration.ConfigLoader.Load(new PipelineConfig(), null, ["max_history=50"]).Validate().MaxHistory);
        var methods = MethodConfig.Defaults();
        methods["sdpo"] = methods["sdpo"] with { Negatives = 20 };
        Assert.Contains("pipeline.methods.sdpo.negatives = 20", Assert.Throws<ArgumentException>(() => new PipelineConfig { Methods = methods }.Validate()).Message);
        var badLr = new PipelineConfig();
        badLr = badLr with { Sft = badLr.Sft with { Training = badLr.Sft.Training with { BatchSize = 0 } } };
        Assert.Contains("pipeline.sft.training: batch_size", Assert.Throws<ArgumentException>(() => badLr.Validate()).Message);
        // Hybrid item embeddings: an sft method, from an enabled sequential method before it, on item tokens.
        string Hybrid(params string[] set) => Assert.Throws<ArgumentException>(() => RecAlign.Configuration.ConfigLoader.Load(new PipelineConfig(), null, set).Validate()).Message;
        Assert.Contains("methods.sdpo.hybrid", Hybrid("methods.sdpo.hybrid=sasrec"));
        Assert.Contains("enabled sequential method", Hybrid("methods.sft.hybrid=gru4rec"));
        Assert.Contains("enabled sequential method", Hybrid("methods.sft.hybrid=dpo"));
        Assert.Contains("item_text", Hybrid("methods.sft.hybrid=sasrec", "item_text=title"));
        Assert.Contains("sft_model", Hybrid("methods.sft.hybrid=sasrec", "sft_model=somewhere"));
        Assert.Equal("sasrec", RecAlign.Configuration.ConfigLoader.Load(new PipelineConfig(), null, ["methods.sft.hybrid=sasrec", "methods.sft.hybrid_schedule=two_stage"]).Validate().Methods["sft"].Hybrid);
    }

    [Fact]
    public void MethodsAreNamedEntriesThatSetCanEnableChangeAndAdd()
    {
        var config = RecAlign.Configuration.ConfigLoader.Load(new PipelineConfig(), null,
        [
            "methods.gru4rec.enabled=true", "methods.dpo.align.loss.rpo_alpha=1",
            "methods.simpo.stage=align", "methods.simpo.from=sft", "methods.simpo.align.loss.loss_type=simpo",
        ]).Validate();
        Assert.Equal(["sasrec", "gru4rec", "sft", "dpo", "sdpo", "simpo"], config.Enabled().Select(m => m.Name).ToArray());
        Assert.Equal(1, config.Methods["dpo"].Align.Loss.RpoAlpha);
        Assert.Equal("simpo", config.Methods["simpo"].Align.Loss.LossType);
        Assert.Equal("GRU4Rec", config.Methods["gru4rec"].Sequential.Model.ModelType);
        Assert.Equal(128, config.Methods["gru4rec"].Sequential.Model.HiddenSize); // the model's own defaults
    }

    [Fact]
    public void AnAlignMethodMustStartFromAnEarlierLanguageModel()
    {
        var methods = MethodConfig.Defaults();
        methods["sft"] = methods["sft"] with { Enabled = false };
        Assert.Contains("pipeline.methods.dpo.from = sft", Assert.Throws<ArgumentException>(() => new PipelineConfig { Methods = methods }.Validate()).Message);
        methods = MethodConfig.Defaults();
        methods["dpo"] = methods["dpo"] with { From = "sasrec" };
        Assert.Contains("pipeline.methods.dpo.from = sasrec", Assert.Throws<ArgumentException>(() => new PipelineConfig { Methods = methods }.Validate()).Message);
        methods = MethodConfig.Defaults();
        methods["popularity"] = MethodConfig.SequentialModel("sasrec");
        Assert.Contains("baselines", Assert.Throws<ArgumentException>(() => new PipelineConfig { Methods = methods }.Validate()).Message);
    }
}
