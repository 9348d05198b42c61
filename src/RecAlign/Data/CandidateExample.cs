namespace RecAlign.Data;

/// <summary>One recommendation test point: a history, the true next item, and a candidate list that contains the
/// target exactly once. Ids are dense catalog ids; titles come from the <see cref="ItemCatalog"/>.</summary>
public sealed record CandidateExample(int User, IReadOnlyList<int> History, int Target, IReadOnlyList<int> Candidates);

public static class CandidateExamples
{
    /// <summary><paramref name="examples"/>, given in <paramref name="source"/>'s ids, as ids of <paramref name="target"/>
    /// (matched by title): history items it lacks are dropped, while every candidate must be there (a model with item
    /// tokens has no token for an item outside its catalog). <paramref name="file"/> names the input in the error.</summary>
    public static List<CandidateExample> InCatalog(IReadOnlyList<CandidateExample> examples, ItemCatalog source, ItemCatalog target, string file)
    {
        var map = source.MapTo(target);
        int Map(int id) => map[id] >= 0 ? map[id]
            : throw new ArgumentException($"{file}: item '{source.Title(id)}' is not in the model's catalog of {target.Count} items, so it has no item token (score titles instead: item text 'title')");
        return examples.Select(e => e with
        {
            History = e.History.Where(h => map[h] >= 0).Select(h => map[h]).ToArray(),
            Target = Map(e.Target),
            Candidates = e.Candidates.Select(Map).ToArray(),
        }).ToList();
    }
}
