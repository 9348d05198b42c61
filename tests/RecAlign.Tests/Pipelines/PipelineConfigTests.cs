using RecAlign.Pipelines;

namespace RecAlign.Tests.Pipelines;

public class PipelineConfigTests
{
    [Fact]
    public void EveryStageTrainsWithThePipelineSeed()
    {
        var config = new PipelineConfig { Seed = 7 }.WithStageSeeds();
        Assert.All(new[] { config.Pretrain.Training, config.Sft.Training, config.Dpo.Training, config.Sdpo.Training },
            t => Assert.Equal(7, t.Seed));
        Assert.Equal(config, config.WithStageSeeds()); // idempotent
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
        Assert.Contains("pipeline.sdpo_negatives = 20", Assert.Throws<ArgumentException>(() => new PipelineConfig { SdpoNegatives = 20 }.Validate()).Message);
        var badLr = new PipelineConfig();
        badLr = badLr with { Sft = badLr.Sft with { Training = badLr.Sft.Training with { BatchSize = 0 } } };
        Assert.Contains("pipeline.sft.training: batch_size", Assert.Throws<ArgumentException>(() => badLr.Validate()).Message);
    }
}
