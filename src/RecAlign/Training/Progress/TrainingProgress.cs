using System.Globalization;
using System.Text;
using Spectre.Console;

namespace RecAlign.Training.Progress;

/// <summary>What trainers call once per step. <c>tokens</c> is the number of tokens processed since the previous
/// call (this step's tokens), so tokens/s needs no bookkeeping in the trainer.</summary>
public interface ITrainingProgress : IDisposable
{
    void Report(long step, long total, IReadOnlyDictionary<string, double> metrics, long tokens = 0);

    /// <summary>Ends the display (final line / stops the live bar). Idempotent; Dispose calls it.</summary>
    void Complete();
}

/// <summary>How often plain output prints, and what it shows.</summary>
public sealed record ProgressOptions
{
    /// <summary>Label in front of every line / on the bar, e.g. the stage name.</summary>
    public string Label { get; init; } = "train";
    /// <summary>Plain output prints every this many steps...</summary>
    public int EverySteps { get; init; } = 50;
    /// <summary>...or when this much time has passed since the last line, whichever comes first.</summary>
    public TimeSpan Every { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>At most this many metrics are shown, in the order the trainer passes them.</summary>
    public int MaxMetrics { get; init; } = 4;
    /// <summary>What the throughput counts: <c>tok</c> (tokens) or <c>ex</c> (next-item examples).</summary>
    public string Unit { get; init; } = "tok";
}

/// <summary>A point-in-time view of training speed: rates are measured from the first report on, so the first step's
/// warm-up does not distort them.</summary>
public readonly record struct ProgressSnapshot(long Step, long Total, TimeSpan Elapsed, double StepsPerSecond,
    double TokensPerSecond, long Tokens, TimeSpan? Eta)
{
    public double Fraction => Total > 0 ? Math.Clamp((double)Step / Total, 0, 1) : 0;
}

/// <summary>Turns (step, tokens, time) reports into rates and an ETA; shared by both displays.</summary>
public sealed class ProgressTracker
{
    private readonly TimeProvider _time;
    private readonly long _start;
    private long? _firstTime;
    private long _firstStep;
    private long _tokensSinceFirst;

    public ProgressTracker(TimeProvider? time = null)
    {
        _time = time ?? TimeProvider.System;
        _start = _time.GetTimestamp();
    }

    public long Tokens { get; private set; }

    public ProgressSnapshot Update(long step, long total, long tokens)
    {
        if (tokens < 0) throw new ArgumentOutOfRangeException(nameof(tokens), tokens, "token count must be ≥ 0");
        long now = _time.GetTimestamp();
        Tokens += tokens;
        double stepsPerSecond = 0, tokensPerSecond = 0;
        if (_firstTime is null)
        {
            _firstTime = now;
            _firstStep = step;
            // With one report only, fall back to the whole elapsed time for that one step (a resumed run's first
            // report may say step 101: the steps before it were another process's).
            double s = _time.GetElapsedTime(_start, now).TotalSeconds;
            if (s > 0) { stepsPerSecond = 1 / s; tokensPerSecond = tokens / s; }
        }
        else
        {
            _tokensSinceFirst += tokens;
            double s = _time.GetElapsedTime(_firstTime.Value, now).TotalSeconds;
            if (s > 0) { stepsPerSecond = (step - _firstStep) / s; tokensPerSecond = _tokensSinceFirst / s; }
        }
        TimeSpan? eta = stepsPerSecond > 0 && total >= step ? TimeSpan.FromSeconds((total - step) / stepsPerSecond) : null;
        return new ProgressSnapshot(step, total, _time.GetElapsedTime(_start, now), stepsPerSecond, tokensPerSecond, Tokens, eta);
    }
}

/// <summary>
/// Picks the display: a Spectre.Console live progress bar when stdout is an interactive terminal, plain periodic
/// lines otherwise (CI logs, redirected output, <c>CI</c> set). Trainers take an <see cref="ITrainingProgress"/>
/// and never care which.
/// </summary>
public static class TrainingProgress
{
    public static ITrainingProgress Create(ProgressOptions? options = null, TextWriter? plainOutput = null, TimeProvider? time = null)
    {
        options ??= new ProgressOptions();
        if (plainOutput is null && IsInteractiveTerminal())
            return new LiveTrainingProgress(AnsiConsole.Console, options, time);
        return new PlainTrainingProgress(plainOutput ?? Console.Out, options, time);
    }

    public static bool IsInteractiveTerminal() =>
        !Console.IsOutputRedirected
        && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("CI"))
        && AnsiConsole.Profile.Capabilities.Interactive
        && AnsiConsole.Profile.Capabilities.Ansi; // without ANSI Spectre falls back to sparse redraws: plain lines read better

    /// <summary>One line such as <c>[sft] step 120/1000 (12.0%) loss=0.6931 lr=3.00e-4 | 8,400 tok/s | 1m 05s elapsed | ETA 7m 56s</c>.</summary>
    public static string FormatLine(string label, ProgressSnapshot s, IReadOnlyDictionary<string, double> metrics, int maxMetrics, string unit = "tok")
    {
        var sb = new StringBuilder();
        sb.Append('[').Append(label).Append("] step ").Append(s.Step.ToString(CultureInfo.InvariantCulture));
        if (s.Total > 0)
            sb.Append('/').Append(s.Total.ToString(CultureInfo.InvariantCulture))
              .Append(" (").Append((100 * s.Fraction).ToString("0.0", CultureInfo.InvariantCulture)).Append("%)");
        foreach (var (k, v) in metrics.Take(maxMetrics)) sb.Append(' ').Append(k).Append('=').Append(FormatValue(v));
        if (s.Tokens > 0) sb.Append(" | ").Append(s.TokensPerSecond.ToString("#,0", CultureInfo.InvariantCulture)).Append(' ').Append(unit).Append("/s");
        sb.Append(" | ").Append(FormatDuration(s.Elapsed)).Append(" elapsed");
        if (s.Eta is TimeSpan eta && s.Step < s.Total) sb.Append(" | ETA ").Append(FormatDuration(eta));
        return sb.ToString();
    }

    /// <summary>The live bar's description: label, step, metrics and tok/s (the bar's own columns show % and ETA).</summary>
    public static string FormatShort(string label, ProgressSnapshot s, IReadOnlyDictionary<string, double> metrics, int maxMetrics, string unit = "tok")
    {
        var sb = new StringBuilder();
        sb.Append('[').Append(label).Append("] ").Append(s.Step.ToString(CultureInfo.InvariantCulture));
        if (s.Total > 0) sb.Append('/').Append(s.Total.ToString(CultureInfo.InvariantCulture));
        foreach (var (k, v) in metrics.Take(maxMetrics)) sb.Append(' ').Append(k).Append('=').Append(FormatValue(v));
        if (s.Tokens > 0) sb.Append(' ').Append(s.TokensPerSecond.ToString("#,0", CultureInfo.InvariantCulture)).Append(' ').Append(unit).Append("/s");
        return sb.ToString();
    }

    public static string FormatValue(double v) =>
        !double.IsFinite(v) ? v.ToString(CultureInfo.InvariantCulture)
        : v != 0 && (Math.Abs(v) < 1e-3 || Math.Abs(v) >= 1e5) ? v.ToString("0.00e+0", CultureInfo.InvariantCulture)
        : v.ToString("0.0000", CultureInfo.InvariantCulture);

    public static string FormatDuration(TimeSpan t)
    {
        if (t.TotalSeconds < 60) return t.TotalSeconds.ToString("0", CultureInfo.InvariantCulture) + "s";
        if (t.TotalHours < 1) return $"{t.Minutes}m {t.Seconds:00}s";
        return $"{(int)t.TotalHours}h {t.Minutes:00}m";
    }
}

/// <summary>Plain lines to a <see cref="TextWriter"/>: the first report, then every <see cref="ProgressOptions.EverySteps"/>
/// steps or <see cref="ProgressOptions.Every"/>, the last step, and a closing line.</summary>
public sealed class PlainTrainingProgress : ITrainingProgress
{
    private readonly TextWriter _out;
    private readonly ProgressOptions _options;
    private readonly TimeProvider _time;
    private readonly ProgressTracker _tracker;
    private readonly Lock _gate = new();
    private long _lastPrintedStep = long.MinValue;
    private long _lastPrintTime;
    private (ProgressSnapshot Snapshot, IReadOnlyDictionary<string, double> Metrics)? _last;
    private bool _completed;

    public PlainTrainingProgress(TextWriter output, ProgressOptions? options = null, TimeProvider? time = null)
    {
        _out = output;
        _options = options ?? new ProgressOptions();
        if (_options.EverySteps < 1) throw new ArgumentOutOfRangeException(nameof(options), _options.EverySteps, "EverySteps must be ≥ 1");
        _time = time ?? TimeProvider.System;
        _tracker = new ProgressTracker(_time);
    }

    public void Report(long step, long total, IReadOnlyDictionary<string, double> metrics, long tokens = 0)
    {
        lock (_gate)
        {
            var snap = _tracker.Update(step, total, tokens);
            _last = (snap, metrics);
            long now = _time.GetTimestamp();
            bool due = _lastPrintedStep == long.MinValue
                || step - _lastPrintedStep >= _options.EverySteps
                || _time.GetElapsedTime(_lastPrintTime, now) >= _options.Every
                || (total > 0 && step >= total);
            if (!due) return;
            Write(TrainingProgress.FormatLine(_options.Label, snap, metrics, _options.MaxMetrics, _options.Unit));
            _lastPrintedStep = step;
            _lastPrintTime = now;
        }
    }

    public void Complete()
    {
        lock (_gate)
        {
            if (_completed) return;
            _completed = true;
            if (_last is not { } last) return;
            if (last.Snapshot.Step != _lastPrintedStep)
                Write(TrainingProgress.FormatLine(_options.Label, last.Snapshot, last.Metrics, _options.MaxMetrics, _options.Unit));
            var s = last.Snapshot;
            var done = new StringBuilder($"[{_options.Label}] done: {s.Step.ToString(CultureInfo.InvariantCulture)} steps in {TrainingProgress.FormatDuration(s.Elapsed)}");
            if (s.Tokens > 0 && s.Elapsed.TotalSeconds > 0)
                done.Append(", ").Append((s.Tokens / s.Elapsed.TotalSeconds).ToString("#,0", CultureInfo.InvariantCulture)).Append(' ').Append(_options.Unit).Append("/s average");
            Write(done.ToString());
        }
    }

    public void Dispose() => Complete();

    private void Write(string line)
    {
        _out.WriteLine(line);
        _out.Flush();
    }
}

/// <summary>A Spectre.Console live progress bar (description with metrics and tok/s, bar, percentage, ETA). The
/// display runs on its own thread because Spectre's progress API owns the caller until it finishes; trainers just
/// call <see cref="Report"/>. If the console cannot host a live display (another one is active), it falls back to
/// plain lines.</summary>
public sealed class LiveTrainingProgress : ITrainingProgress
{
    private readonly ProgressOptions _options;
    private readonly ProgressTracker _tracker;
    private readonly TaskCompletionSource _finish = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<ProgressTask?> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Task _display;
    private readonly PlainTrainingProgress _fallback;
    private readonly Lock _gate = new();
    private bool _completed;

    public LiveTrainingProgress(IAnsiConsole console, ProgressOptions? options = null, TimeProvider? time = null)
    {
        _options = options ?? new ProgressOptions();
        _tracker = new ProgressTracker(time);
        _fallback = new PlainTrainingProgress(Console.Out, _options, time);
        _display = Task.Factory.StartNew(() =>
        {
            try
            {
                console.Progress()
                    .AutoClear(false)
                    .HideCompleted(false)
                    .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(),
                        new RemainingTimeColumn(), new SpinnerColumn())
                    .Start(ctx =>
                    {
                        var task = ctx.AddTask(Markup.Escape($"[{_options.Label}]"), autoStart: true, maxValue: 1);
                        _ready.TrySetResult(task);
                        _finish.Task.Wait();
                        ctx.Refresh();
                    });
            }
            catch (Exception e) when (e is InvalidOperationException or IOException)
            {
                _ready.TrySetResult(null); // no live display possible here: plain lines instead
            }
        }, TaskCreationOptions.LongRunning);
    }

    public void Report(long step, long total, IReadOnlyDictionary<string, double> metrics, long tokens = 0)
    {
        var task = _ready.Task.GetAwaiter().GetResult();
        if (task is null) { _fallback.Report(step, total, metrics, tokens); return; }
        lock (_gate)
        {
            if (_completed) return;
            var snap = _tracker.Update(step, total, tokens);
            task.Description = Markup.Escape(TrainingProgress.FormatShort(_options.Label, snap, metrics, _options.MaxMetrics, _options.Unit));
            task.MaxValue = Math.Max(1, total);
            task.Value = Math.Min(step, task.MaxValue);
        }
    }

    public void Complete()
    {
        lock (_gate)
        {
            if (_completed) return;
            _completed = true;
        }
        var task = _ready.Task.GetAwaiter().GetResult();
        if (task is null) { _fallback.Complete(); return; }
        task.StopTask();
        _finish.TrySetResult();
        _display.GetAwaiter().GetResult();
    }

    public void Dispose() => Complete();
}
