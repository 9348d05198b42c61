namespace RecAlign.Data;

/// <summary>One recommendation test point: a history, the true next item, and a candidate list that contains the
/// target exactly once. Ids are dense catalog ids; titles come from the <see cref="ItemCatalog"/>.</summary>
public sealed record CandidateExample(int User, IReadOnlyList<int> History, int Target, IReadOnlyList<int> Candidates);
