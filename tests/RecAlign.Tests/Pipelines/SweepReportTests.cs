using RecAlign.Pipelines;
using RecAlign.Tests.Runs;

namespace RecAlign.Tests.Pipelines;

public class SweepReportTests
{
    [Fact]
    public void MeanAndSampleStdOverSeeds_AWorkedExample()
    {
        // 0.2, 0.3, 0.4: mean 0.3; deviations −0.1, 0, 0.1; sample variance (0.01 + 0 + 0.01) / (3 − 1) = 0.01, std 0.1
        // (the population std would be 0.0816).
        var s = MetricStats.Of([0.2, 0.3, 0.4]);
        Assert.Equal(0.3, s.Mean, 12);
        Assert.Equal(0.1, s.Std!.Value, 12);
        Assert.Equal(3, s.N);
        Assert.Null(MetricStats.Of([0.5]).Std); // one seed has no spread to show
        Assert.Equal(Math.Sqrt(0.5), MetricStats.Of([1, 2]).Std!.Value, 12);
    }

    private static SweepCellState Cell(string setting, ulong seed, params (string Method, double Hr1, double? Mgu)[] rows) => new()
    {
        Id = SweepCell.CellId(setting, seed), Setting = setting, Seed = seed, Status = SweepCellStatus.Completed, RunDir = $"/runs/{setting}-{seed}",
        Metrics = rows.ToDictionary(r => r.Method, r => (IReadOnlyDictionary<string, double>)(r.Mgu is { } m
            ? new Dictionary<string, double> { ["hr1"] = r.Hr1, ["catalog_mgu@10"] = m }
            : new Dictionary<string, double> { ["hr1"] = r.Hr1 })),
    };

    private static SweepState State() => new()
    {
        GridHash = new string('a', 64), Settings = ["beta=0.1", "beta=1"], Seeds = [1, 2, 3],
        Cells =
        [
            Cell("beta=0.1", 1, ("oracle", 0.9, null), ("dpo", 0.2, 0.05)),
            Cell("beta=1", 1, ("oracle", 0.9, null), ("dpo", 0.25, 0.04)),
            Cell("beta=0.1", 2, ("oracle", 0.9, null), ("dpo", 0.3, 0.07)),
            Cell("beta=1", 2, ("oracle", 0.9, null), ("dpo", 0.25, 0.02)),
            Cell("beta=0.1", 3, ("oracle", 0.9, null), ("dpo", 0.4, 0.06)),
            new SweepCellState { Id = "beta=1/seed=3", Setting = "beta=1", Seed = 3, Status = SweepCellStatus.Running },
        ],
    };

    [Fact]
    public void RowsAreSettingTimesMethodOverTheCompletedSeeds()
    {
        var rows = SweepReport.Rows(State());
        Assert.Equal(["beta=0.1/oracle", "beta=0.1/dpo", "beta=1/oracle", "beta=1/dpo"], rows.Select(r => $"{r.Setting}/{r.Method}"));
        Assert.Equal([1UL, 2UL, 3UL], rows[1].Seeds);
        Assert.Equal([0.2, 0.3, 0.4], rows[1].Values["hr1"]);
        Assert.Equal([1UL, 2UL], rows[3].Seeds); // seed 3 of beta=1 has not completed
    }

    [Fact]
    public void TableShowsMeanStdAndN_BoldsTheBestPerColumn_LowerForUnfairness_NeverTheOracle()
    {
        var rows = SweepReport.Rows(State());
        var table = SweepReport.Table(["hr1", "catalog_mgu@10"], rows);
        Assert.Equal(
            "| setting | method | n | hr1 | catalog_mgu@10 ↓ |\n" +
            "|---|---|---:|---:|---:|\n" +
            "| beta=0.1 | oracle | 3 | 0.9000 ± 0.0000 |  |\n" +
            "| beta=0.1 | dpo | 3 | **0.3000 ± 0.1000** | 0.0600 ± 0.0100 |\n" +
            "| beta=1 | oracle | 2 | 0.9000 ± 0.0000 |  |\n" +
            "| beta=1 | dpo | 2 | 0.2500 ± 0.0000 | **0.0300 ± 0.0141** |\n", table);
        // A table without any of a row's metrics leaves the row out; a metric fewer seeds have shows its own n.
        var partial = SweepReport.Table(["catalog_mgu@10"], rows);
        Assert.DoesNotContain("oracle", partial);
        var state = State();
        var cells = state.Cells.ToList();
        cells[4] = Cell("beta=0.1", 3, ("dpo", 0.4, null));
        Assert.Contains("| beta=0.1 | dpo | 3 | **0.3000 ± 0.1000** | 0.0600 ± 0.0141 (n=2) |", SweepReport.Table(["hr1", "catalog_mgu@10"], SweepReport.Rows(state with { Cells = cells })));
    }

    [Fact]
    public void MetricSetsKeepTheKeysTheSummariesHave()
    {
        var rows = SweepReport.Rows(State());
        var sets = SweepReport.MetricSets(rows);
        Assert.Equal(["candidate lists: hr1", "item-side fairness: catalog_mgu@10"], sets.Select(s => $"{s.Name}: {string.Join(",", s.Keys)}"));
        var chosen = SweepReport.MetricSets(rows, new Dictionary<string, List<string>> { ["main"] = ["catalog_mgu@10", "hr1", "ndcg@99"] });
        Assert.Equal(["catalog_mgu@10", "hr1"], chosen.Single().Keys);
    }

    /// <summary>An aligned row's training values get their own default table, which marks no best (a larger margin is
    /// not a better row), and never pass for an extra evaluation set (their keys hold a '/').</summary>
    [Fact]
    public void TrainingValuesGetAnUnrankedTableOfTheirOwn()
    {
        SweepCellState Trained(ulong seed, double margin) => new()
        {
            Id = SweepCell.CellId("base", seed), Setting = "base", Seed = seed, Status = SweepCellStatus.Completed,
            Metrics = new Dictionary<string, IReadOnlyDictionary<string, double>>
            {
                ["sft"] = new Dictionary<string, double> { ["hr1"] = 0.5 },
                ["sdpo"] = new Dictionary<string, double> { ["hr1"] = 0.6, ["train_rewards/margins"] = margin, ["train_first_loss"] = 1.386 },
            },
        };
        var rows = SweepReport.Rows(new SweepState { GridHash = new string('a', 64), Settings = ["base"], Seeds = [1, 2], Cells = [Trained(1, 0.2), Trained(2, 0.4)] });
        var sets = SweepReport.MetricSets(rows);
        Assert.Equal(["candidate lists: hr1", "preference training (mean over its last 10 % of steps): train_rewards/margins,train_first_loss"],
            sets.Select(s => $"{s.Name}: {string.Join(",", s.Keys)}"));
        var table = SweepReport.Table(sets[1].Keys, rows);
        Assert.Contains("| base | sdpo | 2 | 0.3000 ± 0.1414 | 1.3860 ± 0.0000 |", table);
        Assert.DoesNotContain("**", table);
        Assert.DoesNotContain("| sft |", table);
    }

    /// <summary>The grid the <see cref="State"/> cells come from: DPO's β over 0.1 and 1, seeds 1-3.</summary>
    private static SweepPlan BetaGrid(TempDir tmp)
    {
        var grid = Path.Combine(tmp.Path, "grid.yaml");
        File.WriteAllText(grid, "seeds: [1, 2, 3]\ngrid:\n  pipeline.methods.dpo.align.loss.beta: [0.1, 1]\n");
        return SweepGridFile.Load(grid);
    }

    [Fact]
    public void EveryGroundTruthBoundIsShownUnranked()
    {
        var cells = new List<SweepCellState>
        {
            Cell("beta=0.1", 1, ("oracle", 0.9, null), ("oracle_observed_taste", 0.8, null), ("dpo", 0.2, null)),
        };
        var state = State() with { Cells = cells, Settings = ["beta=0.1"] };
        var rows = SweepReport.Rows(state);
        var table = SweepReport.Table(["hr1"], rows);
        Assert.Contains("| beta=0.1 | oracle_observed_taste | 1 | 0.8000 |", table);
        Assert.Contains("| beta=0.1 | dpo | 1 | **0.2000** |", table);
        using var tmp = new TempDir();
        var report = File.ReadAllText(SweepReport.Write(Path.Combine(tmp.Path, "out"), BetaGrid(tmp), state));
        Assert.Contains("(oracle, oracle_observed_taste, the ground-truth bounds, are not ranked)", report);
        Assert.True(SweepReport.Unranked("oracle_observed_taste"));
        Assert.False(SweepReport.Unranked("oracles_method"));
    }

    [Fact]
    public void WriteProducesTheReportThePlotsAndPerSeedResults()
    {
        using var tmp = new TempDir();
        var plan = BetaGrid(tmp);
        var folder = Path.Combine(tmp.Path, "out");
        var report = File.ReadAllText(SweepReport.Write(folder, plan, State()));
        Assert.Contains("| cells | 5 of 6 completed, 1 running |", report);
        Assert.Contains("| beta=1 | `pipeline.methods.dpo.align.loss.beta=1` |", report);
        Assert.Contains("## candidate lists", report);
        Assert.Contains("![hr1](plots/1-candidate-lists.png)", report);
        Assert.Contains("![catalog_mgu@10](plots/2-item-side-fairness.png)", report);
        Assert.Contains("(oracle, the ground-truth bound, is not ranked)", report);
        var png = File.ReadAllBytes(Path.Combine(folder, "plots", "1-candidate-lists.png"));
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], png[..4]);
        var csv = File.ReadAllLines(Path.Combine(folder, SweepReport.CsvFile));
        Assert.Equal("setting,seed,method,run_dir,hr1,catalog_mgu@10", csv[0]);
        Assert.Equal("beta=0.1,1,dpo,/runs/beta=0.1-1,0.2,0.05", csv[2]);
        Assert.Equal(11, csv.Length); // header + 5 completed cells × 2 methods
        var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(folder, SweepReport.JsonFile)))!;
        var dpo = json["rows"]!.AsArray().Single(r => (string)r!["setting"]! == "beta=0.1" && (string)r["method"]! == "dpo")!;
        Assert.Equal(0.1, (double)dpo["metrics"]!["hr1"]!["std"]!, 12);
        Assert.Equal([0.2, 0.3, 0.4], dpo["metrics"]!["hr1"]!["values"]!.AsArray().Select(v => (double)v!));
    }

    /// <summary>A method that diverged in one seed: its row averages the seeds it has (n shows it) and the report says
    /// which cell lost it and why.</summary>
    [Fact]
    public void AMethodMissingFromACellIsCountedInNAndListedWithItsReason()
    {
        using var tmp = new TempDir();
        var plan = BetaGrid(tmp);
        var state = State();
        var cells = state.Cells.ToList();
        cells[2] = Cell("beta=0.1", 2, ("oracle", 0.9, null)) with { Failures = new Dictionary<string, string> { ["dpo"] = "diverged (training diverged: the loss became NaN at step 7)" } };
        state = state with { Cells = cells };
        var rows = SweepReport.Rows(state);
        var dpo = rows.Single(r => r.Setting == "beta=0.1" && r.Method == "dpo");
        Assert.Equal([1UL, 3UL], dpo.Seeds);
        Assert.Equal(0.3, dpo.Stats("hr1")!.Mean, 12);
        var report = File.ReadAllText(SweepReport.Write(Path.Combine(tmp.Path, "out"), plan, state));
        Assert.Contains("## Methods without a result", report);
        Assert.Contains("| beta=0.1/seed=2 | dpo | diverged (training diverged: the loss became NaN at step 7) |", report);
        var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(tmp.Path, "out", SweepReport.JsonFile)))!;
        Assert.StartsWith("diverged", (string)json["cells"]!.AsArray()[2]!["failures"]!["dpo"]!);
    }
}
