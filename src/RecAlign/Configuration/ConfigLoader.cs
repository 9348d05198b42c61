using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using YamlDotNet.Serialization;

namespace RecAlign.Configuration;

/// <summary>
/// The one config system: a stage's config is an immutable record with paper defaults. A run resolves it as
/// defaults ← JSON/YAML file ← <c>key=value</c> overrides (dotted keys for nested records), in snake_case
/// (<c>learning_rate</c>, <c>lora.rank</c>), and stores the resolved JSON in its run directory.
/// </summary>
public static class ConfigLoader
{
    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        UnmappedMemberHandling = System.Text.Json.Serialization.JsonUnmappedMemberHandling.Disallow,
        Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>Resolves a config: <paramref name="defaults"/>, then the file (if any), then the overrides.</summary>
    public static T Load<T>(T defaults, string? path = null, IEnumerable<string>? overrides = null)
    {
        var node = JsonSerializer.SerializeToNode(defaults, Json)!.AsObject();
        if (path is not null)
        {
            if (!File.Exists(path)) throw new FileNotFoundException($"config file not found: {path}", path);
            var text = File.ReadAllText(path);
            JsonNode? fileNode;
            try
            {
                fileNode = path.EndsWith(".yaml", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".yml", StringComparison.OrdinalIgnoreCase)
                    ? YamlToJson(text)
                    : JsonNode.Parse(text, documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
            }
            catch (Exception e) when (e is JsonException or YamlDotNet.Core.YamlException)
            {
                throw new FormatException($"{path}: cannot parse config: {e.Message}", e);
            }
            if (fileNode is not JsonObject obj) throw new FormatException($"{path}: a config file must hold an object at its top level");
            Merge(node, obj, path, "");
        }
        foreach (var o in overrides ?? [])
            ApplyOverride(node, o);
        try
        {
            return node.Deserialize<T>(Json) ?? throw new FormatException("config resolved to null");
        }
        catch (JsonException e)
        {
            throw new FormatException($"{path ?? "config"}: invalid value at '{e.Path?.TrimStart('$', '.')}': {e.Message}", e);
        }
    }

    public static string ToJson<T>(T config) => JsonSerializer.Serialize(config, Json);

    /// <summary>Applies one <c>key=value</c> override; the value is read as JSON when it parses, else as a string.</summary>
    public static void ApplyOverride(JsonObject root, string assignment)
    {
        int eq = assignment.IndexOf('=');
        if (eq <= 0) throw new FormatException($"override '{assignment}' must look like key=value");
        var keys = assignment[..eq].Trim().Split('.');
        var raw = assignment[(eq + 1)..];
        JsonObject target = root;
        for (int i = 0; i < keys.Length - 1; i++)
        {
            if (target[keys[i]] is not JsonObject child)
                throw new FormatException($"override '{assignment}': '{string.Join('.', keys[..(i + 1)])}' is not a section of this config");
            target = child;
        }
        var last = keys[^1];
        if (!target.ContainsKey(last))
            throw new FormatException($"override '{assignment}': unknown key '{assignment[..eq]}' (known: {string.Join(", ", target.Select(p => p.Key))})");
        target[last] = ParseScalar(raw);
    }

    private static JsonNode? ParseScalar(string raw)
    {
        try { return JsonNode.Parse(raw); }
        catch (JsonException) { return JsonValue.Create(raw); }
    }

    private static void Merge(JsonObject into, JsonObject from, string file, string prefix)
    {
        foreach (var (key, value) in from.ToList())
        {
            var name = prefix.Length == 0 ? key : prefix + "." + key;
            if (!into.ContainsKey(key))
                throw new FormatException($"{file}: unknown key '{name}' (known: {string.Join(", ", into.Select(p => p.Key))})");
            if (into[key] is JsonObject sub && value is JsonObject subFrom) Merge(sub, subFrom, file, name);
            else into[key] = value?.DeepClone();
        }
    }

    private static JsonNode? YamlToJson(string yaml)
    {
        var obj = new DeserializerBuilder().Build().Deserialize<object?>(yaml);
        return Convert(obj);

        static JsonNode? Convert(object? o) => o switch
        {
            null => null,
            IDictionary<object, object?> d => new JsonObject(d.Select(kv => KeyValuePair.Create(kv.Key.ToString()!, Convert(kv.Value)))),
            IList<object?> l => new JsonArray(l.Select(Convert).ToArray()),
            string s => ScalarFromYaml(s),
            _ => JsonValue.Create(o.ToString()),
        };

        static JsonNode? ScalarFromYaml(string s)
        {
            if (bool.TryParse(s, out var b)) return JsonValue.Create(b);
            if (long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var l)) return JsonValue.Create(l);
            if (double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var d)) return JsonValue.Create(d);
            if (s is "null" or "~") return null;
            return JsonValue.Create(s);
        }
    }
}
