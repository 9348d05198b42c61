using System.Text.Json;
using System.Text.Json.Nodes;
using RecAlign.Models.Checkpoints;
using RecAlign.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace RecAlign.Models.Language;

/// <summary>
/// The one model directory format, HuggingFace-compatible: <c>config.json</c>, <c>model.safetensors</c> (or shards
/// with an index), tokenizer files and <c>generation_config.json</c>. LoRA adapters travel as PEFT writes them:
/// <c>adapter_config.json</c> + <c>adapter_model.safetensors</c> with <c>base_model.model.…lora_A.weight</c> names.
/// </summary>
public static class ModelDirectory
{
    public const string ConfigFile = "config.json";
    public const string GenerationConfigFile = "generation_config.json";
    public const string AdapterConfigFile = "adapter_config.json";
    public const string AdapterBaseName = "adapter_model";
    /// <summary>Where a LoRA stage puts its adapters (PEFT's layout) inside the merged model directory it writes.</summary>
    public const string AdapterFolder = "adapter";

    /// <summary>Writes the model (adapters merged in, when attached, so the directory is a plain causal LM) and
    /// its tokenizer, replacing <paramref name="directory"/> atomically.</summary>
    public static void Save(LanguageModel lm, ITokenizer tokenizer, string directory, ScalarType? dtype = null, long? maxShardBytes = null)
    {
        bool hadAdapters = lm.HasLora() && lm.Projections().Any(p => p.Projection.HasAdapter && !p.Projection.Merged);
        if (hadAdapters) lm.MergeAdapters();
        try
        {
            var saveType = dtype ?? lm.DType;
            var config = lm.Config with
            {
                TorchDtype = DTypeName(saveType), VocabSize = lm.Config.VocabSize,
                BosTokenId = tokenizer.BosId ?? lm.Config.BosTokenId, EosTokenId = tokenizer.EosId ?? lm.Config.EosTokenId,
                PadTokenId = tokenizer.PadId ?? lm.Config.PadTokenId,
            };
            // The hybrid embedder is saved apart (HybridItemEmbedder.Save), so model.safetensors stays a plain HF causal LM.
            var weights = lm.state_dict().Where(p => !p.Key.Contains(".lora_") && !p.Key.StartsWith("hybrid."));
            CheckpointIO.SaveTensors(weights, directory, new CheckpointSaveOptions
            {
                DType = saveType,
                MaxShardBytes = maxShardBytes,
                JsonFiles = new Dictionary<string, string>
                {
                    [ConfigFile] = config.ToHuggingFaceJson().ToJsonString(Indented),
                    [GenerationConfigFile] = GenerationDefaults(config).ToJsonString(Indented),
                },
                WriteExtraFiles = dir => { tokenizer.Save(dir); lm.Hybrid?.Save(dir); },
            });
        }
        finally
        {
            if (hadAdapters) lm.UnmergeAdapters();
        }
    }

    /// <summary>The model directory's config path; a clear error when <paramref name="directory"/> is not one (callers
    /// check before they create anything, e.g. a run folder).</summary>
    public static string RequireModelDirectory(string directory)
    {
        var configPath = Path.Combine(directory, ConfigFile);
        if (!File.Exists(configPath)) throw new FileNotFoundException($"{Path.GetFullPath(directory)}: not a model directory (no {ConfigFile})", configPath);
        return configPath;
    }

    private static string TokenizerFileName(string directory) =>
        File.Exists(Path.Combine(directory, HuggingFaceTokenizer.TokenizerFile)) ? HuggingFaceTokenizer.TokenizerFile : CompactVocabularyTokenizer.FileName;

    /// <summary>The sizes in config.json decide the allocation before any weight is read: check first that the
    /// checkpoint holds that many values, so a wrong or hostile config fails in a line instead of allocating gigabytes.</summary>
    private static void RequireWeightsFor(LanguageModelConfig config, string directory, string configPath)
    {
        using var checkpoint = SafetensorsCheckpoint.Open(directory);
        long held = checkpoint.TensorNames.Sum(n => checkpoint.GetInfo(n).ElementCount);
        long needed = config.ParameterCount();
        if (needed > held)
            throw new FormatException($"{configPath}: describes a model of {needed:N0} parameters, but the weights beside it hold {held:N0} values; " +
                "config.json does not belong to these weights");
    }

    /// <summary>Loads a model directory (RecAlign's or a HuggingFace Llama/Qwen2/Mistral/SmolLM one) in
    /// <paramref name="dtype"/> (default: fp32 for training stability on CPU) on <paramref name="device"/>.</summary>
    public static (LanguageModel Model, ITokenizer Tokenizer) Load(string directory, ScalarType dtype = ScalarType.Float32, Device? device = null)
    {
        var configPath = RequireModelDirectory(directory);
        var config = LanguageModelConfig.FromHuggingFaceJson(configPath);
        RequireWeightsFor(config, directory, configPath);
        var lm = new LanguageModel(config);
        lm.to(dtype);
        if (device is not null) lm.to(device);
        // Tied checkpoints may still carry lm_head.weight (some exporters write it); it equals the embedding.
        CheckpointIO.Load(lm, directory, new CheckpointLoadOptions
        {
            NameMap = name => config.TieWordEmbeddings && name == "lm_head.weight" ? null : name,
        });
        var tokenizer = TokenizerLoader.Load(directory);
        if (tokenizer.VocabSize > config.VocabSize)
            throw new FormatException($"{directory}: the tokenizer ({TokenizerFileName(directory)}) has {tokenizer.VocabSize} ids but config.json's vocab_size is {config.VocabSize}");
        if (HybridItemEmbedder.Load(directory, config.VocabSize) is { } hybrid) lm.AttachHybrid(hybrid);
        lm.eval();
        return (lm, tokenizer);
    }

    /// <summary>Writes only the adapters, as PEFT does (loadable with <c>PeftModel.from_pretrained</c>).</summary>
    public static void SaveAdapter(LanguageModel lm, string directory, string baseModelPath)
    {
        var config = lm.LoraConfig ?? throw new InvalidOperationException("the model has no LoRA adapters");
        var adapterConfig = new JsonObject
        {
            ["peft_type"] = "LORA", ["task_type"] = "CAUSAL_LM", ["r"] = config.Rank, ["lora_alpha"] = config.Alpha,
            ["lora_dropout"] = config.Dropout, ["target_modules"] = new JsonArray(config.TargetModules.Select(t => (JsonNode)t!).ToArray()),
            ["bias"] = "none", ["fan_in_fan_out"] = false, ["inference_mode"] = true,
            ["base_model_name_or_path"] = baseModelPath,
        };
        CheckpointIO.SaveTensors(lm.AdapterStateDict(), directory, new CheckpointSaveOptions
        {
            BaseName = AdapterBaseName,
            JsonFiles = new Dictionary<string, string> { [AdapterConfigFile] = adapterConfig.ToJsonString(Indented) },
        });
    }

    /// <summary>Attaches the adapters saved in <paramref name="directory"/> to <paramref name="lm"/>.</summary>
    public static void LoadAdapter(LanguageModel lm, string directory, long seed = 0)
    {
        var path = Path.Combine(directory, AdapterConfigFile);
        if (!File.Exists(path)) throw new FileNotFoundException($"{directory}: no {AdapterConfigFile}", path);
        var o = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        if (o["peft_type"]?.GetValue<string>() is { } type && type != "LORA")
            throw new NotSupportedException($"{path}: peft_type '{type}' is not supported (LORA only)");
        var config = new LoraConfig
        {
            Rank = o["r"]?.GetValue<int>() ?? throw new FormatException($"{path}: field 'r' is required"),
            Alpha = o["lora_alpha"]?.GetValue<double>() ?? 8,
            Dropout = o["lora_dropout"]?.GetValue<double>() ?? 0,
            TargetModules = o["target_modules"] is JsonArray a ? a.Select(t => t!.GetValue<string>()).ToList() : LoraConfig.AllTargets,
        };
        if (!lm.HasLora()) lm.AddLora(config, seed);
        var report = CheckpointIO.Load(lm, directory, new CheckpointLoadOptions
        {
            BaseName = AdapterBaseName,
            // PEFT names → module names; base weights are not in an adapter file, so only adapter names are expected.
            NameMap = name => name.StartsWith(LoraAdapters.PeftPrefix) ? name[LoraAdapters.PeftPrefix.Length..] : null,
            AllowMissing = true,
        });
        var missingAdapters = report.Missing.Where(n => n.Contains(".lora_")).ToList();
        if (missingAdapters.Count > 0)
            throw new FormatException($"{directory}: adapter file lacks {missingAdapters.Count} adapter tensor(s), e.g. {missingAdapters[0]}");
        // A hybrid stage's adapters come with the projector they were trained with.
        if (lm.Hybrid is null && HybridItemEmbedder.Load(directory, lm.Config.VocabSize) is { } hybrid) lm.AttachHybrid(hybrid);
    }

    private static JsonObject GenerationDefaults(LanguageModelConfig c) => new()
    {
        ["bos_token_id"] = c.BosTokenId, ["eos_token_id"] = c.EosTokenId, ["pad_token_id"] = c.PadTokenId,
        ["do_sample"] = false, ["max_new_tokens"] = 32,
    };

    private static string DTypeName(ScalarType t) => t switch
    {
        ScalarType.BFloat16 => "bfloat16",
        ScalarType.Float16 => "float16",
        _ => "float32",
    };

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };
}
