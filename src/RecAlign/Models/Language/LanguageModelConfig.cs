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
    /// <summary>Token embeddings are multiplied by this before the first block (Granite's <c>embedding_multiplier</c>;
    /// Gemma uses √hidden_size). With a tied head the output logits still use the raw rows, so a pre-norm stream starts
    /// with the input items at a scale the blocks' outputs do not drown. Other than 1 the model is written as
    /// <c>GraniteForCausalLM</c> with neutral attention, residual and logits multipliers (a Llama in every other way).</summary>
    public double EmbeddingMultiplier { get; init; } = 1.0;
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
    /// <summary>Dropout on the attention probabilities in training only (HF's <c>attention_dropout</c>, as SASRec's
    /// attention has); 0 is plain Llama.</summary>
    public double AttentionDropout { get; init; }
    public int? BosTokenId { get; init; } = 1;
    public int? EosTokenId { get; init; } = 2;
    public int? PadTokenId { get; init; } = 0;
    /// <summary>Dtype the weights were saved in (<c>torch_dtype</c>): float32, bfloat16 or float16.</summary>
    public string TorchDtype { get; init; } = "float32";

    public int HeadDim => HeadDimOverride ?? HiddenSize / NumAttentionHeads;

    /// <summary>SASRec's size (RecBole's defaults: d 64, 2 layers, 2 heads, inner 256) as a Llama: an item-token LM
    /// the size of the sequential model it is compared with.</summary>
    public static LanguageModelConfig Nano(int vocabSize) => new()
    {
        VocabSize = vocabSize, HiddenSize = 64, IntermediateSize = 256, NumHiddenLayers = 2,
        NumAttentionHeads = 2, NumKeyValueHeads = 2, MaxPositionEmbeddings = 512,
    };

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
        if (!(AttentionDropout >= 0 && AttentionDropout < 1)) throw new ArgumentException($"attention_dropout ({AttentionDropout}) must be in [0, 1)");
        if (MaxPositionEmbeddings <= 0 || MaxPositionEmbeddings > MaxPositions)
            throw new ArgumentException($"max_position_embeddings ({MaxPositionEmbeddings}) must be in [1, {MaxPositions}]");
        if (!(RmsNormEps > 0 && RmsNormEps < 1)) throw new ArgumentException($"rms_norm_eps ({RmsNormEps}) must be in (0, 1)");
        if (!(RopeTheta > 0 && double.IsFinite(RopeTheta))) throw new ArgumentException($"rope_theta ({RopeTheta}) must be positive");
        if (!(EmbeddingMultiplier > 0 && double.IsFinite(EmbeddingMultiplier))) throw new ArgumentException($"embedding_multiplier ({EmbeddingMultiplier}) must be positive");
        if (EmbeddingMultiplier != 1.0 && ModelType != "granite") throw new ArgumentException($"embedding_multiplier ({EmbeddingMultiplier}) needs model_type granite (got {ModelType})");
        // Bounds far above any released checkpoint: past them the sizes alone would decide a multi-GB allocation.
        if (VocabSize > MaxVocab || HiddenSize > MaxWidth || IntermediateSize > 4 * MaxWidth || NumHiddenLayers > 1024 || NumAttentionHeads > 1024 || HeadDim > 4096)
            throw new ArgumentException($"sizes beyond any supported model (vocab_size ≤ {MaxVocab}, hidden_size ≤ {MaxWidth}, intermediate_size ≤ {4 * MaxWidth}, num_hidden_layers ≤ 1024, num_attention_heads ≤ 1024, head_dim ≤ 4096)");
        foreach (var (name, id) in new[] { ("bos_token_id", BosTokenId), ("eos_token_id", EosTokenId), ("pad_token_id", PadTokenId) })
            if (id is { } v && (v < 0 || v >= VocabSize))
                throw new ArgumentException($"{name} ({v}) is outside the vocabulary [0, {VocabSize})");
    }

    private const int MaxPositions = 1 << 20, MaxVocab = 1 << 24, MaxWidth = 65536;

    /// <summary>Reads a HuggingFace config.json (llama, qwen2, mistral, granite with neutral multipliers, SmolLM key names).</summary>
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
        // Every field is checked for its JSON type: a string where a number belongs is an error naming the field,
        // never a default taken silently or an exception from deep inside System.Text.Json.
        FormatException Bad(string key, string expected) =>
            new($"{source}: field '{key}': expected {expected}, got {Show(o[key])}");
        int? OptInt(string key) => o[key] switch
        {
            null => null,
            JsonValue v when Number(v) is { } d && d == Math.Floor(d) && d is >= int.MinValue and <= int.MaxValue => (int)d,
            _ => throw Bad(key, "an integer"),
        };
        int Req(string key) => OptInt(key) ?? throw new FormatException($"{source}: field '{key}' is required");
        double OptDouble(string key, double dflt) => o[key] switch
        {
            null => dflt,
            JsonValue v when Number(v) is { } d && double.IsFinite(d) => d,
            _ => throw Bad(key, "a finite number"),
        };
        bool OptBool(string key, bool dflt) => o[key] switch
        {
            null => dflt,
            JsonValue v when v.TryGetValue<bool>(out var b) => b,
            _ => throw Bad(key, "true or false"),
        };
        string? OptString(string key) => o[key] switch
        {
            null => null,
            JsonValue v when v.TryGetValue<string>(out var t) => t,
            _ => throw Bad(key, "a string"),
        };
        var modelType = OptString("model_type") ?? "llama";
        int heads = Req("num_attention_heads");
        RopeScaling? scaling = null;
        if (o["rope_scaling"] is JsonObject rs)
        {
            var type = rs["rope_type"] is not null ? (rs["rope_type"] is JsonValue tv && tv.TryGetValue<string>(out var t1) ? t1 : throw Bad("rope_scaling", "rope_type as a string"))
                : rs["type"] is JsonValue tv2 && tv2.TryGetValue<string>(out var t2) ? t2 : null;
            if (type == "llama3")
            {
                double Need(string key) => rs[key] is JsonValue v && Number(v) is { } d && double.IsFinite(d) && d > 0 ? d
                    : throw new FormatException($"{source}: field 'rope_scaling.{key}': llama3 rope scaling needs a positive number, got {Show(rs[key])}");
                var original = Need("original_max_position_embeddings");
                if (original != Math.Floor(original) || original > int.MaxValue)
                    throw new FormatException($"{source}: field 'rope_scaling.original_max_position_embeddings': expected an integer, got {Show(rs["original_max_position_embeddings"])}");
                scaling = new RopeScaling(Need("factor"), Need("low_freq_factor"), Need("high_freq_factor"), (int)original);
                if (scaling.HighFreqFactor <= scaling.LowFreqFactor)
                    throw new FormatException($"{source}: field 'rope_scaling': high_freq_factor ({scaling.HighFreqFactor}) must exceed low_freq_factor ({scaling.LowFreqFactor})");
            }
            else if (type is not null and not "default")
                throw new NotSupportedException($"{source}: rope_scaling type '{type}' is not supported (llama3 and default are)");
        }
        else if (o["rope_scaling"] is not null) throw Bad("rope_scaling", "an object or null");
        int? eosId = o["eos_token_id"] switch
        {
            JsonArray { Count: 0 } => throw Bad("eos_token_id", "an id or a non-empty list of ids"),
            JsonArray eos => eos[0] is JsonValue e0 && Number(e0) is { } first && first == Math.Floor(first) && first is >= 0 and <= int.MaxValue ? (int)first
                : throw Bad("eos_token_id", "a list of integer ids"),
            _ => OptInt("eos_token_id"),
        };
        var hidden = Req("hidden_size");
        double embeddingMultiplier = 1.0;
        if (modelType == "granite")
        {
            // Granite with neutral multipliers is a Llama with scaled input embeddings; other settings are refused
            // rather than loaded into an architecture that would compute something else.
            int headDim = OptInt("head_dim") ?? (heads > 0 ? hidden / heads : 0);
            double attention = OptDouble("attention_multiplier", 1.0), residual = OptDouble("residual_multiplier", 1.0), logits = OptDouble("logits_scaling", 1.0);
            if (headDim <= 0 || Math.Abs(attention * Math.Sqrt(headDim) - 1) > 1e-6 || residual != 1.0 || logits != 1.0)
                throw new NotSupportedException($"{source}: granite is supported with attention_multiplier = 1/sqrt(head_dim), residual_multiplier = 1 and logits_scaling = 1 " +
                    $"(got {attention}, {residual}, {logits})");
            embeddingMultiplier = OptDouble("embedding_multiplier", 1.0);
        }
        var config = new LanguageModelConfig
        {
            ModelType = modelType,
            EmbeddingMultiplier = embeddingMultiplier,
            VocabSize = Req("vocab_size"),
            HiddenSize = hidden,
            IntermediateSize = Req("intermediate_size"),
            NumHiddenLayers = Req("num_hidden_layers"),
            NumAttentionHeads = heads,
            NumKeyValueHeads = OptInt("num_key_value_heads") ?? heads,
            // head_dim equal to the derived width is not an override (keeps configs equal across a round trip).
            HeadDimOverride = OptInt("head_dim") is { } hd && (heads == 0 || hd != hidden / heads) ? hd : null,
            RopeTheta = OptDouble("rope_theta", 10000.0),
            RopeScaling = scaling,
            RmsNormEps = OptDouble("rms_norm_eps", 1e-6),
            TieWordEmbeddings = OptBool("tie_word_embeddings", false), // the transformers default
            MaxPositionEmbeddings = OptInt("max_position_embeddings") ?? 2048,
            // Qwen2 always has q/k/v bias and its config omits the key.
            AttentionBias = OptBool("attention_bias", modelType == "qwen2"),
            InitializerRange = OptDouble("initializer_range", 0.02),
            HiddenDropout = OptDouble("hidden_dropout", 0.0),
            AttentionDropout = OptDouble("attention_dropout", 0.0),
            BosTokenId = OptInt("bos_token_id"),
            EosTokenId = eosId,
            PadTokenId = OptInt("pad_token_id"),
            TorchDtype = OptString("torch_dtype") ?? OptString("dtype") ?? "float32",
        };
        if (OptString("hidden_act") is { } act && act != "silu")
            throw new NotSupportedException($"{source}: hidden_act '{act}' is not supported (silu only)");
        try { config.Validate(); }
        catch (ArgumentException e) { throw new FormatException($"{source}: {RecAlign.IO.ArgumentErrors.Plain(e)}"); }
        return config;
    }

    /// <summary>A JSON number's value whatever CLR type backs the node (parsed files hold JsonElements, built ones ints).</summary>
    private static double? Number(JsonValue v) =>
        v.GetValueKind() == System.Text.Json.JsonValueKind.Number
            ? double.Parse(v.ToJsonString(), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture) : null;

    private static string Show(JsonNode? n) => n is null ? "nothing" : n.ToJsonString() is var t && t.Length > 40 ? t[..37] + "..." : n.ToJsonString();

    /// <summary>Parameters the model has (what its weights must hold): embeddings, attention and MLP projections,
    /// norms and an untied head.</summary>
    public long ParameterCount()
    {
        long h = HiddenSize, q = (long)NumAttentionHeads * HeadDim, kv = (long)NumKeyValueHeads * HeadDim;
        long attention = h * q + 2 * h * kv + q * h + (AttentionBias ? q + 2 * kv : 0);
        long layer = attention + 3 * h * IntermediateSize + 2 * h;
        return (long)VocabSize * h * (TieWordEmbeddings ? 1 : 2) + NumHiddenLayers * layer + h;
    }

    /// <summary>Writes the keys transformers needs to load this as LlamaForCausalLM (or Qwen2ForCausalLM).</summary>
    public JsonObject ToHuggingFaceJson()
    {
        var o = new JsonObject
        {
            ["architectures"] = new JsonArray(ModelType switch { "qwen2" => "Qwen2ForCausalLM", "mistral" => "MistralForCausalLM", "granite" => "GraniteForCausalLM", _ => "LlamaForCausalLM" }),
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
            ["attention_dropout"] = AttentionDropout,
            ["initializer_range"] = InitializerRange,
            ["hidden_dropout"] = HiddenDropout,
            ["bos_token_id"] = BosTokenId,
            ["eos_token_id"] = EosTokenId,
            ["pad_token_id"] = PadTokenId,
            ["torch_dtype"] = TorchDtype,
            ["use_cache"] = true,
        };
        if (ModelType == "granite")
        {
            o["embedding_multiplier"] = EmbeddingMultiplier;
            o["attention_multiplier"] = 1.0 / Math.Sqrt(HeadDim);
            o["residual_multiplier"] = 1.0;
            o["logits_scaling"] = 1.0;
        }
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
