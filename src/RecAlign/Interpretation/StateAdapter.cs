using System.Text.Json;
using System.Text.Json.Nodes;
using RecAlign.Models.Checkpoints;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RecAlign.Interpretation;

/// <summary>
/// RecInterpreter's adapter (Yang et al. 2023, "Large Language Model Can Interpret Latent Space of Sequential
/// Recommender"): a learned weighting of a frozen sequential recommender's per-position hidden states
/// H ∈ ℝ^{L×d_rec}, s = Σ_j a_j·H_j + b (one weight per position, shared across dimensions, a scalar bias: the released
/// code's Conv2d(1, 1, (L, 1))), then one soft token of the LM's width, v = W·s + c (its <c>llama_proj</c>).
/// <para>Unlike the released code (a fixed 10-wide kernel over left-aligned rows), the weights are indexed by recency:
/// a_0 belongs to the most recent real position, a_1 to the one before, and so on; padding and positions older than
/// <see cref="Positions"/> get no weight, so any history length and any amount of right padding give the same token.</para>
/// </summary>
public sealed class StateAdapter : nn.Module
{
    private readonly Parameter position_weight;
    private readonly Parameter position_bias;
    private readonly Linear llama_proj;

    /// <param name="positions">How many of the most recent positions get a weight (the recommender's max_seq_length).</param>
    public StateAdapter(int positions, int recHiddenSize, int hiddenSize, long seed) : base(nameof(StateAdapter))
    {
        if (positions < 1 || recHiddenSize < 1 || hiddenSize < 1)
            throw new ArgumentException($"adapter sizes must be positive (positions {positions}, rec_hidden_size {recHiddenSize}, hidden_size {hiddenSize})");
        (Positions, RecHiddenSize, HiddenSize) = (positions, recHiddenSize, hiddenSize);
        position_weight = new Parameter(zeros(positions));
        position_bias = new Parameter(zeros(1));
        llama_proj = nn.Linear(recHiddenSize, hiddenSize);
        RegisterComponents();
        // PyTorch's default inits (Conv2d and Linear: U(±1/√fan_in)), drawn from the seed so a run is reproducible.
        using var generator = new Generator((ulong)seed);
        using (no_grad())
        {
            double convBound = 1 / Math.Sqrt(positions), linearBound = 1 / Math.Sqrt(recHiddenSize);
            position_weight.uniform_(-convBound, convBound, generator);
            position_bias.uniform_(-convBound, convBound, generator);
            foreach (var p in llama_proj.parameters()) p.uniform_(-linearBound, linearBound, generator);
        }
    }

    public int Positions { get; }
    public int RecHiddenSize { get; }
    public int HiddenSize { get; }

    /// <summary>The weighted state s [B, d_rec] of states [B, L, d_rec] whose row b has <paramref name="lengths"/>[b]
    /// real (left-aligned, right-padded) positions.</summary>
    public Tensor Pool(Tensor states, Tensor lengths)
    {
        if (states.dim() != 3 || states.shape[2] != RecHiddenSize)
            throw new ArgumentException($"states must be [B, L, {RecHiddenSize}] (got [{string.Join(", ", states.shape)}])");
        using var scope = NewDisposeScope();
        long b = states.shape[0], l = states.shape[1];
        var device = states.device;
        // recency[b, j] = lengths[b] − 1 − j: 0 at the last real position, negative on padding.
        var recency = lengths.to(ScalarType.Int64).to(device).unsqueeze(1) - arange(1, l + 1, ScalarType.Int64, device: device).unsqueeze(0);
        var valid = recency.ge(0).logical_and(recency.lt(Positions));
        var index = recency.clamp(0, Positions - 1).reshape(-1);
        var weights = position_weight.index_select(0, index).view(b, l) * valid.to(position_weight.dtype);
        var pooled = (weights.unsqueeze(-1) * states.to(position_weight.dtype)).sum(dim: 1) + position_bias;
        return pooled.MoveToOuterDisposeScope();
    }

    /// <summary>One soft token per row: [B, hidden_size].</summary>
    public Tensor Forward(Tensor states, Tensor lengths)
    {
        using var scope = NewDisposeScope();
        return llama_proj.forward(Pool(states, lengths)).MoveToOuterDisposeScope();
    }

    /// <summary>The adapter's trainable parameters by name.</summary>
    public IEnumerable<(string Name, Parameter Parameter)> Named() => named_parameters().Select(p => (p.name, p.parameter));
}

/// <summary>What an interpreter model directory says beside its weights: the LM and recommender it reads (paths as
/// given when it was trained), the adapter's sizes, the prompts it was trained with and whether it was the
/// random-states floor.</summary>
public sealed record InterpreterInfo
{
    public string Type { get; init; } = "recinterpreter";
    public string LanguageModel { get; init; } = "";
    public string Recommender { get; init; } = "";
    public int Positions { get; init; }
    public int RecHiddenSize { get; init; }
    public int HiddenSize { get; init; }
    public bool RandomStates { get; init; }
    public string Task { get; init; } = "";
    public string RecoveryPrompt { get; init; } = "";
    public string ResidualPrompt { get; init; } = "";
    /// <summary>The LM's LoRA adapters trained with the interpreter, a folder of this directory (PEFT layout), or null
    /// when the LM stayed frozen.</summary>
    public string? LmAdapter { get; init; }
}

/// <summary>An interpreter's model directory: <see cref="ConfigFile"/> (<see cref="InterpreterInfo"/>) and
/// <see cref="WeightsFile"/> (the adapter under its own parameter names), written atomically.</summary>
public static class InterpreterDirectory
{
    public const string ConfigFile = "interpreter_config.json";
    public const string WeightsBaseName = "interpreter";
    public const string WeightsFile = WeightsBaseName + ".safetensors";
    /// <summary>Where the LM's LoRA adapters go when they trained with the interpreter.</summary>
    public const string LmAdapterFolder = "lm_adapter";

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping, // prompts stay readable: <SeqHere>, not \u003C
    };

    public static bool Exists(string directory) => File.Exists(Path.Combine(directory, ConfigFile));

    /// <param name="extraJson">Further JSON files to write into the directory with it (name → text).</param>
    /// <param name="lm">An LM whose LoRA adapters trained with the interpreter: they go to <see cref="LmAdapterFolder"/>,
    /// inside the same atomic replacement of the directory.</param>
    public static void Save(StateAdapter adapter, InterpreterInfo info, string directory, IReadOnlyDictionary<string, string>? extraJson = null,
        Models.Language.LanguageModel? lm = null)
    {
        info = info with { Positions = adapter.Positions, RecHiddenSize = adapter.RecHiddenSize, HiddenSize = adapter.HiddenSize, LmAdapter = lm is null ? null : LmAdapterFolder };
        var files = new Dictionary<string, string>(extraJson ?? new Dictionary<string, string>()) { [ConfigFile] = JsonSerializer.Serialize(info, Json) };
        CheckpointIO.Save(adapter, directory, new CheckpointSaveOptions
        {
            DType = ScalarType.Float32, BaseName = WeightsBaseName, JsonFiles = files,
            WriteExtraFiles = lm is null ? null : tmp => Models.Language.ModelDirectory.SaveAdapter(lm, Path.Combine(tmp, LmAdapterFolder), info.LanguageModel),
        });
    }

    public static (StateAdapter Adapter, InterpreterInfo Info) Load(string directory, Device? device = null)
    {
        var path = Path.Combine(directory, ConfigFile);
        if (!File.Exists(path)) throw new FileNotFoundException($"{Path.GetFullPath(directory)}: not an interpreter directory (no {ConfigFile})", path);
        InterpreterInfo info;
        try { info = JsonSerializer.Deserialize<InterpreterInfo>(File.ReadAllText(path), Json) ?? throw new FormatException("empty"); }
        catch (JsonException e) { throw new FormatException($"{path}: {e.Message}", e); }
        if (info.Positions < 1 || info.RecHiddenSize < 1 || info.HiddenSize < 1)
            throw new FormatException($"{path}: positions, rec_hidden_size and hidden_size must be positive");
        var adapter = new StateAdapter(info.Positions, info.RecHiddenSize, info.HiddenSize, seed: 0);
        if (device is not null) adapter.to(device);
        CheckpointIO.Load(adapter, directory, new CheckpointLoadOptions { BaseName = WeightsBaseName });
        adapter.eval();
        return (adapter, info);
    }
}
