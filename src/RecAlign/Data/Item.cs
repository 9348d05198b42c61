namespace RecAlign.Data;

/// <summary>One catalog entry. <see cref="Id"/> is dense (0..N-1) inside a dataset; <see cref="ExternalId"/> is the
/// id the source file used.</summary>
public sealed record Item(int Id, string ExternalId, string Title)
{
    public IReadOnlyList<string> Genres { get; init; } = [];
    public int? Year { get; init; }
}
