using System.Text.Json;
using System.Text.Json.Nodes;

namespace RecAlign.Models.Language.Generation;

/// <summary>Whether beam search may stop before max_new_tokens (HF <c>early_stopping</c>: true, false or "never").</summary>
public enum EarlyStopping
{
    /// <summary>Stop a prompt once num_beams hypotheses are finished.</summary>
    True,
    /// <summary>HF's heuristic: stop when the best running beam, normalised by the current length, cannot beat the
    /// worst finished hypothesis.</summary>
    False,
    /// <summary>Stop only when no running beam can beat the worst finished hypothesis at any later length.</summary>
    Never,
}

/// <summary>
/// Decoding settings under HuggingFace <c>generation_config.json</c> names and defaults. <see cref="Seed"/> (not an
/// HF key; written only when sampling) seeds the sampler's torch.Generator.
/// </summary>
public sealed record GenerationConfig
{
    public const string FileName = "generation_config.json";

    public int MaxNewTokens { get; init; } = 20;
    public bool DoSample { get; init; }
    public double Temperature { get; init; } = 1.0;
    /// <summary>Keep the k most likely tokens when sampling; 0 disables.</summary>
    public int TopK { get; init; } = 50;
    /// <summary>Keep the smallest set of tokens whose probability reaches top_p when sampling; 1 disables.</summary>
    public double TopP { get; init; } = 1.0;
    public int NumBeams { get; init; } = 1;
    /// <summary>Beam scores are sum log-prob / (generated length)^length_penalty, the length counting EOS.</summary>
    public double LengthPenalty { get; init; } = 1.0;
    public EarlyStopping EarlyStopping { get; init; } = EarlyStopping.False;
    /// <summary>Sequences returned per prompt (at most num_beams for beam search).</summary>
    public int NumReturnSequences { get; init; } = 1;
    /// <summary>Token ids that end a sequence; empty means the model config's eos_token_id.</summary>
    public IReadOnlyList<int> EosTokenId { get; init; } = [];
    /// <summary>Padding for left-padded prompts and finished rows; null means the model's pad, else the first EOS.</summary>
    public int? PadTokenId { get; init; }
    /// <summary>Generation stops once the decoded generated text contains one of these (needs a decode callback).</summary>
    public IReadOnlyList<string> StopStrings { get; init; } = [];
    public long Seed { get; init; }

    public void Validate()
    {
        if (MaxNewTokens < 1) throw new ArgumentException($"max_new_tokens must be >= 1 (got {MaxNewTokens})");
        if (Temperature <= 0 || double.IsNaN(Temperature)) throw new ArgumentException($"temperature must be > 0 (got {Temperature})");
        if (TopK < 0) throw new ArgumentException($"top_k must be >= 0 (got {TopK})");
        if (!(TopP > 0 && TopP <= 1)) throw new ArgumentException($"top_p must be in (0, 1] (got {TopP})");
        if (NumBeams < 1) throw new ArgumentException($"num_beams must be >= 1 (got {NumBeams})");
        if (NumReturnSequences < 1) throw new ArgumentException($"num_return_sequences must be >= 1 (got {NumReturnSequences})");
        if (NumBeams > 1 && DoSample) throw new NotSupportedException("beam sampling (num_beams > 1 with do_sample) is not supported");
        if (NumBeams > 1 && NumReturnSequences > NumBeams)
            throw new ArgumentException($"num_return_sequences ({NumReturnSequences}) must be <= num_beams ({NumBeams})");
        if (NumBeams == 1 && !DoSample && NumReturnSequences > 1)
            throw new ArgumentException("greedy decoding returns one sequence per prompt; set do_sample or num_beams for num_return_sequences > 1");
        if (StopStrings.Any(string.IsNullOrEmpty)) throw new ArgumentException("stop_strings must not hold empty strings");
    }

    /// <summary>Reads a generation_config.json (a file path or a model directory holding one). Keys RecAlign does not
    /// use (bos_token_id, transformers_version, ...) are ignored; known keys with a wrong type throw naming the key.</summary>
    public static GenerationConfig Load(string path)
    {
        if (Directory.Exists(path)) path = Path.Combine(path, FileName);
        if (!File.Exists(path)) throw new FileNotFoundException($"generation config not found: {path}", path);
        JsonObject o;
        try
        {
            o = JsonNode.Parse(File.ReadAllText(path), documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true })
                as JsonObject ?? throw new FormatException($"{path}: the top level must be a JSON object");
        }
        catch (JsonException e) { throw new FormatException($"{path}: not valid JSON (line {e.LineNumber + 1}): {RecAlign.IO.JsonErrors.Reason(e)}", e); }
        return FromJson(o, path);
    }

    public static GenerationConfig FromJson(JsonObject o, string source = FileName)
    {
        T Get<T>(string key, T dflt)
        {
            if (o[key] is not { } node) return dflt;
            try { return node.GetValue<T>(); }
            catch (Exception e) when (e is InvalidOperationException or FormatException)
            { throw new FormatException($"{source}: field '{key}' must be {RecAlign.IO.JsonErrors.Expected(typeof(T))} (got {node.ToJsonString()})", e); }
        }
        var d = new GenerationConfig();
        IReadOnlyList<int> eos = o["eos_token_id"] switch
        {
            null => [],
            JsonArray a => a.Select((n, i) => n is JsonValue v && v.TryGetValue<int>(out var id) ? id
                : throw new FormatException($"{source}: field 'eos_token_id[{i}]' must be an integer")).ToArray(),
            JsonValue v when v.TryGetValue<int>(out var id) => [id],
            var other => throw new FormatException($"{source}: field 'eos_token_id' must be an integer or a list of integers (got {other.ToJsonString()})"),
        };
        EarlyStopping early = o["early_stopping"] switch
        {
            null => d.EarlyStopping,
            JsonValue v when v.TryGetValue<bool>(out var b) => b ? EarlyStopping.True : EarlyStopping.False,
            JsonValue v when v.TryGetValue<string>(out var s) && s == "never" => EarlyStopping.Never,
            var other => throw new FormatException($"{source}: field 'early_stopping' must be true, false or \"never\" (got {other.ToJsonString()})"),
        };
        IReadOnlyList<string> stops = o["stop_strings"] switch
        {
            null => [],
            JsonValue v when v.TryGetValue<string>(out var s) => [s],
            JsonArray a => a.Select((n, i) => n is JsonValue v && v.TryGetValue<string>(out var s) ? s
                : throw new FormatException($"{source}: field 'stop_strings[{i}]' must be a string")).ToArray(),
            var other => throw new FormatException($"{source}: field 'stop_strings' must be a string or a list of strings (got {other.ToJsonString()})"),
        };
        var config = new GenerationConfig
        {
            MaxNewTokens = Get("max_new_tokens", d.MaxNewTokens),
            DoSample = Get("do_sample", d.DoSample),
            Temperature = Get("temperature", d.Temperature),
            TopK = Get("top_k", d.TopK),
            TopP = Get("top_p", d.TopP),
            NumBeams = Get("num_beams", d.NumBeams),
            LengthPenalty = Get("length_penalty", d.LengthPenalty),
            EarlyStopping = early,
            NumReturnSequences = Get("num_return_sequences", d.NumReturnSequences),
            EosTokenId = eos,
            PadTokenId = o["pad_token_id"] is null ? null : Get<int>("pad_token_id", 0),
            StopStrings = stops,
            Seed = Get("seed", d.Seed),
        };
        try { config.Validate(); }
        catch (Exception e) when (e is ArgumentException or NotSupportedException)
        { throw new FormatException($"{source}: {(e is ArgumentException { ParamName: string p } ? e.Message.Replace($" (Parameter '{p}')", "") : e.Message)}", e); }
        return config;
    }

    public JsonObject ToJson()
    {
        var o = new JsonObject
        {
            ["max_new_tokens"] = MaxNewTokens,
            ["do_sample"] = DoSample,
            ["temperature"] = Temperature,
            ["top_k"] = TopK,
            ["top_p"] = TopP,
            ["num_beams"] = NumBeams,
            ["length_penalty"] = LengthPenalty,
            ["early_stopping"] = EarlyStopping switch
            {
                EarlyStopping.True => JsonValue.Create(true),
                EarlyStopping.False => JsonValue.Create(false),
                _ => JsonValue.Create("never"),
            },
            ["num_return_sequences"] = NumReturnSequences,
        };
        if (EosTokenId.Count == 1) o["eos_token_id"] = EosTokenId[0];
        else if (EosTokenId.Count > 1) o["eos_token_id"] = new JsonArray(EosTokenId.Select(e => (JsonNode)JsonValue.Create(e)).ToArray());
        if (PadTokenId is { } pad) o["pad_token_id"] = pad;
        if (StopStrings.Count > 0) o["stop_strings"] = new JsonArray(StopStrings.Select(s => (JsonNode)JsonValue.Create(s)).ToArray());
        if (DoSample) o["seed"] = Seed;
        return o;
    }

    /// <summary>Writes generation_config.json atomically (a file path, or a directory to write it into).</summary>
    public void Save(string path)
    {
        if (Directory.Exists(path)) path = Path.Combine(path, FileName);
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(dir);
        var tmp = Path.Combine(dir, $".{Path.GetFileName(path)}.{Guid.NewGuid():N}.tmp");
        File.WriteAllText(tmp, ToJson().ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>Records compare lists by reference; this compares them by content.</summary>
    public bool Equals(GenerationConfig? other) =>
        other is not null && MaxNewTokens == other.MaxNewTokens && DoSample == other.DoSample && Temperature.Equals(other.Temperature)
        && TopK == other.TopK && TopP.Equals(other.TopP) && NumBeams == other.NumBeams && LengthPenalty.Equals(other.LengthPenalty)
        && EarlyStopping == other.EarlyStopping && NumReturnSequences == other.NumReturnSequences
        && EosTokenId.SequenceEqual(other.EosTokenId) && PadTokenId == other.PadTokenId
        && StopStrings.SequenceEqual(other.StopStrings) && Seed == other.Seed;

    public override int GetHashCode() => HashCode.Combine(MaxNewTokens, DoSample, Temperature, TopK, TopP, NumBeams, NumReturnSequences, Seed);
}
