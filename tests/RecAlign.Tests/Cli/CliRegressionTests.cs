using RecAlign.Runs;

namespace RecAlign.Tests.Cli;

/// <summary>What the fuzz suite cannot say (it expects errors): the paths that must work, and how a failed run is
/// recorded.</summary>
public sealed class CliRegressionTests : IDisposable
{
    private readonly string _sandbox = Path.Combine(Path.GetTempPath(), "recalign-cli-" + Guid.NewGuid().ToString("N"));
    private string Root => Path.Combine(_sandbox, "case");
    private string P(string name) => Path.Combine(Root, name);

    public CliRegressionTests() => Directory.CreateDirectory(Root);

    public void Dispose()
    {
        try { Directory.Delete(_sandbox, recursive: true); } catch (IOException) { }
    }

    private CliResult Cli(params string[] args) => CliRunner.Run(Root, TimeSpan.FromMinutes(3), args);

    private static string Hash(string file) => Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(file)));

    [Fact]
    public void OverwriteReplacesAnExistingModelDirectory_AndNothingElse()
    {
        File.WriteAllText(P("train.jsonl"), CliFuzzTests.SftJsonl);
        string[] Sft(params string[] extra) => ["sft", "--model", CliFuzzTests.BaseLm, "--train", P("train.jsonl"), "--out", P("model"), "--runs-dir", P("runs"),
            "--set", "training.max_steps=2", "--set", "training.optimizer.learning_rate=0.05", .. extra];
        var first = Cli(Sft());
        Assert.True(first.ExitCode == 0, first.Error);
        var weights = Hash(P("model/model.safetensors"));
        string[] other = ["--set", "training.optimizer.learning_rate=0.01"];
        var refused = Cli(Sft(other));
        Assert.Equal(2, refused.ExitCode);
        Assert.Contains("--overwrite", refused.Error);
        Assert.Equal(weights, Hash(P("model/model.safetensors")));
        var replaced = Cli(Sft([.. other, "--overwrite"]));
        Assert.True(replaced.ExitCode == 0, replaced.Error);
        Assert.NotEqual(weights, Hash(P("model/model.safetensors")));
        Assert.DoesNotContain(Directory.GetDirectories(Root), d => d.Contains(".tmp-") || d.Contains(".old-"));
    }

    [Fact]
    public void EvalKeepsTheEndOfPromptsLongerThanTheModelsPositions()
    {
        // 400 history titles make a prompt of well over the model's 256 positions; eval must truncate (keeping the
        // candidates and the question, which come last) as training does, not fail on a position.
        var history = string.Join("::", Enumerable.Range(0, 400).Select(i => $"Band {i % 6}"));
        File.WriteAllText(P("long.json"), $$"""[{"historyList": "{{history}}", "itemList": ["Band 2", "Band 3", "Band 4"], "trueSelection": "Band 2"}]""");
        var result = Cli("eval", "--model", CliFuzzTests.BaseLm, "--candidates", P("long.json"));
        Assert.True(result.ExitCode == 0, result.Error);
        Assert.Contains("hr1", result.Out);
    }

    [Fact]
    public void ADivergingRunEndsWithAClearErrorAndIsRecordedFailed()
    {
        File.WriteAllText(P("train.jsonl"), CliFuzzTests.SftJsonl);
        var result = Cli("sft", "--model", CliFuzzTests.BaseLm, "--train", P("train.jsonl"), "--out", P("model"), "--runs-dir", P("runs"),
            "--set", "training.max_steps=60", "--set", "training.batch_size=1", "--set", "training.optimizer.learning_rate=1e30", "--set", "training.optimizer.warmup_ratio=0");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("error: training diverged", result.Error);
        Assert.DoesNotContain("Unhandled", result.Error);
        var run = Assert.Single(RunRegistry.ForRunsDir(P("runs")).List());
        Assert.Equal(RunStatus.Failed, run.Status);
        Assert.False(Directory.Exists(P("model"))); // no collapsed model handed out as trained
    }
}
