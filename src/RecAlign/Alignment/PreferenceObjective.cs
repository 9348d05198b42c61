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
    /// <summary>Standardised environment features per example [N, D] when the loss infers environments (CausalDPO).</summary>
    private readonly Tensor? _environments;

    /// <param name="textEmbedder">Embeds the examples' history text when the loss infers environments from it
    /// (CausalDPO's <c>history_text</c> features).</param>
    public PreferenceObjective(LanguageModel policy, IReadOnlyList<TokenizedPreference> examples, IPreferenceLoss loss, int padId,
        ReferenceLogProbs? reference = null, Inference.ITextEmbedder? textEmbedder = null)
    {
        _columns = ReferenceLogProbs.CheckColumns(examples);
        if (loss.RequiresReference && reference is null && !policy.HasLora())
            throw new ArgumentException($"{loss.Name} needs reference log-probs: precompute a ReferenceLogProbs cache, or train LoRA adapters so the base model serves as the reference");
        if (reference is not null && (reference.Count != examples.Count || reference.Columns != _columns))
            throw new ArgumentException($"reference cache has [{reference.Count}, {reference.Columns}] but the data is [{examples.Count}, {_columns}]");
        (_policy, _examples, _loss, _padId, _reference) = (policy, examples, loss, padId, reference);
        _state = CheckpointStates.Of(loss);
        if (loss.RequiresEnvironments)
        {
            // The scorer's own check, on every example now rather than at the step that first batches a long pair.
            ContinuationScorer.Check(policy.Config, examples.Select(e => e.Prompt).ToList(),
                examples.Select(e => (IReadOnlyList<int[]>)[e.Chosen, .. e.Rejected]).ToList(), poolStates: true);
            var causal = PreferenceLosses.Parts(loss).OfType<CausalDpoLoss>().ToList();
            var sources = causal.Select(c => c.Features).Distinct().ToList();
            if (sources.Count > 1) throw new ArgumentException("the listed CausalDPO losses infer environments from different features; give them one causal_dpo_features");
            _environments = sources.SingleOrDefault() switch
            {
                Alignment.EnvironmentFeatures.HistoryText => HistoryFeatures(examples, textEmbedder ?? throw new ArgumentException("causal_dpo_features=history_text needs a text embedder"), policy.Device),
                Alignment.EnvironmentFeatures.Given => GivenFeatures(examples, policy.Device),
                _ => EnvironmentFeatures(policy, examples, padId),
            };
            foreach (var part in causal) part.InitialiseEnvironments(_environments);
        }
    }

    /// <summary>The loss's own trainable parameters (CausalDPO's adversarial environment projection).</summary>
    public IEnumerable<(string Name, TorchSharp.Modules.Parameter Parameter)> Parameters =>
        PreferenceLosses.Parts(_loss).OfType<CausalDpoLoss>().SelectMany(l => l.Parameters);

    public double ParameterLrScale => PreferenceLosses.Parts(_loss).OfType<CausalDpoLoss>().Select(l => l.ProjectionLrScale).DefaultIfEmpty(1).First();

    /// <summary>CausalDPO's <c>history_text</c> features: each example's history text embedded by a frozen sentence
    /// encoder, standardised per dimension over the training set.</summary>
    public static Tensor HistoryFeatures(IReadOnlyList<TokenizedPreference> examples, Inference.ITextEmbedder embedder, Device? device = null)
    {
        int missing = examples.Count(e => e.History is null);
        if (missing > 0)
            throw new ArgumentException($"causal_dpo_features=history_text: {missing} of {examples.Count} preference examples carry no history text " +
                "(the pipeline provides it; a prompt/chosen/rejected file has none): use causal_dpo_features=reference_prompt");
        using var scope = NewDisposeScope();
        // On the policy's device, where the projection and the centre bank then live too.
        var h = embedder.Embed(examples.Select(e => e.History!).ToList()).to(ScalarType.Float32).to(device ?? CPU);
        return Standardise(h).DetachFromDisposeScope();
    }

    /// <summary>CausalDPO's <c>given</c> features: each example's known environment label, one-hot [N, number of labels].
    /// Not standardised: every pair of environments is then the same distance apart.</summary>
    public static Tensor GivenFeatures(IReadOnlyList<TokenizedPreference> examples, Device? device = null)
    {
        int missing = examples.Count(e => e.Environment is null);
        if (missing > 0)
            throw new ArgumentException($"causal_dpo_features=given: {missing} of {examples.Count} preference examples carry no environment label " +
                "(the quickstart's synthetic world gives each the period of its target; other data does not say): use reference_prompt or history_text");
        if (examples.Any(e => e.Environment < 0)) throw new ArgumentException("causal_dpo_features=given: environment labels must be >= 0");
        int k = examples.Max(e => e.Environment!.Value) + 1;
        using var scope = NewDisposeScope();
        var labels = tensor(examples.Select(e => (long)e.Environment!.Value).ToArray());
        return nn.functional.one_hot(labels, k).to(ScalarType.Float32).to(device ?? CPU).DetachFromDisposeScope();
    }

    private static Tensor Standardise(Tensor h) => (h - h.mean([0], keepdim: true)) / h.std(0, keepdim: true, unbiased: false).clamp_min(1e-6);

    /// <summary>CausalDPO's environment features: each prompt's mean final hidden state under the model as it is now,
    /// before any training (the frozen reference: the SFT model, or the LoRA base with zero-initialised adapters),
    /// standardised per dimension over the training set, so that distances weigh every dimension alike.</summary>
    public static Tensor EnvironmentFeatures(LanguageModel model, IReadOnlyList<TokenizedPreference> examples, int padId, int chunk = 32)
    {
        bool wasTraining = model.training;
        model.eval();
        try
        {
            using var scope = NewDisposeScope();
            var parts = new List<Tensor>();
            for (int s = 0; s < examples.Count; s += chunk)
                parts.Add(ContinuationScorer.PromptStates(model, examples.Skip(s).Take(chunk).Select(e => e.Prompt).ToList(), padId));
            var h = cat(parts, 0);
            return Standardise(h).DetachFromDisposeScope();
        }
        finally { model.train(wasTraining); }
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
        using var policy = ContinuationScorer.Score(_policy, prompts, responses, _padId, poolStates: _environments is not null);
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
        Tensor? environments = null, representations = null;
        if (_environments is not null)
        {
            environments = _environments.index_select(0, tensor(batch.Select(i => (long)i).ToArray(), device: _environments.device));
            // The chosen response's pooled policy state: the first continuation of each prompt.
            representations = policy.States!.view(batch.Count, _columns, -1).select(1, 0);
        }
        var output = _loss.Compute(new PreferenceBatchLogps(
            sums.select(1, 0), sums.narrow(1, 1, _columns - 1),
            reference?.select(1, 0), reference?.narrow(1, 1, _columns - 1),
            lengths.select(1, 0), lengths.narrow(1, 1, _columns - 1), weights, environments, representations));
        long tokens = rows.Sum(e => e.Prompt.Length + e.Chosen.Length + e.Rejected.Sum(r => r.Length));
        return new ObjectiveOutput(output.Loss, output.Stats, tokens);
    }
}
