using RecAlign.IO;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace RecAlign.Evaluation;

/// <summary>What happened on one evaluated example; fields a protocol does not produce stay null.</summary>
public sealed record ExampleDetail(int Index)
{
    public int? Target { get; init; }
    /// <summary>1-based rank of the target; null when it was not ranked at all.</summary>
    public double? Rank { get; init; }
    public string? Answer { get; init; }
    public int? Matched { get; init; }
    public bool? Valid { get; init; }
    public bool? Hit { get; init; }
}

/// <summary>
/// Metric name → value over <see cref="N"/> examples, with optional per-example details and a record of what was
/// evaluated. JSON is flat, snake_case, in insertion order: <c>{"evaluated": {"model": ..., "candidates": ...},
/// "n": 100, "hr1": 0.61, "valid_ratio": 0.97, "hr@5": ..., "ndcg@5": ..., "mrr": ..., "details": [...]}</c>
/// (<c>evaluated</c> only when recorded, <c>details</c> only when kept). Key names are those of <see cref="Metrics"/>.
/// </summary>
public sealed class EvaluationResult
{
    private static readonly JsonSerializerOptions DetailJson = new()
    {
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    private readonly OrderedDictionary<string, double> _metrics;

    public EvaluationResult(int n, IEnumerable<KeyValuePair<string, double>> metrics, IReadOnlyList<ExampleDetail>? details = null,
        JsonObject? evaluated = null)
    {
        if (n < 0) throw new ArgumentOutOfRangeException(nameof(n), n, "example count must be ≥ 0");
        N = n;
        _metrics = new OrderedDictionary<string, double>();
        foreach (var (k, v) in metrics)
        {
            if (k is "n" or "details" or EvaluatedKey) throw new ArgumentException($"metric name '{k}' is reserved", nameof(metrics));
            _metrics[k] = v;
        }
        Details = details;
        Evaluated = evaluated?.DeepClone().AsObject();
    }

    /// <summary>JSON key of <see cref="Evaluated"/>.</summary>
    public const string EvaluatedKey = "evaluated";

    public int N { get; }
    public IReadOnlyDictionary<string, double> Metrics => _metrics;
    public IReadOnlyList<ExampleDetail>? Details { get; }
    /// <summary>What was evaluated (e.g. model directory, data file, mode, template, limit, catalog); null when not
    /// recorded. Free-form: the CLI's <c>eval</c> writes strings, numbers and nulls.</summary>
    public JsonObject? Evaluated { get; }

    /// <summary>This result with every metric named <paramref name="prefix"/> + name: the protocols name their figures
    /// apart (<c>gen_</c> for generated answers, <c>catalog_</c> for whole-catalog rankings; candidate-list rankings
    /// are unprefixed), so an <c>hr1</c> always means the same thing.</summary>
    public EvaluationResult WithPrefix(string prefix) => new(N, _metrics.Select(kv => KeyValuePair.Create(prefix + kv.Key, kv.Value)), Details, Evaluated);

    /// <summary>This result with <paramref name="evaluated"/> recorded (a copy is kept).</summary>
    public EvaluationResult WithEvaluated(JsonObject? evaluated) => new(N, _metrics, Details, evaluated);

    public double this[string key] => _metrics.TryGetValue(key, out var v) ? v
        : throw new KeyNotFoundException($"no metric '{key}' (have: {string.Join(", ", _metrics.Keys)})");

    /// <summary>Both results' metrics in one (this one's details are kept; the other's are dropped). Counts must
    /// agree unless <paramref name="prefix"/> is given, e.g. <c>"val_"</c> for a different split.</summary>
    public EvaluationResult Merge(EvaluationResult other, string? prefix = null)
    {
        if (prefix is null && other.N != N)
            throw new ArgumentException($"cannot merge results over {N} and {other.N} examples without a prefix", nameof(other));
        var all = new OrderedDictionary<string, double>(_metrics);
        foreach (var (k, v) in other._metrics) all[(prefix ?? "") + k] = v;
        return new EvaluationResult(N, all, Details, Evaluated);
    }

    public string ToJson(bool indented = true)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = indented, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            if (Evaluated is not null)
            {
                w.WritePropertyName(EvaluatedKey);
                Evaluated.WriteTo(w);
            }
            w.WriteNumber("n", N);
            foreach (var (k, v) in _metrics)
            {
                // JSON has no NaN/∞: write them as the named strings ConfigLoader's options also read.
                if (double.IsFinite(v)) w.WriteNumber(k, v);
                else w.WriteString(k, v.ToString(CultureInfo.InvariantCulture));
            }
            if (Details is not null)
            {
                w.WritePropertyName("details");
                JsonSerializer.Serialize(w, Details, DetailJson);
            }
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>Parses <see cref="ToJson"/>'s format; <paramref name="source"/> names the file in error messages.</summary>
    public static EvaluationResult FromJson(string json, string source = "evaluation result")
    {
        JsonObject obj;
        try { obj = JsonNode.Parse(json) as JsonObject ?? throw new FormatException($"{source}: expected a JSON object"); }
        catch (JsonException e) { throw new FormatException($"{source}: invalid JSON at line {e.LineNumber + 1}: {RecAlign.IO.JsonErrors.Reason(e)}", e); }
        if (obj["n"] is not JsonValue nv || !nv.TryGetValue<int>(out var n))
            throw new FormatException($"{source}: field 'n' is missing or not an integer");
        var metrics = new OrderedDictionary<string, double>();
        IReadOnlyList<ExampleDetail>? details = null;
        JsonObject? evaluated = null;
        foreach (var (k, v) in obj)
        {
            if (k == "n") continue;
            if (k == EvaluatedKey)
            {
                evaluated = v as JsonObject ?? throw new FormatException($"{source}: field '{EvaluatedKey}' is not an object");
                continue;
            }
            if (k == "details")
            {
                details = v.Deserialize<List<ExampleDetail>>(DetailJson);
                continue;
            }
            metrics[k] = ReadNumber(v, source, k);
        }
        return new EvaluationResult(n, metrics, details, evaluated);
    }

    /// <summary>Writes <see cref="ToJson"/> atomically (temp file in the same folder, then rename).</summary>
    public void WriteJson(string path) => IO.AtomicFile.WriteAllText(path, ToJson() + "\n");

    public static EvaluationResult ReadJson(string path) => FromJson(File.ReadAllText(path), path);

    public override string ToString() =>
        $"n={N} " + string.Join(" ", _metrics.Select(kv => $"{kv.Key}={kv.Value.ToString("0.####", CultureInfo.InvariantCulture)}"));

    internal static double ReadNumber(JsonNode? v, string source, string field)
    {
        if (v is JsonValue jv)
        {
            if (jv.TryGetValue<double>(out var d)) return d;
            if (jv.TryGetValue<string>(out var s) && double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out d)) return d;
        }
        throw new FormatException($"{source}: field '{field}' is not a number");
    }
}
