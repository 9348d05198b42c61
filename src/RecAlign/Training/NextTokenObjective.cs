using RecAlign.Text;
using RecAlign.Models.Language;
using RecAlign.Training.Batching;
using static TorchSharp.torch;

namespace RecAlign.Training;

/// <summary>Pretraining and SFT: next-token cross entropy on response tokens (every token for pretraining, where
/// the prompt is empty or <paramref name="trainOnPrompt"/> is set). With <paramref name="sampleWeighted"/> each example's
/// <see cref="TokenizedExample.Weight"/> scales its own token-mean loss (<see cref="SampleWeightedNextTokenLoss"/>).
/// With a <paramref name="curriculum"/> and a model with hybrid item embeddings, each batch is hybrid or text-only as
/// the curriculum decides (logged as <c>hybrid</c>); outside <see cref="Compute"/> the embeddings stay on, so
/// evaluation always sees hybrid prompts. <paramref name="itemSoftmax"/>: item-token targets are scored over the item
/// tokens alone (<see cref="NextTokenLoss.Compute"/>; not with sample weights).</summary>
public sealed class NextTokenObjective(LanguageModel model, IReadOnlyList<TokenizedExample> examples, int padId, int maxLength, bool trainOnPrompt = false,
    bool sampleWeighted = false, HybridCurriculum? curriculum = null, (int First, int Count)? itemSoftmax = null)
    : ITrainingObjective
{
    public const string HybridStat = "hybrid";
    private static readonly IReadOnlyDictionary<string, Tensor> NoStats = new Dictionary<string, Tensor>();

    public System.Text.Json.Nodes.JsonObject? SaveState() =>
        curriculum is null ? null : new() { ["hybrid_batches"] = curriculum.Batches };

    public void LoadState(System.Text.Json.Nodes.JsonObject state)
    {
        if (curriculum is null) return;
        curriculum.Batches = state["hybrid_batches"] is System.Text.Json.Nodes.JsonValue v && v.TryGetValue<long>(out var n) && n >= 0 ? n
            : throw new FormatException("the checkpoint's objective state has no 'hybrid_batches' count (resume with the settings that started the run)");
    }

    public int Count => examples.Count;
    public int Length(int index) => Math.Min(maxLength, examples[index].Length);

    public ObjectiveOutput Compute(IReadOnlyList<int> batch)
    {
        if (curriculum is null || model.Hybrid is not { } hybrid) return Loss(batch);
        bool use = curriculum.Next();
        hybrid.Active = use;
        try
        {
            var output = Loss(batch);
            return output with { Stats = new Dictionary<string, Tensor> { [HybridStat] = tensor(use ? 1f : 0f) } };
        }
        finally { hybrid.Active = true; }
    }

    private ObjectiveOutput Loss(IReadOnlyList<int> batch)
    {
        var rows = batch.Select(i => examples[i]).ToList();
        using var collated = BatchCollator.Collate(rows, padId, maxLength, model.Device, trainOnPrompt);
        Tensor loss;
        if (sampleWeighted)
        {
            using var weights = tensor(rows.Select(r => (float)r.Weight).ToArray(), device: model.Device);
            loss = SampleWeightedNextTokenLoss.Compute(model, collated.InputIds, collated.Targets, weights);
        }
        else loss = NextTokenLoss.Compute(model, collated.InputIds, collated.Targets, itemTokens: itemSoftmax);
        return new ObjectiveOutput(loss, NoStats, collated.Tokens);
    }
}
