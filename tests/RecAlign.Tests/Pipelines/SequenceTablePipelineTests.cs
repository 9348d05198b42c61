using RecAlign.Data;
using RecAlign.Data.Loaders;
using RecAlign.Pipelines;
using RecAlign.Prompts;
using RecAlign.Tests.Data;
using RecAlign.Training;
using RecAlign.Pipelines.Stages;

namespace RecAlign.Tests.Pipelines;

public class SequenceTablePipelineTests
{
    private static readonly string[] Titles = ["Alpha", "Bravo", "Charlie", "Delta", "Echo", "Foxtrot", "Golf", "Hotel", "India", "Juliet"];

    /// <summary>A table of <paramref name="users"/> users, each with every prefix of a 6-item sequence (width 3, padding 10).</summary>
    private static string Table(int users, int offset)
    {
        var sb = new System.Text.StringBuilder("seq,len_seq,next\n");
        for (int u = 0; u < users; u++)
        {
            var seq = Enumerable.Range(0, 6).Select(k => (u + offset + 3 * k) % 10).ToArray();
            for (int t = 1; t < seq.Length; t++)
            {
                var hist = seq[Math.Max(0, t - 3)..t].ToList();
                int len = hist.Count;
                while (hist.Count < 3) hist.Add(10);
                sb.Append(string.Join(' ', hist)).Append(',').Append(len).Append(',').Append(seq[t]).Append('\n');
            }
        }
        return sb.ToString();
    }

    private static string CandidateFile(int n) => "[" + string.Join(",", Enumerable.Range(0, n).Select(i =>
        $"{{\"historyList\": \"{Titles[i % 10]}\", \"itemList\": [\"{Titles[(i + 1) % 10]}\", \"{Titles[(i + 2) % 10]}\"], \"trueSelection\": \"{Titles[(i + 1) % 10]}\"}}")) + "]";

    [Fact]
    public void Subsample_IsSeededDeterministicAndKeepsOrder()
    {
        var xs = Enumerable.Range(0, 100).ToList();
        var a = RecommendationPipeline.Subsample(xs, 10, 7);
        Assert.Equal(10, a.Count);
        Assert.Equal(a, RecommendationPipeline.Subsample(xs, 10, 7));
        Assert.Equal(a.Order(), a);
        Assert.NotEqual(a, RecommendationPipeline.Subsample(xs, 10, 8));
        Assert.Same(xs, RecommendationPipeline.Subsample(xs, 100, 7));
        Assert.Throws<ArgumentOutOfRangeException>(() => RecommendationPipeline.Subsample(xs, 0, 7));
    }

    [Fact]
    public void CandidateFileSet_IsCappedByEvaluationQuestions()
    {
        using var dir = new TempDir();
        var path = dir.Write("extra.json", CandidateFile(30));
        var templates = PromptTemplates.NamedOrFile("item");
        var capped = SequenceTablePipeline.CandidateFileSet("x", path, templates, new PipelineConfig { EvaluationQuestions = 12 });
        Assert.Equal((12, 30), (capped.Questions.Count, capped.Available));
        var again = SequenceTablePipeline.CandidateFileSet("x", path, templates, new PipelineConfig { EvaluationQuestions = 12 });
        Assert.Equal(capped.Questions.Select(q => q.Prompt), again.Questions.Select(q => q.Prompt));
        var all = SequenceTablePipeline.CandidateFileSet("x", path, templates, new PipelineConfig { EvaluationQuestions = 100 });
        Assert.Equal((30, 30), (all.Questions.Count, all.Available));
        var e = Assert.Throws<ArgumentException>(() => SequenceTablePipeline.CandidateFileSet(SequenceTablePipeline.ValidationSetName, path, templates, new PipelineConfig()));
        Assert.Contains("reserved", e.Message);
    }

    [Fact]
    public void ValidationSet_CapsAtEvaluationQuestions()
    {
        using var dir = new TempDir();
        dir.Write("id2name.txt", string.Concat(Titles.Select((t, i) => $"{i}::{t}\n")));
        var table = SequenceTableLoader.Load(dir.Write("val.csv", Table(6, 1)));
        var set = SequenceTablePipeline.ValidationSet(table.Examples, "val.csv", table.Catalog, PromptTemplates.NamedOrFile("item"),
            new PipelineConfig { EvaluationQuestions = 7, Candidates = 4 });
        Assert.Equal(SequenceTablePipeline.ValidationSetName, set.Name);
        Assert.Equal((7, table.Examples.Count), (set.Questions.Count, set.Available));
        Assert.All(set.Questions, q => Assert.Equal(4, q.Candidates.Count));
    }

    /// <summary><paramref name="p"/> with every stage and method trained for two steps, without evaluation.</summary>
    internal static PipelineConfig TinyStages(PipelineConfig p)
    {
        static TrainingConfig Tiny(TrainingConfig t) => t with { Epochs = 1, MaxSteps = 2, EvalEvery = 0 };
        return p with
        {
            Pretrain = p.Pretrain with { Training = Tiny(p.Pretrain.Training) },
            Sft = p.Sft with { Training = Tiny(p.Sft.Training) },
            Methods = p.Methods.ToDictionary(m => m.Key, m => m.Value with
            {
                Align = m.Value.Align with { Training = Tiny(m.Value.Align.Training) },
                Sequential = m.Value.Sequential with { Training = Tiny(m.Value.Sequential.Training) },
            }),
        };
    }

    [Fact]
    public void DreamRecIsAPipelineRowLikeAnyRecommender()
    {
        using var dir = new TempDir();
        dir.Write("data/id2name.txt", string.Concat(Titles.Select((t, i) => $"{i}::{t}\n")));
        var train = dir.Write("data/train.csv", Table(12, 0));
        var val = dir.Write("val/val.csv", Table(4, 5));
        var defaults = new PipelineConfig();
        var methods = defaults.Methods.ToDictionary(m => m.Key, m => m.Value with { Enabled = m.Key is "dreamrec" });
        methods["dreamrec"] = methods["dreamrec"] with { Sequential = methods["dreamrec"].Sequential with { Model = methods["dreamrec"].Sequential.Model with { Timesteps = 10 } } };
        var p = TinyStages(defaults with { Methods = methods, Candidates = 4, ValidationQuestions = 5, EvaluationQuestions = 6, GenerationEvaluation = false, HistoryAblation = false });
        var result = SequenceTablePipeline.Run(train, val, null, null, [], new SequenceTablePipelineConfig { Template = "item", Pipeline = p }, dir.Sub("runs"), new StringWriter());
        var row = result.Methods.Single(m => m.Method == "dreamrec").Metrics;
        Assert.InRange(row["hr1"], 0, 1);
        Assert.InRange(row["catalog_hr@10"], 0, 1);
        Assert.DoesNotContain(result.Methods, m => m.Method is "sft" or "sasrec");
        Assert.True(Directory.Exists(Path.Combine(result.Run.Path, "models", "dreamrec")));
    }

    [Fact]
    public void Run_WithTestTable_ReportsTestAndKeepsValidationColumns()
    {
        using var dir = new TempDir();
        dir.Write("data/id2name.txt", string.Concat(Titles.Select((t, i) => $"{i}::{t}\n")));
        var train = dir.Write("data/train.csv", Table(12, 0));
        // Validation and test tables elsewhere: the item list beside the training table serves them too.
        var val = dir.Write("val/val.csv", Table(4, 5));
        var test = dir.Write("test/test.csv", Table(4, 7));
        var extra = dir.Write("extra.json", CandidateFile(9));
        var p = TinyStages(new PipelineConfig
        {
            Candidates = 4, SftExamples = 20, PreferenceExamples = 8, ValidationQuestions = 5, EvaluationQuestions = 6,
            GenerationEvaluation = false, HistoryAblation = false, RerankDepth = 3,
        });
        var config = new SequenceTablePipelineConfig { Template = "item", Pipeline = p };
        var console = new StringWriter();
        var result = SequenceTablePipeline.Run(train, val, test, null, [("pub", extra)], config, dir.Sub("runs"), console);

        var sft = result.Methods.Single(m => m.Method == "sft").Metrics;
        Assert.Contains("hr1", sft.Keys);
        Assert.Contains("validation/hr1", sft.Keys);
        Assert.Contains("pub/hr1", sft.Keys);
        var summary = result.Run.ReadSummary()!;
        var evaluation = summary.Evaluation!;
        Assert.Equal("test", (string?)evaluation["reported_split"]);
        Assert.Equal(Path.GetFullPath(test), (string?)evaluation["reported_file"]);
        Assert.Equal(Path.GetFullPath(val), (string?)evaluation["model_selection_file"]);
        Assert.Equal(6, (int)evaluation["extra"]!["pub"]!["scored"]!);
        Assert.Equal(9, (int)evaluation["extra"]!["pub"]!["available"]!);
        Assert.Contains("sft/validation/hr1", summary.FinalMetrics.Keys);
        Assert.Equal(sft["hr1"], summary.Methods!["sft"].Metrics["hr1"], 6);
        Assert.Equal(Path.Combine("models", "sft"), summary.Methods["sft"].ModelDir);
        Assert.Contains("sasrec", summary.Methods.Keys);
        Assert.Contains("transition", summary.Methods.Keys);
        Assert.InRange(summary.Methods["sasrec_top3_sft"].Metrics["catalog_hr@10"], 0, 1); // SASRec retrieves, the LM re-ranks
        Assert.Contains("scoring 6 of 9 questions", console.ToString());

        // Without a test table the validation table is reported, and the summary says it also picked the checkpoints.
        var plain = SequenceTablePipeline.Run(train, val, null, null, [], config, dir.Sub("runs"), new StringWriter());
        var plainSft = plain.Methods.Single(m => m.Method == "sft").Metrics;
        Assert.DoesNotContain("validation/hr1", plainSft.Keys);
        var plainEval = plain.Run.ReadSummary()!.Evaluation!;
        Assert.Equal("validation", (string?)plainEval["reported_split"]);
        Assert.Contains("also picked the checkpoints", (string?)plainEval["note"] ?? "", StringComparison.Ordinal);
    }

    /// <summary>Twelve training users and four validation users over the ten titles, with their item list.</summary>
    internal static (string Train, string Validation) SmallTables(TempDir dir)
    {
        dir.Write("data/id2name.txt", string.Concat(Titles.Select((t, i) => $"{i}::{t}\n")));
        return (dir.Write("data/train.csv", Table(12, 0)), dir.Write("val/val.csv", Table(4, 5)));
    }

    internal static PipelineConfig SmallConfig() => new()
    {
        Candidates = 4, SftExamples = 20, PreferenceExamples = 8, ValidationQuestions = 5, EvaluationQuestions = 6,
        GenerationEvaluation = false, HistoryAblation = false,
    };

    /// <summary>LLaRA: an sft method reading SASRec's item embeddings through a projector, S-DPO on top of it, beside
    /// the text-only rows; the hybrid model directory carries the embedder, and the curriculum is logged per step.</summary>
    [Fact]
    public void Run_TrainsHybridMethodsFromASequentialRecommender()
    {
        using var dir = new TempDir();
        var (train, val) = SmallTables(dir);
        var p = SmallConfig() with { Fairness = new FairnessConfig { Enabled = false } };
        var methods = p.Methods.Where(m => m.Key is "sasrec" or "sft").ToDictionary();
        methods["sft_llara"] = methods["sft"] with { Hybrid = "sasrec", HybridSchedule = RecAlign.Training.HybridSchedule.Direct };
        methods["sdpo_llara"] = p.Methods["sdpo"] with { From = "sft_llara" };
        methods["sft_both"] = methods["sft"] with { Hybrid = "sasrec", HybridCombine = RecAlign.Models.Language.HybridCombine.Add };
        p = TinyStages(p with { Methods = methods });
        p = p with { Sft = p.Sft with { ProjectorLearningRate = 3 * p.Sft.Training.Optimizer.LearningRate } };
        var console = new StringWriter();
        var result = SequenceTablePipeline.Run(train, val, null, null, [], new SequenceTablePipelineConfig { Template = "item", Pipeline = p }, dir.Sub("runs"), console);
        var summary = result.Run.ReadSummary()!;
        Assert.Contains($"sft_llara: the projector's peak lr is {p.Sft.ProjectorLearningRate:G3}", console.ToString());
        Assert.DoesNotContain("sft: the projector's peak lr", console.ToString());
        foreach (var row in new[] { "sasrec", "sft", "sft_llara", "sdpo_llara", "sft_both" }) Assert.InRange(summary.Methods![row].Metrics["hr1"], 0, 1);
        Assert.Contains("\"combine\": \"add\"", File.ReadAllText(Path.Combine(result.Run.Path, "models", "sft_both", RecAlign.Models.Language.HybridItemEmbedder.ConfigFile)));
        Assert.Contains("\"combine\": \"replace\"", File.ReadAllText(Path.Combine(result.Run.Path, "models", "sft_llara", RecAlign.Models.Language.HybridItemEmbedder.ConfigFile)));
        Assert.Contains("sft_llara: hybrid item embeddings from sasrec", console.ToString());
        Assert.True(File.Exists(Path.Combine(result.Run.Path, "models", "sft_llara", RecAlign.Models.Language.HybridItemEmbedder.ConfigFile)));
        Assert.True(File.Exists(Path.Combine(result.Run.Path, "models", "sdpo_llara", RecAlign.Models.Language.HybridItemEmbedder.ConfigFile)));
        Assert.False(File.Exists(Path.Combine(result.Run.Path, "models", "sft", RecAlign.Models.Language.HybridItemEmbedder.ConfigFile)));
        Assert.Contains("\"hybrid\":1", File.ReadAllText(Path.Combine(result.Run.Path, "metrics.jsonl")));
    }

    /// <summary>A method whose training diverges costs its own row and the rows that start from it, not the run: the
    /// others are trained and reported, the summary, report and a sweep cell say why the row is missing.</summary>
    [Fact]
    public void ADivergingMethodCostsOnlyItsOwnRowAndThoseStartingFromIt()
    {
        using var dir = new TempDir();
        var (train, val) = SmallTables(dir);
        var p = SmallConfig() with { Fairness = new FairnessConfig { Enabled = false } };
        var methods = p.Methods.Where(m => m.Key is "sft" or "dpo" or "sdpo").ToDictionary();
        methods["sdpo_after_dpo"] = p.Methods["sdpo"] with { From = "dpo" };
        p = TinyStages(p with { Methods = methods });
        var dpo = p.Methods["dpo"];
        p.Methods["dpo"] = dpo with
        {
            Align = dpo.Align with
            {
                Training = dpo.Align.Training with
                {
                    MaxSteps = 20, BatchSize = 1,
                    Optimizer = dpo.Align.Training.Optimizer with { LearningRate = 1e30, WarmupRatio = 0, MaxGradNorm = 0 },
                },
            },
        };
        var console = new StringWriter();
        var result = SequenceTablePipeline.Run(train, val, null, null, [], new SequenceTablePipelineConfig { Template = "item", Pipeline = p }, dir.Sub("runs"), console);

        var rows = result.Methods.ToDictionary(m => m.Method);
        Assert.Null(rows["sft"].Failure);
        Assert.InRange(rows["sft"].Metrics["hr1"], 0, 1);
        Assert.InRange(rows["sdpo"].Metrics["hr1"], 0, 1); // aligned from sft after dpo failed
        // An aligned row says where its training ended; an SFT row has no preference statistics.
        Assert.True(double.IsFinite(rows["sdpo"].Metrics["train_rewards/margins"]));
        Assert.Equal(Math.Log(4), rows["sdpo"].Metrics["train_first_loss"], 1); // S-DPO with 3 negatives starts at ln 4
        Assert.DoesNotContain(rows["sft"].Metrics.Keys, k => k.StartsWith("train_"));
        Assert.StartsWith("diverged (training diverged", rows["dpo"].Failure);
        Assert.Empty(rows["dpo"].Metrics);
        Assert.Equal("not run: dpo, which it starts from, has no model", rows["sdpo_after_dpo"].Failure);
        Assert.Contains("dpo: diverged", console.ToString());

        var summary = result.Run.ReadSummary()!;
        Assert.Equal(RecAlign.Runs.RunStatus.Completed, summary.Status);
        Assert.StartsWith("diverged", summary.Methods!["dpo"].Failure);
        Assert.Null(summary.Methods["sft"].Failure);
        var report = File.ReadAllText(Path.Combine(result.Run.Path, "report.md"));
        Assert.Contains("- dpo: no result, diverged", report);
        Assert.Contains("Where each aligned method's training ended", report);
        var cell = SweepCellResult.FromRun(result.Run.Path);
        Assert.Equal(["dpo", "sdpo_after_dpo"], cell.Failures!.Keys.Order());
        Assert.DoesNotContain("dpo", cell.Methods.Keys);
        Assert.Contains("sdpo", cell.Methods.Keys);
    }

    [Fact]
    public void Run_ReportsItemSideFairness_TrainsWeightedMethods_AndAddsRerankedRows()
    {
        using var dir = new TempDir();
        var (train, val) = SmallTables(dir);
        var p = SmallConfig() with { Fairness = new FairnessConfig { PopularityGroups = 3, Rerank = true, RerankLambdas = [0, 1], K = 5 } };
        var methods = p.Methods.Where(m => m.Key is "sasrec" or "sft" or "sdpo").ToDictionary();
        methods["sft_fair"] = methods["sft"] with { FairnessWeights = true };
        methods["sdpo_fair"] = methods["sdpo"] with { FairnessWeights = true };
        p = TinyStages(p with { Methods = methods });
        var console = new StringWriter();
        var result = SequenceTablePipeline.Run(train, val, null, null, [], new SequenceTablePipelineConfig { Template = "item", Pipeline = p }, dir.Sub("runs"), console);

        var summary = result.Run.ReadSummary()!;
        foreach (var row in new[] { "popularity", "sasrec", "sft", "sft_fair", "sdpo", "sdpo_fair", "sasrec_rerank", "sft_rerank", "sdpo_fair_rerank" })
        {
            Assert.Contains(row, summary.Methods!.Keys);
            Assert.InRange(summary.Methods[row].Metrics["mgu@5"], 0, 1);
            Assert.InRange(summary.Methods[row].Metrics["catalog_mgu@5"], 0, 1);
            Assert.DoesNotContain("catalog_p_hist/pop1", summary.Methods[row].Metrics.Keys); // per-group shares live in fairness.json
        }
        var log = console.ToString();
        Assert.Contains("item groups for fairness: popularity", log);
        Assert.Contains("sft_fair: 20 examples", log);
        Assert.Contains("each example's loss weighted", log.Split('\n').Single(l => l.StartsWith("sft_fair: 20 examples")));
        Assert.Contains("each example's loss weighted", log.Split('\n').Single(l => l.StartsWith("sdpo_fair: sdpo")));
        Assert.DoesNotContain("weighted", log.Split('\n').Single(l => l.StartsWith("sdpo: sdpo")));
        Assert.Contains("fairness re-ranking of sft", log);
        // One pretrained model serves both SFT methods.
        Assert.Single(summary.Stages!, s => s.Name == "pretrain");
        var fairness = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(result.Run.FairnessPath))!;
        Assert.Equal(3, fairness["groups"]!["names"]!.AsArray().Count);
        Assert.NotNull(fairness["methods"]!["sft_fair"]!["catalog_p_rec@20/pop3"]);
        Assert.Equal(2, fairness["rerank"]!["sft_rerank"]!["trials"]!.AsArray().Count);
        var report = RecAlign.Runs.Report.Write(result.Run);
        var md = File.ReadAllText(report.MarkdownPath);
        Assert.Contains("## Item-side fairness", md);
        Assert.Contains(report.PlotPaths, p => p.EndsWith(RecAlign.Runs.Report.FairnessPlotFile));

        // Genre groups on a catalog without genres are refused; an existing pretrained model skips pretraining.
        var pretrainDir = Path.Combine(result.Run.Path, "models", "pretrain");
        var again = p with { PretrainModel = pretrainDir, Fairness = p.Fairness with { Rerank = false } };
        var log2 = new StringWriter();
        var second = SequenceTablePipeline.Run(train, val, null, null, [], new SequenceTablePipelineConfig { Template = "item", Pipeline = again }, dir.Sub("runs"), log2);
        Assert.Contains("pretraining skipped", log2.ToString());
        Assert.DoesNotContain(second.Run.ReadSummary()!.Stages!, s => s.Name == "pretrain");
        Assert.Contains("pretrain", second.Run.ReadSummary()!.Methods!.Keys);
        var genre = p with { Fairness = p.Fairness with { Groups = ItemGrouping.Genre } };
        int runs = Directory.GetDirectories(dir.Sub("runs")).Length;
        var e = Assert.Throws<ArgumentException>(() => SequenceTablePipeline.Run(train, val, null, null, [], new SequenceTablePipelineConfig { Template = "item", Pipeline = genre }, dir.Sub("runs"), new StringWriter()));
        Assert.Contains("no genres", e.Message);
        Assert.Equal(runs, Directory.GetDirectories(dir.Sub("runs")).Length); // refused before a run folder exists
    }
}

public class HistoryTemplatePipelineTests
{
    [Fact]
    public void HistoryTemplates_GiveATitleLmAPretrainRow_AskedInThePretrainingFormat()
    {
        using var dir = new TempDir();
        var (train, val) = SequenceTablePipelineTests.SmallTables(dir);
        var p = SequenceTablePipelineTests.SmallConfig() with { ItemText = ItemText.Title, Fairness = new FairnessConfig { Enabled = false } };
        p = SequenceTablePipelineTests.TinyStages(p with { Methods = p.Methods.Where(m => m.Key is "sft").ToDictionary() });
        var console = new StringWriter();
        var result = SequenceTablePipeline.Run(train, val, null, null, [], new SequenceTablePipelineConfig { Template = "history", Pipeline = p }, dir.Sub("runs"), console);
        var summary = result.Run.ReadSummary()!;
        Assert.InRange(summary.Methods!["pretrain"].Metrics["hr1"], 0, 1);
        Assert.InRange(summary.Methods["sft"].Metrics["hr1"], 0, 1);
        // Pretraining picks its epoch on the validation questions, which it can answer.
        Assert.Contains("validation questions (asked in the pretraining format) answered every epoch", console.ToString());
        Assert.Contains("\"eval_hr1\"", File.ReadAllText(Path.Combine(result.Run.Path, "metrics.jsonl")).Split('\n').First(l => l.Contains("\"pretrain\"") && l.Contains("eval_")));
        // The same run with S-DPO-style questions has no pretrain row for a title LM: it was never shown that format.
        var asked = SequenceTablePipeline.Run(train, val, null, null, [], new SequenceTablePipelineConfig { Template = "item", Pipeline = p }, dir.Sub("runs"), new StringWriter());
        Assert.DoesNotContain("pretrain", asked.Run.ReadSummary()!.Methods!.Keys);
    }

    [Fact]
    public void MaxHistory_SetsThePromptsHistoryAndThePretrainingWindows()
    {
        using var dir = new TempDir();
        var (train, val) = SequenceTablePipelineTests.SmallTables(dir);
        var p = SequenceTablePipelineTests.SmallConfig() with { MaxHistory = 3, Fairness = new FairnessConfig { Enabled = false } };
        p = SequenceTablePipelineTests.TinyStages(p with { Methods = p.Methods.Where(m => m.Key is "sft").ToDictionary() });
        var result = SequenceTablePipeline.Run(train, val, null, null, [], new SequenceTablePipelineConfig { Template = "history", Pipeline = p }, dir.Sub("runs"), new StringWriter());
        var (lm, tokenizer) = RecAlign.Models.Language.ModelDirectory.Load(Path.Combine(result.Run.Path, "models", "sft"));
        lm.Dispose();
        Assert.Equal(3, Assert.IsType<RecAlign.Text.ItemTokenizer>(tokenizer).HistoryWindow);
    }
}
