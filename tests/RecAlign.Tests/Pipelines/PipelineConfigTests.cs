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
}
