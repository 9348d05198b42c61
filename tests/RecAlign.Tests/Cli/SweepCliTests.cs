namespace RecAlign.Tests.Cli;

/// <summary><c>recalign sweep</c> through the real executable on the quickstart's tiny world with SASRec alone (no LM:
/// a cell takes about a second), so the whole grid → runs → report path is exercised.</summary>
public sealed class SweepCliTests : IDisposable
{
    private readonly string _sandbox = Path.Combine(Path.GetTempPath(), "recalign-sweep-" + Guid.NewGuid().ToString("N"));
    private string Root => Path.Combine(_sandbox, "case");
    private string P(string name) => Path.Combine(Root, name);

    public SweepCliTests() => Directory.CreateDirectory(Root);

    public void Dispose()
    {
        try { Directory.Delete(_sandbox, recursive: true); } catch (IOException) { }
    }

    private CliResult Cli(params string[] args) => CliRunner.Run(Root, TimeSpan.FromMinutes(2), args);

    private const string Grid = """
        job: quickstart
        seeds: [1, 2]
        set:
          - data_size=tiny
          - pipeline.methods.sft.enabled=false
          - pipeline.methods.dpo.enabled=false
          - pipeline.methods.sdpo.enabled=false
          - pipeline.evaluation_questions=100
        grid:
          pipeline.methods.sasrec.sequential.training.epochs: [1, 2]
        """;

    [Fact]
    public void ATinySweepRunsEveryCellOnce_ResumesToNothing_AndIsDeterministic()
    {
        File.WriteAllText(P("grid.yaml"), Grid);
        var first = Cli("sweep", "--config", P("grid.yaml"), "--out", P("sweep"), "--threads", "1");
        Assert.True(first.ExitCode == 0, first.Error + first.Out);
        Assert.Contains("[sweep] cell 4 of 4 (4 of 4 to run): setting 'epochs=2', seed 2", first.Out);
        Assert.Equal(4, Directory.GetDirectories(P("runs"), "*-quickstart-*").Length); // each cell a normal run
        var report = File.ReadAllText(P("sweep/report.md"));
        Assert.Contains("| cells | 4 of 4 completed |", report);
        Assert.Matches(@"\| epochs=2 \| sasrec \| 2 \| \**\d\.\d{4} ± \d\.\d{4}", report);
        Assert.True(File.Exists(P("sweep/plots/1-candidate-lists.png")));

        var again = Cli("sweep", "--config", P("grid.yaml"), "--out", P("sweep"), "--threads", "1");
        Assert.True(again.ExitCode == 0, again.Error);
        Assert.Contains("4 completed before (their metrics reused), 0 to run", again.Out);
        Assert.Equal(4, Directory.GetDirectories(P("runs"), "*-quickstart-*").Length);

        // The same grid elsewhere gives the same numbers.
        var twin = Cli("sweep", "--config", P("grid.yaml"), "--out", P("twin"), "--threads", "1");
        Assert.True(twin.ExitCode == 0, twin.Error);
        static IEnumerable<string> Values(string csv) => File.ReadAllLines(csv).Select(l => string.Join(',', l.Split(',').Where((_, i) => i != 3))); // without run_dir
        Assert.Equal(Values(P("sweep/results.csv")), Values(P("twin/results.csv")));

        // A changed cell is refused, naming the grid file and the way out.
        File.WriteAllText(P("grid.yaml"), Grid.Replace("evaluation_questions=100", "evaluation_questions=50"));
        var changed = Cli("sweep", "--config", P("grid.yaml"), "--out", P("sweep"));
        Assert.Equal(CliOutcome.ClearError, changed.Classify(P("grid.yaml")));
        Assert.Contains("give a new --out", changed.Error);
    }

    [Fact]
    public void ABadSettingIsExitTwoNamingTheGridAndTheSetting_BeforeAnythingRuns()
    {
        File.WriteAllText(P("grid.yaml"), "settings:\n  good: []\n  bad: [pipeline.methods.dpo.align.loss.betta=0.1]\n");
        var result = Cli("sweep", "--config", P("grid.yaml"), "--out", P("sweep"));
        Assert.Equal(CliOutcome.ClearError, result.Classify($"{P("grid.yaml")}: setting 'bad': override 'pipeline.methods.dpo.align.loss.betta=0.1': unknown key"));
        Assert.False(Directory.Exists(P("sweep")));
        Assert.False(Directory.Exists(P("runs")));

        var missing = Cli("sweep", "--config", P("missing.yaml"), "--out", P("sweep"));
        Assert.Equal(CliOutcome.ClearError, missing.Classify("missing.yaml"));

        File.WriteAllText(P("grid.yaml"), "seeds: [1, 2]\nsettings:\n  good: []\n");
        var dry = Cli("sweep", "--config", P("grid.yaml"), "--out", P("sweep"), "--dry-run");
        Assert.True(dry.ExitCode == 0, dry.Error);
        Assert.Contains("2 cells (1 settings × 2 seeds)", dry.Out);
        Assert.Contains("2. good/seed=2", dry.Out);
        Assert.False(Directory.Exists(P("sweep")));
    }
}
