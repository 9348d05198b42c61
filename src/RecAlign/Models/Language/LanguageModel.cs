using RecAlign.Numerics;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RecAlign.Models.Language;

/// <summary>The decoder stack under HuggingFace's <c>model.</c> prefix: embed_tokens, layers.N, norm.</summary>
public sealed class LlamaModel : nn.Module
{
    internal readonly Embedding embed_tokens;
    internal readonly ModuleList<LlamaDecoderLayer> layers;
    internal readonly RmsNorm norm;

    public LlamaModel(LanguageModelConfig config) : base(nameof(LlamaModel))
    {
        embed_tokens = nn.Embedding(config.VocabSize, config.HiddenSize);
        layers = new ModuleList<LlamaDecoderLayer>(
            Enumerable.Range(0, config.NumHiddenLayers).Select(i => new LlamaDecoderLayer(config, i)).ToArray());
        norm = new RmsNorm(config.HiddenSize, config.RmsNormEps);
        RegisterComponents();
    }
}

/// <summary>
/// A Llama-family causal LM (LlamaForCausalLM / Qwen2ForCausalLM / MistralForCausalLM): token embedding, pre-norm
/// decoder layers (RMSNorm, RoPE, GQA, SwiGLU), final norm, tied or untied lm_head. Parameter names equal HF weight
/// names (<c>model.layers.0.self_attn.q_proj.weight</c>), so checkpoints move between RecAlign and transformers.
/// </summary>
public sealed class LanguageModel : nn.Module
{
    private readonly LlamaModel model;
    private readonly Linear? lm_head;
    private readonly RotaryEmbedding _rope;

    public LanguageModel(LanguageModelConfig config) : base(nameof(LanguageModel))
    {
        config.Validate();
        Config = config;
        model = new LlamaModel(config);
        lm_head = config.TieWordEmbeddings ? null : nn.Linear(config.HiddenSize, config.VocabSize, hasBias: false);
        _rope = new RotaryEmbedding(config.HeadDim, config.MaxPositionEmbeddings, config.RopeTheta, config.RopeScaling);
        RegisterComponents();
        DropoutRate = config.HiddenDropout;
        AttentionDropoutRate = config.AttentionDropout;
    }

    public LanguageModelConfig Config { get; }

    /// <summary>The dropout rate training applies (the config's <c>hidden_dropout</c> until <see cref="SetDropout"/>).</summary>
    public double DropoutRate { get; private set; }

    /// <summary>The attention-probability dropout training applies (the config's <c>attention_dropout</c> until <see cref="SetDropout"/>).</summary>
    public double AttentionDropoutRate { get; private set; }

    /// <summary>Changes the dropout rates of this instance without touching its config (which is what gets saved):
    /// preference alignment turns them off, as TRL's <c>disable_dropout</c>, because a policy scored with dropout against a
    /// reference scored without it sees noise for rewards.</summary>
    public void SetDropout(double hidden, double attention)
    {
        if (!(hidden >= 0 && hidden < 1)) throw new ArgumentOutOfRangeException(nameof(hidden), hidden, "dropout must be in [0, 1)");
        if (!(attention >= 0 && attention < 1)) throw new ArgumentOutOfRangeException(nameof(attention), attention, "dropout must be in [0, 1)");
        (DropoutRate, AttentionDropoutRate) = (hidden, attention);
        foreach (var layer in model.layers) (layer.DropoutRate, layer.AttentionDropoutRate) = (hidden, attention);
    }

    /// <summary>LLaRA's hybrid item embeddings when attached (<see cref="AttachHybrid"/>): item tokens enter as projected
    /// recommender embeddings. Saved beside the model's weights, not among them.</summary>
    public HybridItemEmbedder? Hybrid { get; private set; }
    /// <summary>The submodule name of <see cref="Hybrid"/>: its parameters are named <c>hybrid.mlp_proj.*</c>.</summary>
    public const string HybridModuleName = "hybrid";

    /// <summary>Attaches <paramref name="embedder"/> (moved to this model's device and dtype) as the submodule
    /// <c>hybrid</c>, so training, scoring and generation all embed item tokens through it.</summary>
    public void AttachHybrid(HybridItemEmbedder embedder)
    {
        if (Hybrid is not null) throw new InvalidOperationException("the model already has hybrid item embeddings");
        if (embedder.FirstItemToken + embedder.ItemCount > Config.VocabSize)
            throw new ArgumentException($"the hybrid embedder's item tokens reach {embedder.FirstItemToken + embedder.ItemCount}, past the vocabulary of {Config.VocabSize}");
        embedder.to(Device);
        embedder.to(DType);
        register_module(HybridModuleName, embedder);
        Hybrid = embedder;
    }

    /// <summary>The LoRA settings of attached adapters, null when there are none.</summary>
    public LoraConfig? LoraConfig { get; internal set; }
    public Tensor EmbeddingWeight => model.embed_tokens.weight!;
    public Tensor OutputWeight => lm_head?.weight ?? model.embed_tokens.weight!;
    public ScalarType DType => EmbeddingWeight.dtype;
    public Device Device => EmbeddingWeight.device;

    /// <summary>A model with freshly initialised weights: N(0, initializer_range) for embeddings and projections,
    /// output projections (o_proj, down_proj) scaled by 1/√(2L) as in GPT-2, zero biases, unit norms.</summary>
    public static LanguageModel Create(LanguageModelConfig config, long seed)
    {
        var lm = new LanguageModel(config);
        lm.InitializeWeights(seed);
        return lm;
    }

    public void InitializeWeights(long seed)
    {
        using var generator = new Generator((ulong)seed);
        using var _ = no_grad();
        double std = Config.InitializerRange, residualStd = std / Math.Sqrt(2.0 * Config.NumHiddenLayers);
        foreach (var (name, p) in named_parameters())
        {
            if (name.EndsWith("layernorm.weight") || name.EndsWith("norm.weight")) p.fill_(1.0);
            else if (name.EndsWith(".bias")) p.zero_();
            else if (name.Contains("lora_")) continue; // adapters keep their own init
            // Tensor.normal_ honours the generator; nn.init.normal_ in TorchSharp 0.107 ignores it (checked).
            else p.normal_(0, name.EndsWith("o_proj.weight") || name.EndsWith("down_proj.weight") ? residualStd : std, generator);
        }
    }

    /// <summary>
    /// Final-norm hidden states [B, T, D] for <paramref name="inputIds"/> [B, T].
    /// <paramref name="attentionMask"/> [B, T] (1 = token, 0 = padding) is needed only for left padding or when
    /// continuing from a cache; right-padded training batches may omit it, because causal attention already keeps
    /// real tokens from seeing the padding after them. With a <paramref name="cache"/>, the new tokens attend to the
    /// cached ones and the cache is extended. <paramref name="injected"/> replaces the input embeddings at its masked
    /// positions with given vectors (soft tokens, after any hybrid item embeddings), for every path alike.
    /// </summary>
    public Tensor Hidden(Tensor inputIds, Tensor? attentionMask = null, KvCache? cache = null, InjectedEmbeddings? injected = null)
    {
        using var scope = NewDisposeScope();
        long b = inputIds.shape[0], t = inputIds.shape[1];
        long past = cache?.Length ?? 0;
        var dtype = DType;
        var x = model.embed_tokens.forward(inputIds);
        if (Hybrid is { Active: true } hybrid) x = hybrid.Inject(inputIds, x);
        if (injected is not null) x = injected.Apply(x);
        if (Config.EmbeddingMultiplier != 1.0) x = x.Times(Config.EmbeddingMultiplier); // Granite scales inputs_embeds, injected ones too
        if (DropoutRate > 0 && training) x = nn.functional.dropout(x, DropoutRate, training: true);

        Tensor cos, sin;
        Tensor? mask = null;
        Tensor? stepMask = attentionMask?.to(ScalarType.Bool);
        Tensor? startPositions = cache?.NextPositions;
        bool plain = stepMask is null && past == 0;
        if (plain)
        {
            (cos, sin) = _rope.ForRange(0, t, dtype, x.device);
        }
        else
        {
            stepMask ??= ones(b, t, ScalarType.Bool, device: x.device);
            var start = startPositions ?? zeros(b, ScalarType.Int64, device: x.device);
            var positions = start.unsqueeze(1).Plus(stepMask.to(ScalarType.Int64).cumsum(1)).Plus(-1).maximum(start.unsqueeze(1));
            (cos, sin) = _rope.ForPositions(positions, dtype);
            var keyMask = cache?.KeyMask is { } km ? cat([km, stepMask], 1) : stepMask;            // [B, past+T]
            var causal = ones(t, past + t, ScalarType.Bool, device: x.device).tril(past);          // [T, past+T]
            // A query always sees itself, so a padding query never has an empty row (SDPA would return NaN).
            var self = arange(past + t, device: x.device).unsqueeze(0) == arange(past, past + t, device: x.device).unsqueeze(1);
            mask = (keyMask.unsqueeze(1) & causal.unsqueeze(0)).logical_or(self.unsqueeze(0)).unsqueeze(1);
            if (t == 1 && keyMask.all().item<bool>()) mask = null; // one step, nothing masked: plain attention
            cache?.AdvanceMask(stepMask, start.Plus(stepMask.to(ScalarType.Int64).sum(1)));
        }
        if (plain && cache is not null)
            cache.AdvanceMask(ones(b, t, ScalarType.Bool, device: x.device), full(new long[] { b }, t, ScalarType.Int64, device: x.device));

        var ctx = new AttentionContext(cos, sin, mask, cache);
        foreach (var layer in model.layers)
        {
            var next = layer.Forward(x, ctx);
            x = next;
        }
        return model.norm.forward(x).MoveToOuterDisposeScope();
    }

    /// <summary>Vocabulary logits for hidden states of any leading shape [..., D].</summary>
    public Tensor Logits(Tensor hidden) => nn.functional.linear(hidden, OutputWeight);

    /// <summary>Logits for every position: [B, T, V].</summary>
    public Tensor Forward(Tensor inputIds, Tensor? attentionMask = null, KvCache? cache = null, InjectedEmbeddings? injected = null)
    {
        using var scope = NewDisposeScope();
        return Logits(Hidden(inputIds, attentionMask, cache, injected)).MoveToOuterDisposeScope();
    }

    public KvCache NewCache() => new(Config.NumHiddenLayers);

    /// <summary>Every LoRA-capable projection with its HF module path (e.g. <c>model.layers.0.self_attn.q_proj</c>).</summary>
    public IEnumerable<(string Path, LoraLinear Projection)> Projections() =>
        model.layers.SelectMany((layer, i) => layer.Projections().Select(p => ($"model.layers.{i}.{p.Name}", p.Projection)));

    protected override void Dispose(bool disposing)
    {
        if (disposing) _rope.Dispose();
        base.Dispose(disposing);
    }
}
