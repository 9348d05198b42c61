using TorchSharp;
using System.Text.Json;
using System.Text.Json.Nodes;
using RecAlign.Configuration;
using RecAlign.Data;
using RecAlign.Data.Formats;
using RecAlign.IO;
using RecAlign.Models.Checkpoints;
using static TorchSharp.torch;

namespace RecAlign.Models.Sequential;

/// <summary>
/// A sequential model's directory in the one checkpoint format: <c>config.json</c> (the
/// <see cref="SequentialModelConfig"/> in RecBole's names, plus <c>architectures</c> and <c>model_type</c> as
/// HuggingFace configs carry them), <c>model.safetensors</c> (RecBole's parameter names) and <c>items.jsonl</c> (the
/// catalog the ids index: id, external id, title), so a candidate file that names items by title can be scored.
/// </summary>
public static class SequentialModelDirectory
{
    public const string ConfigFile = "config.json";
    public const string ItemsFile = CatalogJsonl.FileName;

    /// <summary>True when <paramref name="configPath"/>'s <c>model_type</c> names a sequential model.</summary>
    public static bool IsSequential(JsonObject config) =>
        config["model_type"] is JsonValue v && v.TryGetValue<string>(out var type) && SequentialModelConfig.Models.Values.Any(m => string.Equals(m, type, StringComparison.OrdinalIgnoreCase));

    /// <summary>True when <paramref name="directory"/> holds a sequential model's config.json (false for anything else,
    /// unreadable files included: callers then say what they expected).</summary>
    public static bool IsSequentialModel(string directory)
    {
        var path = Path.Combine(directory, ConfigFile);
        if (!File.Exists(path)) return false;
        try { return JsonNode.Parse(File.ReadAllText(path)) is JsonObject o && IsSequential(o); }
        catch (Exception e) when (e is System.Text.Json.JsonException or IOException or UnauthorizedAccessException or InvalidOperationException) { return false; }
    }

    /// <summary>Writes the model, its config and its catalog, replacing <paramref name="directory"/> atomically.</summary>
    public static void Save(SequentialModel model, ItemCatalog catalog, string directory)
    {
        if (catalog.Count != model.ItemCount)
            throw new ArgumentException($"the catalog holds {catalog.Count} items but the model has n_items = {model.ItemCount}");
        var config = JsonSerializer.SerializeToNode(model.Config, ConfigLoader.Json)!.AsObject();
        config["architectures"] = new JsonArray(model.Config.ModelType);
        config["torch_dtype"] = "float32";
        CheckpointIO.Save(model, directory, new CheckpointSaveOptions
        {
            DType = ScalarType.Float32,
            JsonFiles = new Dictionary<string, string> { [ConfigFile] = config.ToJsonString(ConfigLoader.Json) },
            WriteExtraFiles = tmp => CatalogJsonl.Write(catalog, tmp),
        });
    }

    /// <summary>Loads a sequential model directory as a ready <see cref="SequentialRecommender"/> (eval mode).</summary>
    /// <param name="overrides">config.json fields to replace for this load, e.g. <c>sampler=ddim</c> (HF's
    /// <c>from_pretrained(..., **kwargs)</c>): inference settings; the weights must still fit.</param>
    public static SequentialRecommender Load(string directory, Device? device = null, IReadOnlyDictionary<string, string>? overrides = null)
    {
        var configPath = Path.Combine(directory, ConfigFile);
        if (!File.Exists(configPath)) throw new FileNotFoundException($"{Path.GetFullPath(directory)}: not a model directory (no {ConfigFile})", configPath);
        SequentialModelConfig config;
        try
        {
            var node = JsonNode.Parse(File.ReadAllText(configPath))!.AsObject();
            node.Remove("architectures");
            node.Remove("torch_dtype");
            foreach (var (key, value) in overrides ?? new Dictionary<string, string>())
            {
                // --set's rules: a known key only, the value read as JSON when it parses, else as a string.
                try { ConfigLoader.ApplyOverride(node, $"{key}={value}", typeof(SequentialModelConfig)); }
                catch (FormatException e) { throw new ArgumentException($"{configPath}: {e.Message}", e); }
            }
            config = node.Deserialize<SequentialModelConfig>(ConfigLoader.Json)!;
        }
        catch (JsonException e)
        {
            throw new FormatException($"{configPath}{(e.LineNumber is { } line ? $":{line + 1}" : "")}: {JsonErrors.Reason(e)}", e);
        }
        try { config.Validate(); }
        catch (ArgumentException e) when (overrides is { Count: > 0 }) { throw new ArgumentException($"{configPath} with {string.Join(", ", overrides.Select(o => $"{o.Key}={o.Value}"))}: {ArgumentErrors.Plain(e)}", e); }
        catch (ArgumentException e) { throw new FormatException($"{configPath}: {ArgumentErrors.Plain(e)}", e); }
        var catalog = CatalogJsonl.Read(Path.Combine(directory, ItemsFile));
        if (catalog.Count != config.NItems)
            throw new FormatException($"{Path.Combine(directory, ItemsFile)}: {catalog.Count} items, but {ConfigFile} says n_items = {config.NItems}");
        var model = SequentialModel.Create(config, seed: 0);
        if (device is not null) model.to(device);
        CheckpointIO.Load(model, directory);
        model.eval();
        return new SequentialRecommender(model, catalog);
    }
}
