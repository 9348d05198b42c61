using System.Text.Json.Nodes;
using RecAlign.IO;
using System.Diagnostics;
using System.Text.Json;
using RecAlign.Models.Checkpoints;
using RecAlign.Training.Batching;
using RecAlign.Training.Optimization;
using TorchSharp;
using Parameter = TorchSharp.Modules.Parameter;
using AdamW = RecAlign.Training.Optimization.AdamW;
using static TorchSharp.torch;

namespace RecAlign.Training;

/// <summary>One logged point: the optimizer step, its epoch and named values (loss, lr, grad_norm, tokens_per_s,
/// objective statistics, or validation metrics prefixed <c>eval_</c>).</summary>
public sealed record TrainingLogEntry(long Step, double Epoch, IReadOnlyDictionary<string, double> Values);

public sealed record TrainingResult(long Steps, double FinalLoss, IReadOnlyDictionary<string, double>? BestMetrics, long? BestStep,
    bool StoppedEarly, double Seconds, IReadOnlyList<TrainingLogEntry> History)
{
    /// <summary>Tokens trained on over the whole run (a resumed run counts the steps before the interruption too).</summary>
    public long Tokens { get; init; }

    /// <summary>The prefix summaries give <see cref="FinalTrainingValues"/> (<c>train_rewards/margins</c>...).</summary>
    public const string FinalValuePrefix = "train_";

    /// <summary>The loss and objective statistics (keys with a '/', e.g. <c>rewards/margins</c>) averaged over the
    /// training log entries of the last <paramref name="fraction"/> of the steps (at least the last entry), with
    /// <c>first_loss</c>, the first entry's loss: where training ended, less noisy than one logged point.</summary>
    public IReadOnlyDictionary<string, double> FinalTrainingValues(double fraction = 0.1)
    {
        var logged = History.Where(e => e.Values.ContainsKey("loss")).ToList();
        if (logged.Count == 0) return new Dictionary<string, double>();
        long from = (long)Math.Floor(Steps * (1 - fraction));
        var tail = logged.Where(e => e.Step > from).ToList();
        if (tail.Count == 0) tail = [logged[^1]];
        var result = tail.SelectMany(e => e.Values).Where(kv => kv.Key == "loss" || kv.Key.Contains('/'))
            .GroupBy(kv => kv.Key).ToDictionary(g => g.Key, g => g.Average(kv => kv.Value));
        result["first_loss"] = logged[0].Values["loss"];
        return result;
    }
}

/// <summary>
/// The one training loop every stage uses: length-bucketed batches, gradient accumulation, global-norm clipping, AdamW
/// with a warmup schedule, periodic evaluation with best-checkpoint tracking and early stopping, and atomic checkpoints
/// (trainable weights, optimizer state, schedule, RNG and data position) that resume to bit-identical losses.
/// Every micro-step runs in a dispose scope, so memory stays flat.
/// </summary>
public sealed class Trainer
{
    private readonly nn.Module _model;
    private readonly ITrainingObjective _objective;
    private readonly TrainingConfig _config;
    private readonly string? _checkpointDir;

    /// <param name="model">Any module (a language model, a sequential recommender...): its parameters with
    /// requires_grad are trained, and it is switched between train and eval mode around evaluations.</param>
    public Trainer(nn.Module model, ITrainingObjective objective, TrainingConfig config, string? checkpointDir = null)
    {
        _model = model;
        _objective = objective;
        _config = config.Validate();
        _checkpointDir = checkpointDir;
    }

    /// <summary>Validation metrics for the current weights (called in eval mode).</summary>
    public Func<long, IReadOnlyDictionary<string, double>>? Evaluate { get; init; }
    public Action<TrainingLogEntry>? OnLog { get; init; }
    /// <summary>Called after every optimizer step with (step, total steps, loss, tokens so far): progress display.</summary>
    public Action<long, long, double, long>? OnStep { get; init; }
    /// <summary>Called with a line worth a log entry (e.g. a killed run's unfinished checkpoint cleaned up).</summary>
    public Action<string>? OnNotice { get; init; }
    /// <summary>Called once when <see cref="Train"/> resumes from a checkpoint, with its (step, tokens so far).</summary>
    public Action<long, long>? OnResume { get; init; }
    /// <summary>Parameter-name prefixes whose parameters step at their own multiple of the scheduled lr (a fresh
    /// projector beside a trained LM: LLaVA's <c>mm_projector_lr</c>); see <see cref="ParameterGroups.Default"/>.</summary>
    public IReadOnlyDictionary<string, double>? LrScales { get; init; }
    /// <summary>Test hook: throw after this many optimizer steps, as a crash would.</summary>
    internal long? CrashAfterStep { get; init; }

    public TrainingResult Train(bool resume = false)
    {
        var sw = Stopwatch.StartNew();
        var modelTrainable = _model.named_parameters().Where(p => p.parameter.requires_grad).Select(p => (Name: p.name, Parameter: p.parameter)).ToList();
        if (modelTrainable.Count == 0) throw new InvalidOperationException("the model has no trainable parameters");
        var objectiveTrainable = _objective.Parameters.Select(p => (Name: "objective." + p.Name, p.Parameter)).ToList();
        var trainable = modelTrainable.Concat(objectiveTrainable).ToList();
        var parameters = trainable.Select(p => p.Parameter).ToList();
        // The objective's own parameters (CausalDPO's projection) step in their own group: their rate, no decay, and
        // their dtype (fp32) apart from a bf16 model's in flattened mode.
        using var optimizer = AdamW.FromConfig(modelTrainable, _config.Optimizer,
            extraGroups: objectiveTrainable.Count == 0 ? null : [new ParameterGroup("objective", objectiveTrainable, 0.0, _objective.ParameterLrScale)],
            lrScales: LrScales);
        var lengths = Enumerable.Range(0, _objective.Count).Select(_objective.Length).ToArray();
        if (lengths.Length == 0) throw new InvalidOperationException("no training examples");
        int batchesPerEpoch = LengthBucketedBatches.Plan(lengths, _config.BatchSize, _config.Seed, 0, _config.BucketFactor).Count;
        int accum = Math.Max(1, _config.Optimizer.GradAccumulationSteps);
        long totalSteps = _config.MaxSteps > 0 ? _config.MaxSteps : Math.Max(1, (long)_config.Epochs * batchesPerEpoch / accum);
        var scheduler = LrScheduler.FromConfig(_config.Optimizer, totalSteps);

        if (_checkpointDir is not null) // a process killed while writing a checkpoint leaves its temp folder behind
            foreach (var line in IO.AtomicFile.RecoverDirectories(_checkpointDir)) OnNotice?.Invoke($"checkpoints: {line}");
        var state = new TrainerState();
        if (resume && _checkpointDir is not null && LatestCheckpoint(_checkpointDir) is { } latest)
        {
            state = Restore(latest, trainable, optimizer, scheduler);
            OnResume?.Invoke(state.Step, state.Tokens);
        }
        else
            torch.manual_seed(_config.Seed);

        var history = new List<TrainingLogEntry>(state.History);
        int planEpoch = -1;
        IReadOnlyList<int[]> plan = [];
        double lossSum = 0;
        int lossCount = 0;
        long tokensSinceLog = 0;
        var logClock = Stopwatch.StartNew();
        var statSums = new Dictionary<string, double>();
        bool stoppedEarly = false;
        // A run resumed from its final checkpoint trains no further step: its last loss is the checkpoint's.
        double lastLoss = state.LossTrace.Count > 0 ? state.LossTrace[^1] : double.NaN;
        var divergence = new DivergenceMonitor(_config.DivergenceFactor, Math.Max(5, (int)Math.Min(50, totalSteps / 50)), state.LossTrace);
        _model.train();

        while (state.Step < totalSteps)
        {
            double stepLoss = 0;
            for (int micro = 0; micro < accum; micro++)
            {
                if (state.Batch >= batchesPerEpoch) { state.Epoch++; state.Batch = 0; }
                if (state.Epoch != planEpoch)
                {
                    plan = LengthBucketedBatches.Plan(lengths, _config.BatchSize, _config.Seed, state.Epoch, _config.BucketFactor);
                    planEpoch = state.Epoch;
                }
                var batch = plan[state.Batch++];
                using var scope = NewDisposeScope();
                var output = _objective.Compute(batch);
                (accum == 1 ? output.Loss : output.Loss / accum).backward();
                double loss = output.Loss.item<float>();
                if (!double.IsFinite(loss))
                    throw new TrainingDivergedException($"training diverged: the loss became {loss} at step {state.Step + 1} " +
                        $"(learning rate {scheduler.LearningRate:G3}); lower the learning rate or check the data", state.Step + 1);
                stepLoss += loss / accum;
                foreach (var (k, v) in output.Stats)
                    statSums[k] = statSums.GetValueOrDefault(k) + v.item<float>() / accum;
                tokensSinceLog += output.Tokens;
                state.Tokens += output.Tokens;
            }

            double gradNorm = double.NaN;
            using (var scope = NewDisposeScope())
            {
                if (_config.Optimizer.MaxGradNorm > 0)
                    gradNorm = Gradients.ClipGradNorm(parameters, _config.Optimizer.MaxGradNorm).item<float>();
                scheduler.Apply(optimizer);
                optimizer.Step();
                optimizer.ZeroGrad();
            }
            double lr = scheduler.LearningRate;
            if (double.IsNaN(gradNorm) && _config.Optimizer.MaxGradNorm > 0 || double.IsInfinity(gradNorm))
                throw new TrainingDivergedException($"training diverged: the gradient norm became {gradNorm} at step {state.Step + 1} " +
                    $"(learning rate {lr:G3}); lower the learning rate or check the data", state.Step + 1);
            scheduler.Advance();
            state.Step++;
            lastLoss = stepLoss;
            divergence.Add(stepLoss, state.Step, lr);
            lossSum += stepLoss;
            lossCount++;
            state.LossTrace.Add(stepLoss);
            OnStep?.Invoke(state.Step, totalSteps, stepLoss, state.Tokens);

            double epochProgress = state.Epoch + (double)state.Batch / batchesPerEpoch;
            if (state.Step % Math.Max(1, _config.LogEvery) == 0 || state.Step == totalSteps)
            {
                var values = new Dictionary<string, double>
                {
                    ["loss"] = lossSum / lossCount, ["learning_rate"] = lr, ["grad_norm"] = gradNorm,
                    [_objective.Unit == "tok" ? "tokens_per_s" : $"{_objective.Unit}_per_s"] = tokensSinceLog / Math.Max(1e-9, logClock.Elapsed.TotalSeconds),
                };
                foreach (var (k, v) in statSums) values[k] = v / lossCount;
                Log(history, new TrainingLogEntry(state.Step, epochProgress, values));
                lossSum = 0; lossCount = 0; tokensSinceLog = 0; statSums.Clear(); logClock.Restart();
            }

            bool last = state.Step == totalSteps;
            if (Evaluate is not null && ((_config.EvalEvery > 0 && state.Step % _config.EvalEvery == 0) || last))
            {
                var metrics = RunEvaluation(state.Step);
                Log(history, new TrainingLogEntry(state.Step, epochProgress, metrics.ToDictionary(p => "eval_" + p.Key, p => p.Value)));
                if (_config.MetricForBestModel.Length > 0)
                {
                    if (!metrics.TryGetValue(_config.MetricForBestModel, out var value))
                        throw new InvalidOperationException($"evaluation returned no '{_config.MetricForBestModel}' (got {string.Join(", ", metrics.Keys)})");
                    bool better = state.BestValue is null || (_config.GreaterIsBetter ? value > state.BestValue : value < state.BestValue);
                    if (better)
                    {
                        state.BestValue = value;
                        state.BestStep = state.Step;
                        state.BestMetrics = new Dictionary<string, double>(metrics);
                        state.BadEvaluations = 0;
                        if (_checkpointDir is not null) SaveWeights(Path.Combine(_checkpointDir, "best"), trainable);
                    }
                    else if (++state.BadEvaluations >= _config.EarlyStoppingPatience && _config.EarlyStoppingPatience > 0)
                        stoppedEarly = true;
                }
            }

            state.History = history;
            if (_checkpointDir is not null && (last || stoppedEarly || (_config.SaveEvery > 0 && state.Step % _config.SaveEvery == 0)))
                Save(_checkpointDir, trainable, optimizer, scheduler, state);
            if (CrashAfterStep is { } crash && state.Step >= crash)
                throw new OperationCanceledException($"simulated crash after step {state.Step}");
            if (stoppedEarly) break;
        }

        if (_config.LoadBestModelAtEnd && state.BestStep is not null && _checkpointDir is not null && state.BestStep != state.Step)
            LoadWeights(Path.Combine(_checkpointDir, "best"), trainable);
        _model.eval();
        return new TrainingResult(state.Step, lastLoss, state.BestMetrics, state.BestStep, stoppedEarly, sw.Elapsed.TotalSeconds, history) { Tokens = state.Tokens };
    }

    /// <summary>The running mean of the last <c>window</c> step losses against the best running mean so far (or the
    /// first step's loss, when lower): a rise
    /// above factor × best + 1 nat is divergence (noise and overfitting never do that to a training loss; a learning rate
    /// far too high does, often without ever producing a NaN).</summary>
    private sealed class DivergenceMonitor
    {
        private readonly double _factor;
        private readonly int _window;
        private readonly Queue<double> _recent = new();
        private double _sum, _best = double.PositiveInfinity;
        private long _bestStep;

        public DivergenceMonitor(double factor, int window, IEnumerable<double> resumedLosses)
        {
            _factor = factor;
            _window = window;
            long step = 0;
            foreach (var l in resumedLosses) Push(l, ++step); // a resumed run judges with the same history
        }

        public void Add(double loss, long step, double lr)
        {
            Push(loss, step);
            if (_factor > 0 && _recent.Count == _window && _sum / _window > _factor * _best + 1)
                throw new TrainingDivergedException($"training diverged: the mean loss of the last {_window} steps is {_sum / _window:G4} at step {step}, " +
                    $"against {_best:G4} at step {_bestStep} (learning rate {lr:G3}); lower the learning rate " +
                    "(or set training.divergence_factor=0 to train on regardless)", step);
        }

        private void Push(double loss, long step)
        {
            if (step == 1) { _best = loss; _bestStep = 1; } // the starting loss counts: a run may diverge from its first steps
            _recent.Enqueue(loss);
            _sum += loss;
            if (_recent.Count > _window) _sum -= _recent.Dequeue();
            if (_recent.Count == _window && _sum / _window < _best) { _best = _sum / _window; _bestStep = step; }
        }
    }

    private IReadOnlyDictionary<string, double> RunEvaluation(long step)
    {
        _model.eval();
        try
        {
            using var _ = no_grad();
            return Evaluate!(step);
        }
        finally { _model.train(); }
    }

    private void Log(List<TrainingLogEntry> history, TrainingLogEntry entry)
    {
        history.Add(entry);
        OnLog?.Invoke(entry);
    }

    // ---- checkpoints -------------------------------------------------------------------------------------------

    /// <summary>The objective's own state in a checkpoint (<see cref="ITrainingObjective.SaveState"/>; <c>null</c> when none).</summary>
    public const string ObjectiveStateFile = "objective_state.json";

    private sealed class TrainerState
    {
        public long Step { get; set; }
        public int Epoch { get; set; }
        public int Batch { get; set; }
        public long Tokens { get; set; }
        public double? BestValue { get; set; }
        public long? BestStep { get; set; }
        public Dictionary<string, double>? BestMetrics { get; set; }
        public int BadEvaluations { get; set; }
        public List<double> LossTrace { get; set; } = [];
        public List<TrainingLogEntry> History { get; set; } = [];
        public string TorchRngState { get; set; } = "";
    }

    private static readonly JsonSerializerOptions StateJson = new()
    {
        WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>The newest complete checkpoint in <paramref name="checkpointDir"/> (per its <c>latest</c> file).</summary>
    public static string? LatestCheckpoint(string checkpointDir)
    {
        var pointer = Path.Combine(checkpointDir, "latest");
        if (!File.Exists(pointer)) return null;
        var dir = Path.Combine(checkpointDir, File.ReadAllText(pointer).Trim());
        return Directory.Exists(dir) ? dir : null;
    }

    /// <summary>Losses of every optimizer step so far, as recorded in a checkpoint (resume tests compare them).</summary>
    public static IReadOnlyList<double> LossTrace(string checkpoint) =>
        JsonSerializer.Deserialize<TrainerState>(File.ReadAllText(Path.Combine(checkpoint, "trainer_state.json")), StateJson)!.LossTrace;

    private void Save(string checkpointDir, List<(string Name, Parameter Parameter)> trainable, AdamW optimizer, LrScheduler scheduler, TrainerState state)
    {
        Directory.CreateDirectory(checkpointDir);
        var name = $"step-{state.Step:D7}";
        state.TorchRngState = Convert.ToBase64String(RngState.CaptureTorch());
        var optimizerState = optimizer.StateDict();
        try
        {
            CheckpointIO.SaveTensors(trainable.Select(p => KeyValuePair.Create(p.Name, (Tensor)p.Parameter)), Path.Combine(checkpointDir, name), new CheckpointSaveOptions
            {
                JsonFiles = new Dictionary<string, string>
                {
                    ["trainer_state.json"] = JsonSerializer.Serialize(state, StateJson),
                    ["scheduler.json"] = JsonSerializer.Serialize(scheduler.State, StateJson),
                    [ObjectiveStateFile] = _objective.SaveState()?.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) ?? "null",
                },
                WriteExtraFiles = tmp => SafetensorsCheckpoint.Write(tmp, optimizerState.ToList(), baseName: "optimizer"),
            });
        }
        finally
        {
            foreach (var t in optimizerState.Values) t.Dispose();
        }
        AtomicFile.WriteAllText(Path.Combine(checkpointDir, "latest"), name);
        // Keep the newest SaveTotalLimit step checkpoints.
        var old = Directory.GetDirectories(checkpointDir, "step-*").Where(d => !d.Contains(".tmp")).Order(StringComparer.Ordinal).ToList();
        foreach (var d in old.Take(Math.Max(0, old.Count - Math.Max(1, _config.SaveTotalLimit))))
            Directory.Delete(d, recursive: true);
    }

    private static void SaveWeights(string dir, List<(string Name, Parameter Parameter)> trainable) =>
        CheckpointIO.SaveTensors(trainable.Select(p => KeyValuePair.Create(p.Name, (Tensor)p.Parameter)), dir);

    private static void LoadWeights(string dir, List<(string Name, Parameter Parameter)> trainable)
    {
        using var ckpt = SafetensorsCheckpoint.Open(dir);
        using var _ = no_grad();
        foreach (var (name, p) in trainable) ckpt.ReadInto(name, p);
    }

    private TrainerState Restore(string checkpoint, List<(string Name, Parameter Parameter)> trainable, AdamW optimizer, LrScheduler scheduler)
    {
        LoadWeights(checkpoint, trainable);
        using (var opt = SafetensorsCheckpoint.Open(checkpoint, "optimizer"))
        {
            var tensors = opt.TensorNames.ToDictionary(n => n, n => opt.ReadTensor(n));
            try { optimizer.LoadStateDict(tensors); }
            finally { foreach (var t in tensors.Values) t.Dispose(); }
        }
        scheduler.Restore(JsonSerializer.Deserialize<LrSchedulerState>(File.ReadAllText(Path.Combine(checkpoint, "scheduler.json")), StateJson)!);
        var state = JsonSerializer.Deserialize<TrainerState>(File.ReadAllText(Path.Combine(checkpoint, "trainer_state.json")), StateJson)!;
        RngState.RestoreTorch(Convert.FromBase64String(state.TorchRngState));
        var objectivePath = Path.Combine(checkpoint, ObjectiveStateFile);
        if (File.Exists(objectivePath) && JsonNode.Parse(File.ReadAllText(objectivePath)) is JsonObject objectiveState)
            _objective.LoadState(objectiveState);
        else if (_objective.SaveState() is not null)
            OnNotice?.Invoke($"{checkpoint} holds no {ObjectiveStateFile}: the objective's running state restarts from its initial values");
        return state;
    }
}

/// <summary>Training stopped because it diverged (a non-finite loss or gradient, or a running loss far above its
/// best): the run failed for a reason the user can act on (the learning rate, the data), not a bug.</summary>
public sealed class TrainingDivergedException(string message, long step) : Exception(message)
{
    public long Step { get; } = step;
}
