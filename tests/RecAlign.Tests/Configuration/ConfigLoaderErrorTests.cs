using RecAlign.Tests.Runs;
using RecAlign.Configuration;
using RecAlign.Pipelines;
using RecAlign.Pipelines.Stages;

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
        var (e, path) = LoadYamlError("pipeline:\n  candidates: many\n");
        Assert.Equal($"{path}: 'pipeline.candidates': expected an integer (got \"many\")", e.Message);
    }

    [Fact]
    public void YamlSyntaxErrorNamesTheLineWithoutDotNetText()
    {
        var (e, path) = LoadYamlError("pipeline:\n  seed: [1\n");
        Assert.StartsWith($"{path}:3: cannot parse config: ", e.Message);
    }

    /// <summary>The error of loading a quickstart config from a YAML file holding <paramref name="yaml"/>, and that file's path.</summary>
    private static (FormatException Error, string Path) LoadYamlError(string yaml)
    {
        using var dir = new TempDir();
        var path = Path.Combine(dir.Path, "config.yaml");
        File.WriteAllText(path, yaml);
        return (Assert.Throws<FormatException>(() => ConfigLoader.Load(new QuickstartConfig(), path)), path);
    }

    [Fact]
    public void UnknownSectionListsTheSections()
    {
        var e = Assert.Throws<FormatException>(() => ConfigLoader.Load(new QuickstartConfig(), overrides: ["bogus.key=1"]));
        Assert.Equal("override 'bogus.key=1': 'bogus' is not a section of this config (sections: pipeline)", e.Message);
    }
}
