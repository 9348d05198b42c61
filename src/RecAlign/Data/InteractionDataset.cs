namespace RecAlign.Data;

/// <summary>The canonical dataset every downstream stage reads: a catalog, dense user ids (with their source ids)
/// and interactions. Loaders produce it; splits and samplers consume it.</summary>
public sealed class InteractionDataset(string name, ItemCatalog catalog, IReadOnlyList<string> userExternalIds,
    Interaction[] interactions)
{
    public string Name { get; } = name;
    public ItemCatalog Catalog { get; } = catalog;
    public IReadOnlyList<string> UserExternalIds { get; } = userExternalIds;
    public Interaction[] Interactions { get; } = interactions;
    public int UserCount => UserExternalIds.Count;

    /// <summary>Chronological sequences per user (stable on equal timestamps: source order breaks ties).</summary>
    public IReadOnlyList<UserSequence> Sequences()
    {
        var perUser = new List<int>[UserCount];
        for (int i = 0; i < Interactions.Length; i++)
            (perUser[Interactions[i].User] ??= []).Add(i);
        var result = new List<UserSequence>(UserCount);
        for (int u = 0; u < UserCount; u++)
        {
            var idx = perUser[u];
            if (idx is null) continue;
            var ordered = idx.OrderBy(i => Interactions[i].Timestamp).ThenBy(i => i).ToArray();
            result.Add(new UserSequence(u, ordered.Select(i => Interactions[i].Item).ToArray(),
                ordered.Select(i => Interactions[i].Timestamp).ToArray()));
        }
        return result;
    }
}
