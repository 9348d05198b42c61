using RecAlign.Data;
using RecAlign.Models.Sequential;

namespace RecAlign.Training;

/// <summary>
/// Next-item prediction on whole user sequences, as the SASRec paper trains: one forward per sequence window and a loss
/// at every position (the model's <see cref="SequentialModel.CalculateSequenceLoss"/>), instead of one forward per
/// prefix. Causal per-position states make the two the same supervision; the sequences need about L times fewer
/// forwards. A sequence longer than the model reads is cut into windows of <c>max_history</c> inputs that overlap by
/// half, and each next item is trained in exactly one window, with at least half a window of history before it.
/// </summary>
public sealed class NextItemSequenceObjective : ITrainingObjective
{
    private readonly SequentialModel _model;
    private readonly List<(int[] Inputs, int[] Targets)> _windows = [];

    /// <param name="sequences">Each user's training sequence, oldest first (at least two items to train on).</param>
    public NextItemSequenceObjective(SequentialModel model, IEnumerable<IReadOnlyList<int>> sequences)
    {
        if (!model.HasSequenceStates) throw new ArgumentException($"{model.Config.ModelType} has no per-position states; train it on prefixes");
        _model = model;
        int l = model.MaxHistory, stride = Math.Max(1, l / 2);
        foreach (var seq in sequences)
        {
            if (seq.Count < 2) continue;
            int trainedUpTo = 0; // targets at sequence index <= this are trained
            for (int end = Math.Min(seq.Count, l + 1); ; end = Math.Min(seq.Count, end + stride))
            {
                int start = end - Math.Min(end, l + 1);
                var inputs = new int[end - 1 - start];
                var targets = new int[inputs.Length];
                for (int p = 0; p < inputs.Length; p++)
                {
                    inputs[p] = seq[start + p];
                    int targetIndex = start + p + 1;
                    targets[p] = targetIndex > trainedUpTo ? seq[targetIndex] : -1;
                }
                trainedUpTo = end - 1;
                _windows.Add((inputs, targets));
                if (end == seq.Count) break;
            }
        }
        Examples = _windows.Sum(w => (long)w.Targets.Count(t => t >= 0));
    }

    /// <summary>The windows: inputs and, per position, the next item trained there (−1: trained in another window).</summary>
    internal IReadOnlyList<(int[] Inputs, int[] Targets)> Windows => _windows;

    /// <summary>Next items trained per epoch (each counted once, as a prefix would be).</summary>
    public long Examples { get; }
    public int Count => _windows.Count;
    public string Unit => "ex";
    public int Length(int index) => _windows[index].Inputs.Length;

    public ObjectiveOutput Compute(IReadOnlyList<int> batch)
    {
        var rows = batch.Select(i => _windows[i]).ToList();
        int width = rows.Max(r => r.Inputs.Length);
        using var sequences = SequenceBatch.Make(rows.Select(r => (IReadOnlyList<int>)r.Inputs).ToList(), _model.MaxHistory, _model.ItemCount, _model.Device, width);
        var targets = new long[rows.Count * width];
        Array.Fill(targets, -1L);
        long count = 0;
        for (int b = 0; b < rows.Count; b++)
            for (int p = 0; p < rows[b].Targets.Length; p++)
                if (rows[b].Targets[p] >= 0) { targets[b * width + p] = rows[b].Targets[p]; count++; }
        using var t = TorchSharp.torch.tensor(targets, [rows.Count, width], device: _model.Device);
        return new ObjectiveOutput(_model.CalculateSequenceLoss(sequences.Items, sequences.Lengths, t), NoStats, count);
    }

    private static readonly IReadOnlyDictionary<string, TorchSharp.torch.Tensor> NoStats = new Dictionary<string, TorchSharp.torch.Tensor>();

    /// <summary>Each user's sequence when <paramref name="examples"/> are exactly every prefix of one sequence per user
    /// (as a leave-one-out or user split's training part is); null otherwise (e.g. tables of fixed-width windows), where
    /// training on the prefixes themselves is the only faithful choice.</summary>
    public static List<int[]>? SequencesOf(IReadOnlyList<SequenceExample> examples)
    {
        var sequences = new List<int[]>();
        foreach (var user in examples.GroupBy(e => e.User))
        {
            var longest = user.MaxBy(e => e.History.Count)!;
            var full = longest.History.Append(longest.Target).ToArray();
            if (user.Count() != full.Length - 1) return null;
            var seen = new bool[full.Length];
            foreach (var e in user)
            {
                int n = e.History.Count;
                if (n < 1 || seen[n] || e.Target != full[n]) return null;
                for (int i = 0; i < n; i++)
                    if (e.History[i] != full[i]) return null;
                seen[n] = true;
            }
            sequences.Add(full);
        }
        return sequences;
    }
}
