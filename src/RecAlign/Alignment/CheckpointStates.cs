using System.Text.Json.Nodes;

namespace RecAlign.Alignment;

/// <summary>Finding a loss's running state (through RPO, Dr.DPO and combined losses) and reading it back from a
/// checkpoint, with errors that say which loss and field are wrong.</summary>
internal static class CheckpointStates
{
    /// <summary>The state a loss carries across steps, or null when it carries none: a stateful loss itself, the inner
    /// loss of <see cref="RpoLoss"/> and <see cref="DrDpoLoss"/>, and for a <see cref="CombinedLoss"/> its stateful
    /// components under their names.</summary>
    public static Training.ICheckpointState? Of(IPreferenceLoss loss) => loss switch
    {
        RpoLoss rpo => Of(rpo.Inner),
        DrDpoLoss dr => Of(dr.Inner),
        CombinedLoss combined => combined.Components.Select(c => (c.Loss.Name, State: Of(c.Loss))).Where(c => c.State is not null).ToList() is { Count: > 0 } parts
            ? new Components(combined.Name, parts.Select(p => (p.Name, p.State!)).ToList())
            : null,
        Training.ICheckpointState state => state,
        _ => null,
    };

    private sealed class Components(string loss, IReadOnlyList<(string Name, Training.ICheckpointState State)> parts) : Training.ICheckpointState
    {
        public JsonObject SaveState()
        {
            var components = new JsonObject();
            foreach (var (name, state) in parts) components[name] = state.SaveState();
            return new JsonObject { ["loss"] = loss, ["components"] = components };
        }

        public void LoadState(JsonObject state)
        {
            CheckLoss(state, loss);
            foreach (var (name, part) in parts)
                part.LoadState(state["components"]?[name] as JsonObject
                    ?? throw new FormatException($"the checkpoint's objective state for '{loss}' has no state for its component '{name}'"));
        }
    }

    public static double Number(JsonObject state, string loss, string field)
    {
        CheckLoss(state, loss);
        return state[field] is JsonValue v && v.TryGetValue<double>(out var d) ? d
            : throw new FormatException($"the checkpoint's objective state for '{loss}' has no number '{field}'");
    }

    /// <summary>Refuses a state saved by another loss.</summary>
    private static void CheckLoss(JsonObject state, string loss)
    {
        if (state["loss"]?.GetValue<string>() is { } saved && saved != loss)
            throw new FormatException($"the checkpoint's objective state belongs to loss '{saved}', not '{loss}' (resume with the loss that started the run)");
    }
}
