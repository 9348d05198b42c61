using RecAlign.Text;
using RecAlign.Models.Language;
using RecAlign.Training.Batching;
using static TorchSharp.torch;

namespace RecAlign.Training;

/// <summary>Pretraining and SFT: next-token cross entropy on response tokens (every token for pretraining, where
/// the prompt is empty or <paramref name="trainOnPrompt"/> is set). With <paramref name="sampleWeighted"/> each example's
/// <see cref="TokenizedExample.Weight"/> scales its own token-mean loss (<see cref="SampleWeightedNextTokenLoss"/>).</summary>
public sealed class NextTokenObjective(LanguageModel model, IReadOnlyList<TokenizedExample> examples, int padId, int maxLength, bool trainOnPrompt = false,
    bool sampleWeighted = false)
    : ITrainingObjective
{
    private static readonly IReadOnlyDictionary<string, Tensor> NoStats = new Dictionary<string, Tensor>();

    public int Count => examples.Count;
    public int Length(int index) => Math.Min(maxLength, examples[index].Length);

    public ObjectiveOutput Compute(IReadOnlyList<int> batch)
    {
        var rows = batch.Select(i => examples[i]).ToList();
        using var collated = BatchCollator.Collate(rows, padId, maxLength, model.Device, trainOnPrompt);
        Tensor loss;
        if (sampleWeighted)
        {
            using var weights = tensor(rows.Select(r => (float)r.Weight).ToArray(), device: model.Device);
            loss = SampleWeightedNextTokenLoss.Compute(model, collated.InputIds, collated.Targets, weights);
        }
        else loss = NextTokenLoss.Compute(model, collated.InputIds, collated.Targets);
        return new ObjectiveOutput(loss, NoStats, collated.Tokens);
    }
}
