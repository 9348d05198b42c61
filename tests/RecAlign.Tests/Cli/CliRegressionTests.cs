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
    public void InterpretTrainsOnTables_WritesItsDirectory_AndRefusesToReplaceItUnasked()
    {
        // Chains over 8 items (item i followed by i + 1 mod 8), padding id 8.
        File.WriteAllText(P("data_statis.csv"), "seq_size,item_num\n3,8\n");
        var rows = new System.Text.StringBuilder("seq,len_seq,next\n");
        for (int start = 0; start < 8; start++)
            for (int n = 1; n <= 3; n++)
                rows.Append($"{string.Join(' ', Enumerable.Range(0, 3).Select(j => j < n ? (start + j) % 8 : 8))},{n},{(start + n) % 8}\n");
        File.WriteAllText(P("t.csv"), rows.ToString());
        var sasrec = Cli("train", "sasrec", "--train", P("t.csv"), "--validation", P("t.csv"), "--out", P("rec"), "--runs-dir", P("runs"), "--set", "training.epochs=1");
        Assert.True(sasrec.ExitCode == 0, sasrec.Error);
        string[] Interpret(params string[] extra) => ["interpret", "--lm", CliFuzzTests.BaseLm, "--recommender", P("rec"), "--train", P("t.csv"), "--validation", P("t.csv"),
            "--out", P("interp"), "--runs-dir", P("runs"), "--threads", "1", "--set", "training.max_steps=3", "--set", "eval_examples=4", "--set", "recovery_max_new_tokens=6",
            "--set", "residual_max_new_tokens=4", .. extra];
        var run = Cli(Interpret());
        Assert.True(run.ExitCode == 0, run.Error);
        var result = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(P("interp/interpret_result.json")))!;
        Assert.Equal("recommender", result["states"]!.GetValue<string>());
        Assert.Equal(4, result["metrics"]!["recovery_examples"]!.GetValue<double>());
        Assert.Equal(4, result["metrics"]!["residual_examples"]!.GetValue<double>());
        Assert.True(File.Exists(P("interp/interpreter.safetensors")));
        Assert.True(result["metrics"]!["history_titles_mean"]!.GetValue<double>() > 1);
        // max_history cuts what the recommender reads and recovery asks for to the latest items.
        var latest = Cli(Interpret("--overwrite", "--set", "max_history=1"));
        Assert.True(latest.ExitCode == 0, latest.Error);
        Assert.Equal(1, System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(P("interp/interpret_result.json")))!["metrics"]!["history_titles_mean"]!.GetValue<double>());
        var refused = Cli(Interpret("--random-states", "--task", "residual"));
        Assert.Equal(2, refused.ExitCode);
        Assert.Contains("--overwrite", refused.Error);
        var floor = Cli(Interpret("--random-states", "--task", "residual", "--overwrite"));
        Assert.True(floor.ExitCode == 0, floor.Error);
        result = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(P("interp/interpret_result.json")))!;
        Assert.Equal("random", result["states"]!.GetValue<string>());
        Assert.Null(result["metrics"]!["recovered_mean"]);
        // With --lora the LM's adapters train with the state adapter and are saved beside it (PEFT layout); LoRA's B
        // matrices start at zero, so a nonzero one has trained.
        var withLora = Cli(Interpret("--lora", "--overwrite", "--set", "training.max_steps=6"));
        Assert.True(withLora.ExitCode == 0, withLora.Error);
        result = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(P("interp/interpret_result.json")))!;
        Assert.Equal("lora r=8", result["lm"]!.GetValue<string>());
        var info = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(P("interp/interpreter_config.json")))!;
        Assert.Equal("lm_adapter", info["lm_adapter"]!.GetValue<string>());
        Assert.True(File.Exists(P("interp/lm_adapter/adapter_config.json")));
        using (var adapters = RecAlign.Models.Checkpoints.SafetensorsCheckpoint.Open(P("interp/lm_adapter"), RecAlign.Models.Language.ModelDirectory.AdapterBaseName))
        {
            var bNames = adapters.TensorNames.Where(n => n.Contains("lora_B")).ToList();
            Assert.NotEmpty(bNames);
            Assert.Contains(bNames, n => { using var t = adapters.ReadTensor(n, TorchSharp.torch.ScalarType.Float32); return t.abs().sum().item<float>() > 0; });
        }
        var wrongRecommender = Cli(Interpret("--overwrite").Select(a => a == P("rec") ? CliFuzzTests.BaseLm : a).ToArray());
        Assert.Equal(2, wrongRecommender.ExitCode);
        Assert.Contains("not a sequential recommender", wrongRecommender.Error);
    }

    [Fact]
    public void DreamRecTrainsOnTablesAndEvaluatesWithEitherSampler()
    {
        // Chains over 8 items (item i followed by i + 1 mod 8), padding id 8 as DreamRec's tables write it.
        File.WriteAllText(P("data_statis.csv"), "seq_size,item_num\n3,8\n");
        var rows = new System.Text.StringBuilder("seq,len_seq,next\n");
        for (int start = 0; start < 8; start++)
            for (int n = 0; n <= 3; n++)
            {
                var seq = Enumerable.Range(0, 3).Select(j => j < n ? (start + j) % 8 : 8);
                rows.Append($"{string.Join(' ', seq)},{Math.Max(n, 1)},{(start + n) % 8}\n");
            }
        File.WriteAllText(P("t.csv"), rows.ToString());
        var train = Cli("train", "dreamrec", "--train", P("t.csv"), "--validation", P("t.csv"), "--keep-empty-histories", "--out", P("dr"), "--runs-dir", P("runs"),
            "--set", "training.epochs=2", "--set", "model.timesteps=20", "--set", "eval_every_epochs=1");
        Assert.True(train.ExitCode == 0, train.Error);
        Assert.Contains("every epoch", train.Out);
        var config = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(P("dr/config.json")))!;
        Assert.Equal("DreamRec", config["model_type"]!.GetValue<string>());
        Assert.Equal(20, config["timesteps"]!.GetValue<int>());
        foreach (var settings in new[] { Array.Empty<string>(), ["--model-set", "sampler=ddim", "--model-set", "sampling_steps=5"] })
        {
            var eval = Cli(["eval", "--model", P("dr"), "--table", P("t.csv"), "--keep-empty-histories", "--ks", "1,5", "--out", P("e.json"), .. settings]);
            Assert.True(eval.ExitCode == 0, eval.Error);
            var result = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(P("e.json")))!;
            Assert.Equal(32, result["n"]!.GetValue<int>());
            Assert.NotNull(result["catalog_hr@5"]);
            Assert.Null(result["catalog_hr@10"]);
            File.Delete(P("e.json"));
        }
        var unknown = Cli("eval", "--model", P("dr"), "--table", P("t.csv"), "--model-set", "samplr=ddim");
        Assert.Equal(2, unknown.ExitCode);
        Assert.Contains("samplr", unknown.Error);
        var invalid = Cli("eval", "--model", P("dr"), "--table", P("t.csv"), "--model-set", "sampler=ddim", "--model-set", "sampling_steps=50");
        Assert.Equal(2, invalid.ExitCode);
        Assert.Contains("sampling_steps", invalid.Error);
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
