using System.Text.Json.Nodes;
using static TorchSharp.torch;

namespace RecAlign.Training;

/// <summary>What a stage optimises, seen by the <see cref="Trainer"/>: a set of examples with lengths (for
/// bucketing) and a loss over a micro-batch of them. Objectives compose losses; they never own the loop.</summary>
public interface ITrainingObjective
{
    int Count { get; }
    /// <summary>Token length of example <paramref name="index"/>, used to group similar lengths into a batch.</summary>
    int Length(int index);
    /// <summary>Mean loss over the micro-batch (with graph) and detached scalar statistics to log.</summary>
    ObjectiveOutput Compute(IReadOnlyList<int> batch);
    /// <summary>What <see cref="ObjectiveOutput.Tokens"/> counts, as progress lines show it: <c>tok</c> (LM tokens) or
    /// <c>ex</c> (a sequential model's next-item examples).</summary>
    string Unit => "tok";
    /// <summary>State the objective carries across steps (e.g. β-DPO's running moments), saved with every checkpoint
    /// and given back on resume, so a resumed run matches an uninterrupted one; null when it carries none.</summary>
    JsonObject? SaveState() => null;
    void LoadState(JsonObject state) { }
    /// <summary>Trainable parameters the objective itself owns (CausalDPO's environment projection): the trainer
    /// optimises and checkpoints them beside the model's, under <c>objective.</c> + their name.</summary>
    IEnumerable<(string Name, TorchSharp.Modules.Parameter Parameter)> Parameters => [];
    /// <summary>The learning-rate multiplier of <see cref="Parameters"/>' own optimizer group (no weight decay).</summary>
    double ParameterLrScale => 1;
}

/// <summary>Something inside an objective (a loss) whose state lives across steps and must travel with checkpoints.</summary>
public interface ICheckpointState
{
    JsonObject SaveState();
    void LoadState(JsonObject state);
}

/// <summary>A micro-batch's loss, its statistics (scalar tensors, read when logging) and the tokens it processed.</summary>
public sealed record ObjectiveOutput(Tensor Loss, IReadOnlyDictionary<string, Tensor> Stats, long Tokens);
