using RecAlign.Models.Language;
using RecAlign.Training;
using static TorchSharp.torch;

namespace RecAlign.Interpretation;

/// <summary>
/// RecInterpreter's training objective: next-token cross entropy on the target tokens only (the prompt and its soft
/// tokens carry no loss), through the frozen LM, with each slot's soft token = the adapter applied to the frozen
/// source's states. Only the adapter learns: the trainer is given it as the model.
/// </summary>
public sealed class InterpretationObjective : ITrainingObjective
{
    private readonly LanguageModel _lm;
    private readonly StateAdapter _adapter;
    private readonly IHistoryStates _states;
    private readonly IReadOnlyList<InterpretationExample> _examples;
    private readonly int _padId;
    private static readonly IReadOnlyDictionary<string, Tensor> NoStats = new Dictionary<string, Tensor>();

    public InterpretationObjective(LanguageModel lm, StateAdapter adapter, IHistoryStates states, IReadOnlyList<InterpretationExample> examples, int padId)
    {
        if (adapter.HiddenSize != lm.Config.HiddenSize)
            throw new ArgumentException($"the adapter's soft tokens are {adapter.HiddenSize}-d but the LM's width is {lm.Config.HiddenSize}");
        if (adapter.RecHiddenSize != states.Dim)
            throw new ArgumentException($"the adapter reads {adapter.RecHiddenSize}-d states but the source gives {states.Dim}-d ones");
        (_lm, _adapter, _states, _examples, _padId) = (lm, adapter, states, examples, padId);
    }

    public int Count => _examples.Count;
    public int Length(int index) => _examples[index].Length;

    public ObjectiveOutput Compute(IReadOnlyList<int> batch)
    {
        var rows = batch.Select(i => _examples[i]).ToList();
        return new ObjectiveOutput(Loss(rows), NoStats, rows.Sum(r => (long)r.Response.Length));
    }

    /// <summary>The mean target-token cross entropy of <paramref name="rows"/> (with graph into the adapter).</summary>
    public Tensor Loss(IReadOnlyList<InterpretationExample> rows)
    {
        using var scope = NewDisposeScope();
        var device = _lm.Device;
        int b = rows.Count, t = rows.Max(r => r.Length);
        var ids = new long[b * t];
        var targets = new long[b * t];
        Array.Fill(ids, _padId);
        Array.Fill(targets, NextTokenLoss.IgnoreIndex);
        for (int r = 0; r < b; r++)
        {
            var e = rows[r];
            int off = r * t;
            for (int j = 0; j < e.Prompt.Length; j++) ids[off + j] = e.Prompt[j];
            for (int j = 0; j < e.Response.Length; j++)
            {
                ids[off + e.Prompt.Length + j] = e.Response[j];
                targets[off + e.Prompt.Length + j - 1] = e.Response[j]; // the token after position p is predicted at p
            }
        }
        var injected = InjectedEmbeddings.ForRows(SoftTokensOf(rows, device), new int[b], b, t, device);
        return NextTokenLoss.Compute(_lm, tensor(ids, [b, t], device: device), tensor(targets, [b, t], device: device), injected: injected)
            .MoveToOuterDisposeScope();
    }

    /// <summary>Each row's soft tokens: the adapter over the states of its requests, in slot order.</summary>
    internal List<SoftTokens?> SoftTokensOf(IReadOnlyList<InterpretationExample> rows, Device device) =>
        SoftTokensOf(_adapter, _states, rows, device);

    /// <inheritdoc cref="SoftTokensOf(IReadOnlyList{InterpretationExample}, Device)"/>
    public static List<SoftTokens?> SoftTokensOf(StateAdapter adapter, IHistoryStates states, IReadOnlyList<InterpretationExample> rows, Device device)
    {
        var requests = rows.SelectMany(r => r.States).ToList();
        var (h, lengths) = states.Read(requests, device);
        var vectors = adapter.Forward(h, lengths); // [N, D]
        var soft = new List<SoftTokens?>(rows.Count);
        long at = 0;
        foreach (var r in rows)
        {
            soft.Add(new SoftTokens(r.Slots, vectors.narrow(0, at, r.Slots.Length)));
            at += r.Slots.Length;
        }
        return soft;
    }
}
