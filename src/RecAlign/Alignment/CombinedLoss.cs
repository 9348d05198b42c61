using static TorchSharp.torch;

namespace RecAlign.Alignment;

/// <summary>
/// Several preference losses summed in one run, TRL's <c>loss_type</c> list with <c>loss_weights</c> (e.g. MPO's
/// <c>[sigmoid, bco_pair, sft]</c> with <c>[0.8, 0.2, 1.0]</c>): L = Σ_c w_c·L_c, every component on the same batch
/// at one shared β (with per-example weights, each L_c is its own weighted mean).
/// <see cref="PreferenceLossOutput.PerExample"/> is Σ_c w_c·PerExample_c (its mean is the loss unless a component
/// aggregates differently, as Dr.DPO). Statistics: each component's under <c>NAME/</c> (a key already so named keeps
/// its name) with <c>NAME/loss</c>, its unweighted L_c; the first component's TRL statistics (<c>rewards/*</c>,
/// <c>logps/*</c>) also appear unprefixed, as for a single loss. Components' running state is checkpointed through
/// <see cref="CheckpointStates.Of"/>.
/// </summary>
public sealed class CombinedLoss : IPreferenceLoss, IDisposable
{
    public IReadOnlyList<(IPreferenceLoss Loss, double Weight)> Components { get; }

    public CombinedLoss(IReadOnlyList<(IPreferenceLoss Loss, double Weight)> components)
    {
        if (components.Count == 0) throw new ArgumentException("loss_type: a combined loss needs at least one loss type");
        for (int i = 0; i < components.Count; i++)
        {
            var (loss, weight) = components[i];
            if (!(double.IsFinite(weight) && weight > 0))
                throw new ArgumentException($"loss_weights: the weight of '{loss.Name}' (entry {i + 1}) is {weight}; each weight must be a positive finite number");
        }
        if (components.GroupBy(c => c.Loss.Name).FirstOrDefault(g => g.Count() > 1) is { } twice)
            throw new ArgumentException($"loss_type: '{twice.Key}' is listed {twice.Count()} times; list each loss type once (its weight in loss_weights)");
        Components = components;
    }

    public string Name => string.Join(",", Components.Select(c => c.Loss.Name));
    public bool RequiresReference => Components.Any(c => c.Loss.RequiresReference);
    public bool RequiresLengths => Components.Any(c => c.Loss.RequiresLengths);
    public bool RequiresEnvironments => Components.Any(c => c.Loss.RequiresEnvironments);

    public PreferenceLossOutput Compute(PreferenceBatchLogps batch)
    {
        using var scope = NewDisposeScope();
        Tensor? loss = null, perExample = null;
        var stats = new Dictionary<string, Tensor>();
        for (int c = 0; c < Components.Count; c++)
        {
            var (component, weight) = Components[c];
            var output = component.Compute(batch);
            loss = loss is null ? weight * output.Loss : loss + weight * output.Loss;
            perExample = perExample is null ? weight * output.PerExample : perExample + weight * output.PerExample;
            var prefix = component.Name + "/";
            stats[prefix + "loss"] = output.Loss.detach();
            foreach (var (key, value) in output.Stats)
            {
                stats[key.StartsWith(prefix, StringComparison.Ordinal) ? key : prefix + key] = value;
                if (c == 0 && PreferenceStatistics.Names.Contains(key)) stats[key] = value;
            }
        }
        // A statistic can sit under two keys: move each tensor out of the scope once.
        foreach (var t in stats.Values.Distinct<Tensor>(ReferenceEqualityComparer.Instance)) t.MoveToOuterDisposeScope();
        return new PreferenceLossOutput(loss!.MoveToOuterDisposeScope(), perExample!.MoveToOuterDisposeScope(), stats);
    }

    public void Dispose()
    {
        foreach (var (component, _) in Components) (component as IDisposable)?.Dispose();
    }
}
