using RecAlign.Data;
using RecAlign.Models.Sequential;

namespace RecAlign.Training;

/// <summary>Next-item prediction for a <see cref="SequentialModel"/>: each example is (history, next item), as RecBole
/// trains on every prefix of the training sequences; the loss is the model's <c>calculate_loss</c> (CE over the catalog,
/// BPR or sampled softmax). Throughput is counted in next-item examples.</summary>
public sealed class NextItemObjective(SequentialModel model, IReadOnlyList<SequenceExample> examples) : ITrainingObjective
{
    private static readonly IReadOnlyDictionary<string, TorchSharp.torch.Tensor> NoStats = new Dictionary<string, TorchSharp.torch.Tensor>();

    public int Count => examples.Count;
    public string Unit => "ex";
    public int Length(int index) => Math.Min(model.MaxHistory, examples[index].History.Count);

    public ObjectiveOutput Compute(IReadOnlyList<int> batch)
    {
        var rows = batch.Select(i => examples[i]).ToList();
        using var sequences = SequenceBatch.Make(rows.Select(e => e.History).ToList(), model.MaxHistory, model.ItemCount, model.Device);
        using var targets = TorchSharp.torch.tensor(rows.Select(e => (long)e.Target).ToArray(), device: model.Device);
        var loss = model.CalculateLoss(sequences.Items, sequences.Lengths, targets);
        return new ObjectiveOutput(loss, NoStats, rows.Count);
    }
}
