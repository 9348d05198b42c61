using System.Text.Json;
using System.Text.Json.Nodes;

namespace RecAlign.Models.Language;

/// <summary>
/// Typed Llama-family configuration. Field names follow HuggingFace <c>config.json</c> (llama, qwen2, mistral), so a
/// config round-trips through <see cref="FromHuggingFaceJson"/> / <see cref="ToHuggingFaceJson"/>.
/// </summary>
public sealed record LanguageModelConfig
{
    public string ModelType { get; init; } = "llama";
    public int VocabSize { get; init; } = 4096;
    public int HiddenSize { get; init; } = 256;
    public int IntermediateSize { get; init; } = 688;
    public int NumHiddenLayers { get; init; } = 4;
    public int NumAttentionHeads { get; init; } = 4;
    public int NumKeyValueHeads { get; init; } = 4;
    /// <summary>Per-head width; HF derives it as hidden_size / num_attention_heads when absent.</summary>
    public int? HeadDimOverride { get; init; }
    public double RopeTheta { get; init; } = 10000.0;
    /// <summary>Llama-3 style rope scaling (<c>rope_type: llama3</c>); null for none.</summary>
    public RopeScaling? RopeScaling { get; init; }
    public double RmsNormEps { get; init; } = 1e-6;
    public bool TieWordEmbeddings { get; init; } = true;
    public int MaxPositionEmbeddings { get; init; } = 512;
    /// <summary>q/k/v projection bias (Qwen2 has it; Llama and Mistral do not).</summary>
    public bool AttentionBias { get; init; }
    public double InitializerRange { get; init; } = 0.02;
    /// <summary>Dropout on the embeddings and on each attention and MLP output before its residual add, in training
    /// only (<c>hidden_dropout</c>, RecAlign's key: Llama has none, and a small model pretrained for many epochs on a
    /// recommendation corpus needs it as SASRec does); 0 is plain Llama.</summary>
    public double HiddenDropout { get; init; }
    public int? BosTokenId { get; init; } = 1;
    public int? EosTokenId { get; init; } = 2;
    public int? PadTokenId { get; init; } = 0;
    /// <summary>Dtype the weights were saved in (<c>torch_dtype</c>): float32, bfloat16 or float16.</summary>
    public string TorchDtype { get; init; } = "float32";

    public int HeadDim => HeadDimOverride ?? HiddenSize / NumAttentionHeads;

    /// <summary>The embedded default trained from scratch on a catalog (~2M parameters + embeddings).</summary>
    public static LanguageModelConfig Tiny(int vocabSize) => new()
    {
        VocabSize = vocabSize, HiddenSize = 192, IntermediateSize = 512, NumHiddenLayers = 4,
        NumAttentionHeads = 6, NumKeyValueHeads = 2, MaxPositionEmbeddings = 512,
    };

    /// <summary>~10M parameters at a 8k vocabulary (the engine benchmark's default size).</summary>
    public static LanguageModelConfig Small10M(int vocabSize = 8192) => new()
    {
        VocabSize = vocabSize, HiddenSize = 384, IntermediateSize = 1024, NumHiddenLayers = 6,
        NumAttentionHeads = 6, NumKeyValueHeads = 2, MaxPositionEmbeddings = 1024,
    };

    /// <summary>~30M parameters at a 8k vocabulary.</summary>
    public static LanguageModelConfig Medium30M(int vocabSize = 8192) => new()
    {
        VocabSize = vocabSize, HiddenSize = 576, IntermediateSize = 1536, NumHiddenLayers = 8,
        NumAttentionHeads = 9, NumKeyValueHeads = 3, MaxPositionEmbeddings = 1024,
    };

    public void Validate()
    {
        if (VocabSize <= 0 || HiddenSize <= 0 || IntermediateSize <= 0 || NumHiddenLayers <= 0)
            throw new ArgumentException("vocab_size, hidden_size, intermediate_size and num_hidden_layers must be positive");
        if (NumAttentionHeads <= 0 || NumKeyValueHeads <= 0 || NumAttentionHeads % NumKeyValueHeads != 0)
            throw new ArgumentException($"num_attention_heads ({NumAttentionHeads}) must be a positive multiple of num_key_value_heads ({NumKeyValueHeads})");
        if (HeadDimOverride is null && HiddenSize % NumAttentionHeads != 0)
            throw new ArgumentException($"hidden_size ({HiddenSize}) is not divisible by num_attention_heads ({NumAttentionHeads}); set head_dim");
        if (HeadDim % 2 != 0) throw new ArgumentException($"head_dim ({HeadDim}) must be even for rotary embeddings");
        if (!(HiddenDropout >= 0 && HiddenDropout < 1)) throw new ArgumentException($"hidden_dropout ({HiddenDropout}) must be in [0, 1)");
    }

    /// <summary>Reads a HuggingFace config.json (llama, qwen2, mistral, SmolLM key names).</summary>
    public static LanguageModelConfig FromHuggingFaceJson(string path)
    {
        JsonObject o;
        try { o = JsonNode.Parse(File.ReadAllText(path))?.AsObject() ?? throw new FormatException("empty"); }
        catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException)
        { throw new FormatException($"{path}: not a JSON object: {(e is JsonException j ? RecAlign.IO.JsonErrors.Reason(j) : e.Message)}", e); }
        return FromHuggingFaceJson(o, path);
    }

    public static LanguageModelConfig FromHuggingFaceJson(JsonObject o, string source = "config.json")
    {
        int Req(string key) => o[key]?.GetValue<int>() ?? throw new FormatException($"{source}: field '{key}' is required");
        int? OptInt(string key) => o[key] is JsonValue v && v.TryGetValue<int>(out var i) ? i : null;
        double OptDouble(string key, double dflt) => o[key] is JsonValue v ? v.GetValue<double>() : dflt;
        bool OptBool(string key, bool dflt) => o[key] is JsonValue v ? v.GetValue<bool>() : dflt;
        var modelType = o["model_type"]?.GetValue<string>() ?? "llama";
        int heads = Req("num_attention_heads");
        RopeScaling? scaling = null;
        if (o["rope_scaling"] is JsonObject rs)
        {
            var type = (rs["rope_type"] ?? rs["type"])?.GetValue<string>();
            if (type == "llama3")
                scaling = new RopeScaling(rs["factor"]!.GetValue<double>(), rs["low_freq_factor"]!.GetValue<double>(),
                    rs["high_freq_factor"]!.GetValue<double>(), rs["original_max_position_embeddings"]!.GetValue<int>());
            else if (type is not null and not "default")
                throw new NotSupportedException($"{source}: rope_scaling type '{type}' is not supported (llama3 and default are)");
        }
        var config = new LanguageModelConfig
        {
            ModelType = modelType,
            VocabSize = Req("vocab_size"),
            HiddenSize = Req("hidden_size"),
            IntermediateSize = Req("intermediate_size"),
            NumHiddenLayers = Req("num_hidden_layers"),
            NumAttentionHeads = heads,
            NumKeyValueHeads = OptInt("num_key_value_heads") ?? heads,
            // head_dim equal to the derived width is not an override (keeps configs equal across a round trip).
            HeadDimOverride = OptInt("head_dim") is { } hd && hd != Req("hidden_size") / heads ? hd : null,
            RopeTheta = OptDouble("rope_theta", 10000.0),
            RopeScaling = scaling,
            RmsNormEps = OptDouble("rms_norm_eps", 1e-6),
            TieWordEmbeddings = OptBool("tie_word_embeddings", false), // the transformers default
            MaxPositionEmbeddings = OptInt("max_position_embeddings") ?? 2048,
            // Qwen2 always has q/k/v bias and its config omits the key.
            AttentionBias = OptBool("attention_bias", modelType == "qwen2"),
            InitializerRange = OptDouble("initializer_range", 0.02),
            HiddenDropout = OptDouble("hidden_dropout", 0.0),
            BosTokenId = OptInt("bos_token_id"),
            EosTokenId = o["eos_token_id"] is JsonArray eos ? eos[0]!.GetValue<int>() : OptInt("eos_token_id"),
            PadTokenId = OptInt("pad_token_id"),
            TorchDtype = o["torch_dtype"]?.GetValue<string>() ?? o["dtype"]?.GetValue<string>() ?? "float32",
        };
        if (o["hidden_act"]?.GetValue<string>() is { } act && act != "silu")
            throw new NotSupportedException($"{source}: hidden_act '{act}' is not supported (silu only)");
        config.Validate();
        return config;
    }

    /// <summary>Writes the keys transformers needs to load this as LlamaForCausalLM (or Qwen2ForCausalLM).</summary>
    public JsonObject ToHuggingFaceJson()
    {
        var o = new JsonObject
        {
            ["architectures"] = new JsonArray(ModelType == "qwen2" ? "Qwen2ForCausalLM" : ModelType == "mistral" ? "MistralForCausalLM" : "LlamaForCausalLM"),
            ["model_type"] = ModelType,
            ["vocab_size"] = VocabSize,
            ["hidden_size"] = HiddenSize,
            ["intermediate_size"] = IntermediateSize,
            ["num_hidden_layers"] = NumHiddenLayers,
            ["num_attention_heads"] = NumAttentionHeads,
            ["num_key_value_heads"] = NumKeyValueHeads,
            ["head_dim"] = HeadDim,
            ["hidden_act"] = "silu",
            ["rope_theta"] = RopeTheta,
            ["rms_norm_eps"] = RmsNormEps,
            ["tie_word_embeddings"] = TieWordEmbeddings,
            ["max_position_embeddings"] = MaxPositionEmbeddings,
            ["attention_bias"] = AttentionBias,
            ["mlp_bias"] = false,
            ["attention_dropout"] = 0.0,
            ["initializer_range"] = InitializerRange,
            ["hidden_dropout"] = HiddenDropout,
            ["bos_token_id"] = BosTokenId,
            ["eos_token_id"] = EosTokenId,
            ["pad_token_id"] = PadTokenId,
            ["torch_dtype"] = TorchDtype,
            ["use_cache"] = true,
        };
        if (RopeScaling is { } r)
            o["rope_scaling"] = new JsonObject
            {
                ["rope_type"] = "llama3", ["factor"] = r.Factor, ["low_freq_factor"] = r.LowFreqFactor,
                ["high_freq_factor"] = r.HighFreqFactor, ["original_max_position_embeddings"] = r.OriginalMaxPositionEmbeddings,
            };
        return o;
    }
}

/// <summary>Llama-3 frequency-dependent RoPE scaling.</summary>
public sealed record RopeScaling(double Factor, double LowFreqFactor, double HighFreqFactor, int OriginalMaxPositionEmbeddings);
