using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace RecAlign.Server;

/// <summary>Bounds on what one request may ask; anything past them is a 400 (or 413 for the body) naming the field.</summary>
public sealed record RequestLimits
{
    public int MaxBodyBytes { get; init; } = 256 * 1024;
    public int MaxHistory { get; init; } = 1000;
    public int MaxCandidates { get; init; } = 1000;
    public int MaxTitleLength { get; init; } = 512;
    public int MaxK { get; init; } = 1000;
    /// <summary>JSON nesting depth (the body is two levels deep; anything far deeper is hostile).</summary>
    public int MaxDepth { get; init; } = 8;

    public void Validate()
    {
        foreach (var (name, value) in new[] { ("max_body_bytes", MaxBodyBytes), ("max_history", MaxHistory), ("max_candidates", MaxCandidates),
                     ("max_title_length", MaxTitleLength), ("max_k", MaxK), ("max_depth", MaxDepth) })
            if (value < 1) throw new ArgumentException($"{name} must be >= 1 (got {value})");
        if (MaxDepth < 3) throw new ArgumentException($"max_depth must be >= 3 (a request body is three levels deep; got {MaxDepth})");
    }
}

/// <summary>A parsed, bounded <c>POST /v1/recommend</c> body.</summary>
public sealed record RecommendRequest(string Model, IReadOnlyList<ItemRef> History, IReadOnlyList<ItemRef>? Candidates, int K, bool ExcludeHistory)
{
    private static readonly HashSet<string> Fields = ["model", "history", "candidates", "k", "exclude_history"];

    /// <summary>Reads a request body; every problem is an <see cref="ArgumentException"/> naming the field.</summary>
    public static RecommendRequest Parse(JsonNode? body, RequestLimits limits)
    {
        if (body is not JsonObject o) throw new ArgumentException("the body must be a JSON object: {\"model\": ..., \"history\": [...], \"candidates\": [...]?, \"k\": 10}");
        foreach (var (key, _) in o)
            if (!Fields.Contains(key)) throw new ArgumentException($"unknown field '{Clip(key, 64)}' (known: {string.Join(", ", Fields)})");
        var model = o["model"] is JsonValue mv && mv.TryGetValue<string>(out var m) && m.Length > 0 ? m
            : throw new ArgumentException("model: a non-empty string naming a served model is required (GET /v1/models lists them)");
        var history = Items(o["history"], "history", limits.MaxHistory, limits, required: true)!;
        if (history.Count == 0) throw new ArgumentException("history: at least one item is needed");
        var candidates = Items(o["candidates"], "candidates", limits.MaxCandidates, limits, required: false);
        if (candidates is { Count: 0 }) throw new ArgumentException("candidates: give at least one item, or leave the field out to rank the whole catalog");
        int k = 10;
        if (o.ContainsKey("k"))
        {
            if (o["k"] is not JsonValue kv || kv.GetValueKind() != JsonValueKind.Number || !kv.TryGetValue<long>(out var kl))
                throw new ArgumentException($"k: must be an integer in [1, {limits.MaxK}]");
            if (kl < 1 || kl > limits.MaxK) throw new ArgumentException($"k: {kl} is outside [1, {limits.MaxK}]");
            k = (int)kl;
        }
        bool exclude = true;
        if (o.ContainsKey("exclude_history"))
        {
            if (o["exclude_history"] is not JsonValue ev || ev.GetValueKind() is not (JsonValueKind.True or JsonValueKind.False))
                throw new ArgumentException("exclude_history: must be true or false");
            exclude = ev.GetValue<bool>();
        }
        return new RecommendRequest(model, history, candidates, k, exclude);
    }

    private static List<ItemRef>? Items(JsonNode? node, string field, int max, RequestLimits limits, bool required)
    {
        if (node is null) return required ? throw new ArgumentException($"{field}: required (a list of titles or {{\"id\": ...}} objects)") : null;
        if (node is not JsonArray array) throw new ArgumentException($"{field}: must be a list of titles or {{\"id\": ...}} objects");
        if (array.Count > max) throw new ArgumentException($"{field}: {array.Count} items, at most {max} are accepted");
        var items = new List<ItemRef>(array.Count);
        for (int i = 0; i < array.Count; i++)
        {
            string where = $"{field}[{i}]";
            switch (array[i])
            {
                case JsonValue v when v.GetValueKind() == JsonValueKind.String:
                    items.Add(new ItemRef(Title(v.GetValue<string>(), where, limits), null));
                    break;
                case JsonObject obj:
                    if (obj.Count != 1 || (!obj.ContainsKey("id") && !obj.ContainsKey("title")))
                        throw new ArgumentException($"{where}: an object must hold exactly one of \"id\" or \"title\"");
                    if (obj.ContainsKey("title"))
                    {
                        if (obj["title"] is not JsonValue tv || tv.GetValueKind() != JsonValueKind.String) throw new ArgumentException($"{where}.title: must be a string");
                        items.Add(new ItemRef(Title(tv.GetValue<string>(), where, limits), null));
                    }
                    else items.Add(new ItemRef(null, Id(obj["id"], where + ".id", limits)));
                    break;
                default:
                    throw new ArgumentException($"{where}: must be a title (string) or {{\"id\": ...}}");
            }
        }
        return items;
    }

    private static string Title(string title, string where, RequestLimits limits)
    {
        if (title.Length > limits.MaxTitleLength) throw new ArgumentException($"{where}: a title of {title.Length} characters (at most {limits.MaxTitleLength})");
        var trimmed = title.Trim();
        return trimmed.Length > 0 ? trimmed : throw new ArgumentException($"{where}: an empty title");
    }

    private static string Id(JsonNode? node, string where, RequestLimits limits)
    {
        if (node is JsonValue v)
        {
            switch (v.GetValueKind())
            {
                case JsonValueKind.String:
                    var s = v.GetValue<string>();
                    if (s.Length == 0 || s.Length > limits.MaxTitleLength) break;
                    return s;
                case JsonValueKind.Number when v.TryGetValue<long>(out var n):
                    return n.ToString(CultureInfo.InvariantCulture);
            }
        }
        throw new ArgumentException($"{where}: must be a non-empty string or an integer (the item's id in the data)");
    }

    internal static string Clip(string s, int n) => s.Length <= n ? s : s[..n] + "…";
}

/// <summary>Request body as the OpenAPI document shows it (<see cref="RecommendRequest.Parse"/> reads it).</summary>
/// <param name="Model">A served model's name (<c>GET /v1/models</c>).</param>
/// <param name="History">The user's items, oldest first: titles, or <c>{"id": ...}</c> with the data's item id.</param>
/// <param name="Candidates">Items to rank; left out: the model ranks its whole catalog.</param>
/// <param name="K">How many items to return (default 10).</param>
/// <param name="ExcludeHistory">Catalog ranking never returns history items (default true).</param>
public sealed record RecommendRequestBody(string Model, JsonNode[] History, JsonNode[]? Candidates = null, int K = 10, bool ExcludeHistory = true);

public sealed record RecommendedItem(string? Id, string Title, float? Score, int Rank);

public sealed record RecommendResponse(string Model, IReadOnlyList<RecommendedItem> Items, double TookMs);

public sealed record ModelInfo(string Name, string Kind, long Parameters, int? CatalogSize, string? Run, string ItemText, bool RanksCatalog);

public sealed record CatalogItem(string Id, string Title);
