namespace RecAlign.Data;

/// <summary>One user-item event with dense ids. <see cref="Rating"/> is NaN for implicit feedback.</summary>
public readonly record struct Interaction(int User, int Item, long Timestamp, float Rating = float.NaN);
