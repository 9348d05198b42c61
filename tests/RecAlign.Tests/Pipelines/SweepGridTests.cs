using RecAlign.Pipelines;
using RecAlign.Tests.Runs;

namespace RecAlign.Tests.Pipelines;

public class SweepGridTests
{
    private static SweepPlan Plan(TempDir tmp, string yaml, string name = "grid.yaml")
    {
        var path = Path.Combine(tmp.Path, name);
        File.WriteAllText(path, yaml);
        return SweepGridFile.Load(path);
    }

    private static string Error(TempDir tmp, string yaml)
    {
        var e = Assert.ThrowsAny<Exception>(() => Plan(tmp, yaml));
        Assert.True(e is FormatException or ArgumentException, e.ToString());
        Assert.Contains(Path.Combine(tmp.Path, "grid.yaml"), e.Message); // every error names the grid file
        return e.Message;
    }

    [Fact]
    public void NamedSettingsRunOncePerSeed_SeedMajor_WithTheBaseSetFirst()
    {
        using var tmp = new TempDir();
        var plan = Plan(tmp, """
            job: quickstart
            seeds: [1, 2]
            set: [data_size=tiny]
            settings:
              dpo: [pipeline.methods.sdpo.enabled=false]
              sdpo: [pipeline.methods.dpo.enabled=false, pipeline.methods.sdpo.align.loss.beta=0.5]
            """);
        Assert.Equal(["dpo", "sdpo"], plan.Settings);
        Assert.Equal(["dpo/seed=1", "sdpo/seed=1", "dpo/seed=2", "sdpo/seed=2"], plan.Cells.Select(c => c.Id));
        Assert.Equal(["data_size=tiny", "pipeline.methods.dpo.enabled=false", "pipeline.methods.sdpo.align.loss.beta=0.5"], plan.Cells[1].Overrides);
        // The overrides reach the config exactly as --set would, and the seed is pipeline.seed.
        var config = Assert.IsType<QuickstartConfig>(plan.Cells[3].Config);
        Assert.Equal("tiny", config.DataSize);
        Assert.Equal(2UL, config.Pipeline.Seed);
        Assert.False(config.Pipeline.Methods["dpo"].Enabled);
        Assert.Equal(0.5, config.Pipeline.Methods["sdpo"].Align.Loss.Beta);
        Assert.Equal(4, plan.Cells.Select(c => c.Fingerprint).Distinct().Count());
    }

    [Fact]
    public void GridIsACartesianProductWithDeterministicNames()
    {
        using var tmp = new TempDir();
        const string yaml = """
            seeds: [7]
            grid:
              pipeline.methods.dpo.align.loss.beta: [0.1, 1.0]
              pipeline.methods.dpo.align.loss.loss_type: [dpo, ipo, [sigmoid, sft]]
            """;
        var plan = Plan(tmp, yaml);
        Assert.Equal(["beta=0.1,loss_type=dpo", "beta=0.1,loss_type=ipo", "beta=0.1,loss_type=[\"sigmoid\",\"sft\"]",
            "beta=1,loss_type=dpo", "beta=1,loss_type=ipo", "beta=1,loss_type=[\"sigmoid\",\"sft\"]"], plan.Settings);
        var last = Assert.IsType<QuickstartConfig>(plan.Cells[^1].Config);
        Assert.Equal("sigmoid,sft", last.Pipeline.Methods["dpo"].Align.Loss.LossType);
        // Planned again: the same names, cells and hash.
        Assert.Equal(plan.GridHash, Plan(tmp, yaml).GridHash);
    }

    [Fact]
    public void GridCrossesNamedSettings_AndKeysEndingAlikeKeepTheirWholeName()
    {
        using var tmp = new TempDir();
        var plan = Plan(tmp, """
            settings:
              a: []
              b: [pipeline.candidates=10]
            grid:
              pipeline.methods.dpo.align.loss.beta: [0.1]
              pipeline.methods.sdpo.align.loss.beta: [1, 2]
            """);
        Assert.Equal(["a,pipeline.methods.dpo.align.loss.beta=0.1,pipeline.methods.sdpo.align.loss.beta=1",
            "a,pipeline.methods.dpo.align.loss.beta=0.1,pipeline.methods.sdpo.align.loss.beta=2",
            "b,pipeline.methods.dpo.align.loss.beta=0.1,pipeline.methods.sdpo.align.loss.beta=1",
            "b,pipeline.methods.dpo.align.loss.beta=0.1,pipeline.methods.sdpo.align.loss.beta=2"], plan.Settings);
        Assert.Equal(42UL, plan.Seeds.Single()); // the pipeline's default seed
    }

    [Fact]
    public void NoSettingsIsOneBaseSetting_AndNewMethodsComeFromOverrides()
    {
        using var tmp = new TempDir();
        var plan = Plan(tmp, """
            set:
              - pipeline.methods.simpo.stage=align
              - pipeline.methods.simpo.align.loss.loss_type=simpo
            """);
        Assert.Equal("base/seed=42", plan.Cells.Single().Id);
        Assert.Equal("simpo", Assert.IsType<QuickstartConfig>(plan.Cells[0].Config).Pipeline.Methods["simpo"].Align.Loss.LossType);
    }

    [Fact]
    public void BadInputNamesTheGridFileAndTheSettingOrField()
    {
        using var tmp = new TempDir();
        Assert.Contains("setting 'typo': override 'pipeline.candidatez=5': unknown key", Error(tmp, "settings:\n  ok: []\n  typo: [pipeline.candidatez=5]\n"));
        Assert.Contains("setting 'bad': pipeline.candidates = 1 is invalid", Error(tmp, "settings:\n  bad: [pipeline.candidates=1]\n"));
        Assert.Contains("setting 'word': override 'pipeline.candidates=many'", Error(tmp, "settings:\n  word: [pipeline.candidates=many]\n"));
        Assert.Contains("set: override 'nope=1': unknown key", Error(tmp, "set: [nope=1]\nsettings:\n  a: []\n"));
        Assert.Contains("settings.a: 'beta' must look like key=value", Error(tmp, "settings:\n  a: [beta]\n"));
        Assert.Contains("the seeds come from 'seeds'", Error(tmp, "settings:\n  a: [pipeline.seed=3]\n"));
        Assert.Contains("'seeds': 1, 1 repeats a seed", Error(tmp, "seeds: [1, 1]\n"));
        Assert.Contains("'seeds': give at least one seed", Error(tmp, "seeds: []\n"));
        Assert.Contains("'seeds[0]': expected a non-negative integer", Error(tmp, "seeds: [-1]\n"));
        Assert.Contains("unknown key 'sets'", Error(tmp, "sets: []\n"));
        Assert.Contains("'job': expected one of quickstart, pipeline", Error(tmp, "job: train\n"));
        Assert.Contains("'grid.pipeline.candidates': give a list", Error(tmp, "grid:\n  pipeline.candidates: []\n"));
        Assert.Contains("setting 'candidatez=1': override 'pipeline.candidatez=1': unknown key", Error(tmp, "grid:\n  pipeline.candidatez: [1]\n"));
        Assert.Contains("grid.pipeline.seed: 'pipeline.seed=1': the seeds come from 'seeds'", Error(tmp, "grid:\n  pipeline.seed: [1]\n"));
        Assert.Contains("two settings are named 'candidates=5'", Error(tmp, "grid:\n  pipeline.candidates: [5, 5]\n"));
        Assert.Contains("'train': file not found", Error(tmp, "job: pipeline\ntrain: missing.csv\nvalidation: v.csv\n"));
        Assert.Contains("belong to job: pipeline", Error(tmp, "job: quickstart\nreport: validation\n"));
        Assert.Contains("needs 'train' and 'validation'", Error(tmp, "job: pipeline\n"));
        Assert.Contains("cannot parse config", Error(tmp, "settings: [unclosed\n"));
    }

    /// <summary>The grids shipped in docs/sweeps plan (every override valid); one that reads the shared data is skipped
    /// where they are absent, one over a dataset folder the user prepares where it is missing.</summary>
    [Fact]
    public void TheExampleGridsPlan()
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "RecAlign.slnx"))) root = root.Parent;
        Assert.NotNull(root);
        var grids = Directory.GetFiles(Path.Combine(root!.FullName, "docs", "sweeps"), "*.yaml");
        Assert.Contains(grids, g => g.EndsWith("alignment.yaml"));
        foreach (var grid in grids)
        {
            if (File.ReadAllText(grid).Contains("shared/data") && RecAlign.Tests.Data.SharedData.Root is null) continue;
            SweepPlan plan;
            // A grid over a dataset the user prepares first (its comment says how) plans once that folder exists.
            try { plan = SweepGridFile.Load(grid); }
            catch (Exception e) when (e.Message.Contains("'dataset': folder not found")) { continue; }
            Assert.True(plan.Cells.Count >= 3, grid);
        }
    }
}
