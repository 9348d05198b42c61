using RecAlign.Models.Language;
using RecAlign.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace RecAlign.Alignment;

/// <summary>
/// Preference alignment as a training objective: one forward pass per batch scores the chosen and all K rejected
/// responses against a shared prompt KV cache (<see cref="ContinuationScorer"/>), the reference comes from a
/// precomputed <see cref="ReferenceLogProbs"/> cache or, with LoRA, from the same network with adapters disabled,
/// and the loss is any <see cref="IPreferenceLoss"/>. Loss math lives in the loss; this class only gathers inputs.
/// </summary>
public sealed class PreferenceObjective : ITrainingObjective
{
    private readonly LanguageModel _policy;
    private readonly IReadOnlyList<TokenizedPreference> _examples;
    private readonly IPreferenceLoss _loss;
    private readonly int _padId;
    private readonly ReferenceLogProbs? _reference;
    private readonly int _columns;
    private readonly ICheckpointState? _state;

    public PreferenceObjective(LanguageModel policy, IReadOnlyList<TokenizedPreference> examples, IPreferenceLoss loss, int padId,
        ReferenceLogProbs? reference = null)
    {
        _columns = ReferenceLogProbs.CheckColumns(examples);
        if (loss.RequiresReference && reference is null && !policy.HasLora())
            throw new ArgumentException($"{loss.Name} needs reference log-probs: precompute a ReferenceLogProbs cache, or train LoRA adapters so the base model serves as the reference");
        if (reference is not null && (reference.Count != examples.Count || reference.Columns != _columns))
            throw new ArgumentException($"reference cache has [{reference.Count}, {reference.Columns}] but the data is [{examples.Count}, {_columns}]");
        (_policy, _examples, _loss, _padId, _reference) = (policy, examples, loss, padId, reference);
        _state = CheckpointStates.Of(loss);
    }

    public int Count => _examples.Count;

    /// <summary>The loss's running state (β-DPO's and α-DPO's moments, BCO's reward shift; also inside RPO and
    /// combined losses), for checkpoints.</summary>
    public System.Text.Json.Nodes.JsonObject? SaveState() => _state?.SaveState();
    public void LoadState(System.Text.Json.Nodes.JsonObject state) => _state?.LoadState(state);

    public int Length(int index)
    {
        var e = _examples[index];
        return e.Prompt.Length + e.Chosen.Length + e.Rejected.Sum(r => r.Length);
    }

    public ObjectiveOutput Compute(IReadOnlyList<int> batch)
    {
        var rows = batch.Select(i => _examples[i]).ToList();
        var prompts = rows.Select(e => e.Prompt).ToList();
        var responses = rows.Select(e => (IReadOnlyList<int[]>)[e.Chosen, .. e.Rejected]).ToList();
        using var policy = ContinuationScorer.Score(_policy, prompts, responses, _padId);
        var sums = policy.Sums.view(batch.Count, _columns);
        var lengths = policy.Lengths.view(batch.Count, _columns);
        Tensor? reference = null;
        if (_loss.RequiresReference)
        {
            if (_reference is not null) reference = _reference.Rows(batch, _policy.Device);
            else
            {
                using var _ = no_grad();
                using var live = _policy.WithAdaptersDisabled(() => ContinuationScorer.Score(_policy, prompts, responses, _padId));
                reference = live.Sums.view(batch.Count, _columns).clone();
            }
        }
        // Weights only when some example is reweighted: with all weights 1 the weighted mean is the mean.
        using var weights = rows.Any(e => e.Weight != 1) ? tensor(rows.Select(e => e.Weight).ToArray(), device: _policy.Device) : null;
        var output = _loss.Compute(new PreferenceBatchLogps(
            sums.select(1, 0), sums.narrow(1, 1, _columns - 1),
            reference?.select(1, 0), reference?.narrow(1, 1, _columns - 1),
            lengths.select(1, 0), lengths.narrow(1, 1, _columns - 1), weights));
        long tokens = rows.Sum(e => e.Prompt.Length + e.Chosen.Length + e.Rejected.Sum(r => r.Length));
        return new ObjectiveOutput(output.Loss, output.Stats, tokens);
    }
}
