namespace RecAlign.Data;

/// <summary>A user's chronological item sequence (dense item ids, oldest first).</summary>
public sealed record UserSequence(int User, int[] Items, long[] Timestamps);
