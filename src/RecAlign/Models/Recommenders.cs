using System.Text.Json.Nodes;
using RecAlign.Models.Language;
using RecAlign.Models.Sequential;
using static TorchSharp.torch;

namespace RecAlign.Models;

/// <summary>The one way to open a model directory as a recommender, whatever trained it (HuggingFace's AutoModel):
/// its <c>config.json</c>'s <c>model_type</c> picks the loader; callers (CLI, pipelines, serving) only see
/// <see cref="IRecommender"/>.</summary>
public static class Recommenders
{
    /// <param name="overrides">Model config fields to replace for this load (sequential models, e.g. DreamRec's
    /// <c>sampler</c>); language models take none.</param>
    public static IRecommender Load(string directory, Device? device = null, IReadOnlyDictionary<string, string>? overrides = null)
    {
        var configPath = ModelDirectory.RequireModelDirectory(directory);
        JsonObject config;
        try { config = JsonNode.Parse(File.ReadAllText(configPath)) as JsonObject ?? throw new FormatException($"{configPath}: config.json must hold a JSON object"); }
        catch (System.Text.Json.JsonException e) { throw new FormatException($"{configPath}: {IO.JsonErrors.Reason(e)}", e); }
        if (SequentialModelDirectory.IsSequential(config)) return SequentialModelDirectory.Load(directory, device, overrides);
        if (overrides is { Count: > 0 }) throw new ArgumentException($"{directory} holds a language model; model settings ({string.Join(", ", overrides.Keys)}) apply to sequential models");
        var (lm, tokenizer) = ModelDirectory.Load(directory, device: device);
        return new LanguageModelRecommender(lm, tokenizer);
    }
}
