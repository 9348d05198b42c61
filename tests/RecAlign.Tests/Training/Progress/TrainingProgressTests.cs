using RecAlign.Training.Progress;
using Spectre.Console;

namespace RecAlign.Tests.Training.Progress;

internal sealed class FakeTime : TimeProvider
{
    private long _ticks;
    public override long GetTimestamp() => _ticks;
    public override long TimestampFrequency => TimeSpan.TicksPerSecond;
    public void Advance(TimeSpan t) => _ticks += t.Ticks;
}

public class TrainingProgressTests
{
    private static Dictionary<string, double> Loss(double v) => new() { ["loss"] = v };

    [Fact]
    public void PlainPrintsFirstEveryNStepsAndClosingLines()
    {
        var time = new FakeTime();
        var writer = new StringWriter();
        using (var p = new PlainTrainingProgress(writer, new ProgressOptions { Label = "sft", EverySteps = 10, Every = TimeSpan.FromHours(1) }, time))
        {
            for (int step = 1; step <= 24; step++)
            {
                time.Advance(TimeSpan.FromSeconds(0.1));
                p.Report(step, 25, Loss(0.5), tokens: 100);
            }
        }
        var lines = writer.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(5, lines.Length);
        Assert.StartsWith("[sft] step 1/25 (4.0%) loss=0.5000", lines[0]);
        // Step 11 at t = 1.1 s: 10 steps and 1000 tokens in the 1.0 s since the first report → 10 steps/s, 1,000 tok/s;
        // 14 steps left → ETA 1.4 s.
        Assert.Equal("[sft] step 11/25 (44.0%) loss=0.5000 | 1,000 tok/s | 1s elapsed | ETA 1s", lines[1]);
        Assert.StartsWith("[sft] step 21/25", lines[2]);
        Assert.StartsWith("[sft] step 24/25", lines[3]); // Complete prints the last unprinted step
        Assert.Equal("[sft] done: 24 steps in 2s, 1,000 tok/s average", lines[4]);
    }

    [Fact]
    public void PlainPrintsWhenTimeIntervalPassesAndAtTheLastStep()
    {
        var time = new FakeTime();
        var writer = new StringWriter();
        var p = new PlainTrainingProgress(writer, new ProgressOptions { EverySteps = 1000, Every = TimeSpan.FromSeconds(10) }, time);
        p.Report(1, 3, Loss(1));
        time.Advance(TimeSpan.FromSeconds(3));
        p.Report(2, 3, Loss(0.9)); // neither 1000 steps nor 10 s: silent
        time.Advance(TimeSpan.FromSeconds(11));
        p.Report(3, 3, Loss(0.8)); // last step (and 14 s later)
        p.Complete();
        p.Complete(); // idempotent
        var lines = writer.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, lines.Length);
        Assert.Contains("step 3/3 (100.0%) loss=0.8000", lines[1]);
        Assert.DoesNotContain("ETA", lines[1]);
        Assert.StartsWith("[train] done: 3 steps in 14s", lines[2]);
    }

    [Fact]
    public void ResumedRunsFirstReportCountsOneStepNotTheStepNumber()
    {
        var time = new FakeTime();
        var t = new ProgressTracker(time);
        time.Advance(TimeSpan.FromSeconds(5));
        var first = t.Update(101, 200, 50); // resumed at step 100: one step done in this process
        Assert.Equal(0.2, first.StepsPerSecond, 1e-12);
        Assert.Equal(TimeSpan.FromSeconds(495), first.Eta);
    }

    [Fact]
    public void TrackerMeasuresRatesFromTheFirstReport()
    {
        var time = new FakeTime();
        var t = new ProgressTracker(time);
        time.Advance(TimeSpan.FromSeconds(5)); // warm-up before the first step
        var first = t.Update(1, 101, 50);
        Assert.Equal(0.2, first.StepsPerSecond, 1e-12); // one report: whole elapsed time
        time.Advance(TimeSpan.FromSeconds(2));
        var s = t.Update(11, 101, 400);
        Assert.Equal(5.0, s.StepsPerSecond, 1e-12);
        Assert.Equal(200.0, s.TokensPerSecond, 1e-12);
        Assert.Equal(450, s.Tokens);
        Assert.Equal(TimeSpan.FromSeconds(18), s.Eta);
        Assert.Equal(TimeSpan.FromSeconds(7), s.Elapsed);
    }

    [Theory]
    [InlineData(0.69314718, "0.6931")]
    [InlineData(3e-4, "3.00e-4")]
    [InlineData(0, "0.0000")]
    [InlineData(double.NaN, "NaN")]
    public void FormatsValues(double v, string expected) => Assert.Equal(expected, TrainingProgress.FormatValue(v));

    [Theory]
    [InlineData(5.4, "5s")]
    [InlineData(65, "1m 05s")]
    [InlineData(3725, "1h 02m")]
    public void FormatsDurations(double seconds, string expected) =>
        Assert.Equal(expected, TrainingProgress.FormatDuration(TimeSpan.FromSeconds(seconds)));

    [Fact]
    public void LiveBarRendersToAnInteractiveConsole()
    {
        var writer = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.Yes,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.Yes,
            Out = new AnsiConsoleOutput(writer),
        });
        var time = new FakeTime();
        using (var p = new LiveTrainingProgress(console, new ProgressOptions { Label = "dpo" }, time))
        {
            for (int step = 1; step <= 5; step++)
            {
                time.Advance(TimeSpan.FromSeconds(1));
                p.Report(step, 5, new Dictionary<string, double> { ["loss"] = 1.0 / step, ["note[x]"] = 1 }, tokens: 10);
            }
        }
        var text = writer.ToString();
        Assert.Contains("[dpo] 5/5 loss=0.2000 note[x]=1.0000 10 tok/s", text); // markup in names is escaped, not parsed
    }
}
