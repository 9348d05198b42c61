using RecAlign.Data.Splits;
using RecAlign.Data.Storage;
using RecAlign.Pipelines;
using RecAlign.Tests.Data;
using RecAlign.Training;

namespace RecAlign.Tests.Pipelines;

/// <summary><c>recalign pipeline --dataset DIR</c> under each split setting: the reported examples are that split's test
/// examples, an exposure shift draws the reported lists by its test policy, and sequence tables refuse split settings.</summary>
public class DatasetPipelineTests
{
    private static SequenceTablePipelineConfig Config(SplitMethod method)
    {
        var p = new PipelineConfig { Candidates = 5, EvaluationQuestions = 100_000, ValidationQuestions = 20, GenerationEvaluation = false, HistoryAblation = false };
        var sasrec = p.Methods["sasrec"];
        p = p with
        {
            Methods = new() { ["sasrec"] = sasrec with { Sequential = sasrec.Sequential with { Training = sasrec.Sequential.Training with { Epochs = 1, MaxSteps = 2, EvalEvery = 0 } } } },
            Fairness = new FairnessConfig { Enabled = false },
        };
        return new SequenceTablePipelineConfig { Template = "item", Pipeline = p, Split = new SplitConfig { Method = method } };
    }

    [Theory]
    [InlineData(SplitMethod.LeaveOneOut, "leave_one_out")]
    [InlineData(SplitMethod.PopularityShift, "popularity_shift")]
    [InlineData(SplitMethod.TemporalShift, "temporal_shift")]
    [InlineData(SplitMethod.ExposureShift, "exposure_shift")]
    public void ReportsTheSplitsTestExamples(SplitMethod method, string protocol)
    {
        using var dir = new TempDir();
        var dataset = RecAlign.Tests.Cli.CliFuzzTests.BaseDataset;
        var split = Splitter.Split(DatasetStore.Load(dataset), new SplitConfig { Method = method });
        var console = new StringWriter();
        var result = DatasetPipeline.Run(dataset, Config(method), dir.Sub("runs"), console);
        var evaluation = result.Run.ReadSummary()!.Evaluation!;
        Assert.Equal(protocol, (string?)evaluation["protocol"]);
        Assert.Contains($"{protocol}: {split.Train.Count} training prefixes, {split.Validation.Count} validation and {split.Test.Count} test examples", console.ToString());
        Assert.Contains($"validation and {split.Test.Count} evaluation questions", console.ToString());
    }

    [Fact]
    public void SftTrainsOnTheLatestPrefixOfEachUserOrOnEveryPrefix_AndPopularityCountsTheLatestEitherWay()
    {
        using var dir = new TempDir();
        var dataset = RecAlign.Tests.Cli.CliFuzzTests.BaseDataset;
        var split = Splitter.Split(DatasetStore.Load(dataset), new SplitConfig());
        int users = split.Train.Select(e => e.User).Distinct().Count();
        Assert.True(split.Train.Count > users, "the dataset must have users with several training prefixes");
        double Popularity(SftData sftOn, int sftExamples)
        {
            var console = new StringWriter();
            var result = DatasetPipeline.Run(dataset, Config(SplitMethod.LeaveOneOut) with { SftOn = sftOn }, dir.Sub($"runs-{sftOn}"), console);
            Assert.Contains($"{sftExamples} SFT / ", console.ToString());
            return result.Run.ReadSummary()!.FinalMetrics["popularity/hr1"];
        }
        Assert.Equal(Popularity(SftData.Latest, users), Popularity(SftData.Prefixes, split.Train.Count));
    }

    [Fact]
    public void SequenceTablesRefuseSplitSettingsAndSftOn()
    {
        var e = Assert.Throws<ArgumentException>(() => SequenceTablePipeline.Run("t.csv", "v.csv", null, null, [], Config(SplitMethod.LeaveOneOut) with { SftOn = SftData.Prefixes }, "runs"));
        Assert.Contains("sft_on = prefixes: applies to --dataset", e.Message);
    }

    [Fact]
    public void SequenceTablesRefuseSplitSettings()
    {
        var e = Assert.Throws<ArgumentException>(() => SequenceTablePipeline.Run("t.csv", "v.csv", null, null, [], Config(SplitMethod.PopularityShift), "runs"));
        Assert.Contains("--dataset", e.Message);
    }
}
