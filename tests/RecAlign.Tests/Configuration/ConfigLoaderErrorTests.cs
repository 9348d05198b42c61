using RecAlign.Configuration;
using RecAlign.Pipelines;
using RecAlign.Training.Stages;

namespace RecAlign.Tests.Configuration;

public class ConfigLoaderErrorTests
{
    [Fact]
    public void BadOverrideValueNamesTheOverrideAndTheExpectedShape()
    {
        var e = Assert.Throws<FormatException>(() => ConfigLoader.Load(new QuickstartConfig(), overrides: ["pipeline.evaluation_questions=lots"]));
        Assert.Equal("override 'pipeline.evaluation_questions=lots': expected an integer", e.Message);
        e = Assert.Throws<FormatException>(() => ConfigLoader.Load(new PretrainConfig(), overrides: ["training.optimizer.learning_rate=fast"]));
        Assert.Equal("override 'training.optimizer.learning_rate=fast': expected a number", e.Message);
    }

    [Fact]
    public void BadEnumValueListsTheSnakeCaseNames()
    {
        var e = Assert.Throws<FormatException>(() => ConfigLoader.Load(new QuickstartConfig(), overrides: ["pipeline.rejected=foo"]));
        Assert.StartsWith("override 'pipeline.rejected=foo': expected one of ", e.Message);
        Assert.Contains("hard", e.Message);
        Assert.DoesNotContain("System.", e.Message);
    }

    [Fact]
    public void BadFileValueNamesTheFileTheKeyAndTheValue()
    {
        var path = Path.Combine(Path.GetTempPath(), $"recalign-cfg-{Guid.NewGuid():N}.yaml");
        File.WriteAllText(path, "pipeline:\n  candidates: many\n");
        try
        {
            var e = Assert.Throws<FormatException>(() => ConfigLoader.Load(new QuickstartConfig(), path));
            Assert.Equal($"{path}: 'pipeline.candidates': expected an integer (got \"many\")", e.Message);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void YamlSyntaxErrorNamesTheLineWithoutDotNetText()
    {
        var path = Path.Combine(Path.GetTempPath(), $"recalign-cfg-{Guid.NewGuid():N}.yaml");
        File.WriteAllText(path, "pipeline:\n  seed: [1\n");
        try
        {
            var e = Assert.Throws<FormatException>(() => ConfigLoader.Load(new QuickstartConfig(), path));
            Assert.StartsWith($"{path}:3: cannot parse config: ", e.Message);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void UnknownSectionListsTheSections()
    {
        var e = Assert.Throws<FormatException>(() => ConfigLoader.Load(new QuickstartConfig(), overrides: ["bogus.key=1"]));
        Assert.Equal("override 'bogus.key=1': 'bogus' is not a section of this config (sections: pipeline)", e.Message);
    }
}
