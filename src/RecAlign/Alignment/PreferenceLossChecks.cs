namespace RecAlign.Alignment;

/// <summary>Parameter checks shared by the losses; messages use the config key names.</summary>
internal static class PreferenceLossChecks
{
    public static double Positive(double value, string key) =>
        double.IsFinite(value) && value > 0 ? value : throw new ArgumentOutOfRangeException(key, value, $"{key} must be a positive finite number");

    public static double Finite(double value, string key) =>
        double.IsFinite(value) ? value : throw new ArgumentOutOfRangeException(key, value, $"{key} must be finite");

    /// <summary>lo ≤ value ≤ hi, or lo ≤ value &lt; hi when <paramref name="openHigh"/>.</summary>
    public static double InRange(double value, double lo, double hi, string key, bool openHigh = false) =>
        value >= lo && (openHigh ? value < hi : value <= hi)
            ? value
            : throw new ArgumentOutOfRangeException(key, value, $"{key} must lie in [{lo}, {hi}{(openHigh ? ")" : "]")}");
}
