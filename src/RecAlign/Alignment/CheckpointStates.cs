using System.Text.Json.Nodes;

namespace RecAlign.Alignment;

/// <summary>Reading a stateful loss's checkpointed state back, with errors that say which loss and field are wrong.</summary>
internal static class CheckpointStates
{
    public static double Number(JsonObject state, string loss, string field)
    {
        if (state["loss"]?.GetValue<string>() is { } saved && saved != loss)
            throw new FormatException($"the checkpoint's objective state belongs to loss '{saved}', not '{loss}' (resume with the loss that started the run)");
        return state[field] is JsonValue v && v.TryGetValue<double>(out var d) ? d
            : throw new FormatException($"the checkpoint's objective state for '{loss}' has no number '{field}'");
    }
}
