using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using RecAlign.IO;
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
            Merge(node, ReadFile(path), path, "", typeof(T));
        var applied = (overrides ?? []).ToList();
        foreach (var o in applied)
            ApplyOverride(node, o, typeof(T));
        try
        {
            return node.Deserialize<T>(Json) ?? throw new FormatException("config resolved to null");
        }
        catch (JsonException e)
        {
            throw new FormatException(DescribeInvalidValue(typeof(T), node, e, path, applied), e);
        }
    }

    /// <summary>A JSON or YAML config file (<c>.yaml</c>/<c>.yml</c> by extension) as a JSON object, with the checks every
    /// config gets: size, strict UTF-8, YAML expansion, and parse errors named by file and line. Files that are not a
    /// stage config (a sweep's grid) are read through it too, so they fail the same way.</summary>
    public static JsonObject ReadFile(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"config file not found: {path}", path);
        if (new FileInfo(path).Length is var size && size > MaxConfigBytes)
            throw new FormatException($"{path}: {size} bytes; a config file is at most {MaxConfigBytes >> 20} MiB");
        string text;
        try { text = StrictUtf8.GetString(File.ReadAllBytes(path)); }
        catch (DecoderFallbackException e) { throw new FormatException($"{path}: not UTF-8 text (invalid byte at offset {e.Index})"); }
        JsonNode? fileNode;
        try
        {
            fileNode = path.EndsWith(".yaml", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".yml", StringComparison.OrdinalIgnoreCase)
                ? YamlToJson(text, path)
                : JsonNode.Parse(text, documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        }
        catch (Exception e) when (e is JsonException or YamlDotNet.Core.YamlException)
        {
            (long? line, string reason) = e switch
            {
                JsonException j => (j.LineNumber + 1, JsonErrors.Reason(j)),
                YamlDotNet.Core.YamlException y => ((long?)y.Start.Line, YamlReason(y)),
                _ => ((long?)null, e.Message),
            };
            // The reason already says what the parser said; YamlDotNet's wrapper adds only noise as an inner exception.
            throw new FormatException($"{path}{(line is > 0 ? $":{line}" : "")}: cannot parse config: {reason}", e is JsonException ? e : null);
        }
        return fileNode as JsonObject ?? throw new FormatException($"{path}: a config file must hold an object at its top level");
    }

    /// <summary>A value that does not convert, named by where it came from: the last override that set it (or a
    /// section holding it), else the file, else the defaults; and what the field expects, from the config's type.</summary>
    private static string DescribeInvalidValue(Type configType, JsonObject node, JsonException e, string? path, IReadOnlyList<string> overrides)
    {
        var key = (e.Path ?? "$").TrimStart('$').TrimStart('.');
        var expected = ExpectedAt(configType, key);
        var reason = expected is null ? JsonErrors.Reason(e) : "expected " + expected;
        for (int i = overrides.Count - 1; i >= 0; i--)
        {
            int eq = overrides[i].IndexOf('=');
            var set = overrides[i][..eq].Trim();
            if (key == set || key.StartsWith(set + ".", StringComparison.Ordinal) || key.StartsWith(set + "[", StringComparison.Ordinal))
                return $"override '{overrides[i]}': {(key == set ? "" : $"'{key}': ")}{reason}";
        }
        var got = ValueAt(node, key) is { } v ? $" (got {v.ToJsonString()})" : "";
        return $"{path ?? "config"}: '{key}': {reason}{got}";
    }

    /// <summary>The JSON shape the field at a dotted key (<c>training.optimizer.learning_rate</c>, <c>a.b[2]</c>)
    /// expects, or null when the key does not lead to a field.</summary>
    private static string? ExpectedAt(Type configType, string key)
    {
        if (key.Length == 0) return null;
        var info = Json.GetTypeInfo(configType);
        Type type = configType;
        foreach (var segment in key.Split('.'))
        {
            var name = segment.Split('[')[0];
            var property = info.Properties.FirstOrDefault(p => p.Name == name);
            if (property is null) return null;
            type = property.PropertyType;
            for (int k = segment.Count(c => c == '['); k > 0; k--)
                type = Json.GetTypeInfo(type).ElementType ?? type;
            info = Json.GetTypeInfo(type);
        }
        return JsonErrors.Expected(type);
    }

    private static JsonNode? ValueAt(JsonNode? node, string key)
    {
        foreach (var segment in key.Split('.'))
        {
            var parts = segment.Split('[');
            node = node is JsonObject o ? o[parts[0]] : null;
            foreach (var index in parts.Skip(1))
                node = node is JsonArray a && int.TryParse(index.TrimEnd(']'), out var i) && i < a.Count ? a[i] : null;
        }
        return node;
    }

    public static string ToJson<T>(T config) => JsonSerializer.Serialize(config, Json);

    /// <summary>Applies one <c>key=value</c> override; the value is read as JSON when it parses, else as a string.</summary>
    /// <param name="configType">The config's type: lets an override add an entry to a dictionary section (e.g. a new
    /// pipeline method), starting from the entry type's defaults.</param>
    public static void ApplyOverride(JsonObject root, string assignment, Type? configType = null)
    {
        int eq = assignment.IndexOf('=');
        if (eq <= 0) throw new FormatException($"override '{assignment}' must look like key=value");
        var keys = assignment[..eq].Trim().Split('.');
        var raw = assignment[(eq + 1)..];
        JsonObject target = root;
        Type? type = configType;
        for (int i = 0; i < keys.Length - 1; i++)
        {
            var entryType = DictionaryValueType(type);
            if (entryType is not null && !target.ContainsKey(keys[i])) target[keys[i]] = NewEntry(entryType);
            type = entryType ?? PropertyType(type, keys[i]);
            if (target[keys[i]] is not JsonObject child)
                throw new FormatException($"override '{assignment}': '{string.Join('.', keys[..(i + 1)])}' is not a section of this config " +
                    $"(sections{(i == 0 ? "" : $" of '{string.Join('.', keys[..i])}'")}: {string.Join(", ", target.Where(p => p.Value is JsonObject).Select(p => p.Key).DefaultIfEmpty("none"))})");
            target = child;
        }
        var last = keys[^1];
        if (!target.ContainsKey(last))
            throw new FormatException($"override '{assignment}': unknown key '{assignment[..eq]}' (known: {string.Join(", ", target.Select(p => p.Key))})");
        target[last] = ParseScalar(raw);
    }

    /// <summary>V when <paramref name="type"/> is a string-keyed dictionary of V (a section whose entries are named by the user).</summary>
    private static Type? DictionaryValueType(Type? type) =>
        type?.GetInterfaces().Append(type).FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IDictionary<,>) && i.GetGenericArguments()[0] == typeof(string))
            ?.GetGenericArguments()[1];

    private static Type? PropertyType(Type? type, string jsonName) =>
        type is null || type.IsPrimitive || type == typeof(string) ? null : Json.GetTypeInfo(type).Properties.FirstOrDefault(p => p.Name == jsonName)?.PropertyType;

    /// <summary>A new dictionary entry: the entry type's defaults.</summary>
    private static JsonNode NewEntry(Type entryType) =>
        JsonSerializer.SerializeToNode(Activator.CreateInstance(entryType), entryType, Json) ?? new JsonObject();

    private static JsonNode? ParseScalar(string raw)
    {
        try { return JsonNode.Parse(raw); }
        catch (JsonException) { return JsonValue.Create(raw); }
    }

    private static void Merge(JsonObject into, JsonObject from, string file, string prefix, Type? type)
    {
        var entryType = DictionaryValueType(type);
        foreach (var (key, value) in from.ToList())
        {
            var name = prefix.Length == 0 ? key : prefix + "." + key;
            if (entryType is not null && !into.ContainsKey(key) && value is JsonObject) into[key] = NewEntry(entryType);
            if (!into.ContainsKey(key))
                throw new FormatException($"{file}: unknown key '{name}' (known: {string.Join(", ", into.Select(p => p.Key))})");
            if (into[key] is JsonObject sub && value is JsonObject subFrom) Merge(sub, subFrom, file, name, entryType ?? PropertyType(type, key));
            else into[key] = value?.DeepClone();
        }
    }

    private const long MaxConfigBytes = 4 << 20;
    /// <summary>Nodes a YAML config may expand to: aliases can make a few lines stand for billions of nodes.</summary>
    private const int MaxYamlNodes = 100_000;
    private static readonly System.Text.UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private static JsonNode? YamlToJson(string yaml, string path)
    {
        var obj = new DeserializerBuilder().Build().Deserialize<object?>(yaml);
        var nodes = 0;
        return Convert(obj);

        JsonNode? Convert(object? o)
        {
            if (++nodes > MaxYamlNodes)
                throw new FormatException($"{path}: the YAML expands to more than {MaxYamlNodes:N0} values (aliases repeating aliases?); a config is far smaller");
            return o switch
            {
                null => null,
                IDictionary<object, object?> d => new JsonObject(d.Select(kv => KeyValuePair.Create(kv.Key.ToString()!, Convert(kv.Value)))),
                IList<object?> l => new JsonArray(l.Select(Convert).ToArray()),
                string s => ScalarFromYaml(s),
                _ => JsonValue.Create(o.ToString()),
            };
        }

        static JsonNode? ScalarFromYaml(string s)
        {
            if (bool.TryParse(s, out var b)) return JsonValue.Create(b);
            if (long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var l)) return JsonValue.Create(l);
            if (double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var d)) return JsonValue.Create(d);
            if (s is "null" or "~") return null;
            return JsonValue.Create(s);
        }
    }

    /// <summary>YamlDotNet's words for a YAML error; its scanner sometimes fails with no words of its own (wrapped as
    /// "Exception during deserialization"), which says nothing useful.</summary>
    private static string YamlReason(YamlDotNet.Core.YamlException e) => e.InnerException switch
    {
        YamlDotNet.Core.YamlException inner => YamlReason(inner),
        not null => "malformed YAML (check brackets, quotes, colons and indentation)",
        null => e.Message.TrimEnd('.'),
    };
}
