namespace RecAlign.Data;

/// <summary>One next-item prediction point produced by a split: the user's history (oldest first, dense item ids)
/// before <see cref="Target"/>, which happened at <see cref="TargetTimestamp"/>.</summary>
public sealed record SequenceExample(int User, IReadOnlyList<int> History, int Target, long TargetTimestamp);
