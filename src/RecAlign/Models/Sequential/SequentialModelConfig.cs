using System.Text.Json.Serialization;

namespace RecAlign.Models.Sequential;

/// <summary>
/// A classic sequential recommender's hyper-parameters under RecBole's names (<c>hidden_size</c>, <c>n_layers</c>,
/// <c>inner_size</c>, <c>hidden_dropout_prob</c>, <c>loss_type</c>...), stored as the model directory's
/// <c>config.json</c>. <see cref="For"/> gives each model's defaults (RecBole's, or the paper's where the issue or paper
/// says otherwise); fields a model does not use are ignored by it.
/// </summary>
public sealed record SequentialModelConfig
{
    /// <summary>RecBole's model name: <c>SASRec</c>, <c>GRU4Rec</c>, <c>Caser</c>, <c>BPR</c>, <c>BERT4Rec</c>, or <c>DreamRec</c>.</summary>
    public string ModelType { get; init; } = "SASRec";
    /// <summary>Catalog size N (set from the training data; item id i is embedding row i + 1, row 0 is padding).</summary>
    public int NItems { get; init; }
    /// <summary>RecBole's MAX_ITEM_LIST_LENGTH: histories are cut to their last this-many items.</summary>
    public int MaxSeqLength { get; init; } = 50;
    public int HiddenSize { get; init; } = 64;
    public int EmbeddingSize { get; init; } = 64;
    public int NLayers { get; init; } = 2;
    public int NHeads { get; init; } = 2;
    public int InnerSize { get; init; } = 256;
    public double HiddenDropoutProb { get; init; } = 0.2;
    public double AttnDropoutProb { get; init; } = 0.2;
    /// <summary>Dropout of GRU4Rec's embeddings and Caser's convolution output.</summary>
    public double DropoutProb { get; init; } = 0.3;
    public string HiddenAct { get; init; } = "gelu";
    public double LayerNormEps { get; init; } = 1e-12;
    public double InitializerRange { get; init; } = 0.02;
    /// <summary>Caser: vertical filters, and horizontal filters per height 1..max_seq_length.</summary>
    public int Nv { get; init; } = 4;
    public int Nh { get; init; } = 8;
    /// <summary><c>CE</c> (softmax over the whole catalog), <c>BPR</c> (one uniform negative) or <c>sampled</c>
    /// (softmax over the target and <see cref="NumNegatives"/> uniform negatives, for large catalogs).</summary>
    public string LossType { get; init; } = "CE";
    public int NumNegatives { get; init; } = 100;
    /// <summary>BERT4Rec: the share of items replaced by the mask token in training (the cloze task).</summary>
    public double MaskRatio { get; init; } = 0.2;

    // DreamRec (guided diffusion); the released script's flag names in brackets.
    /// <summary>Diffusion steps T [<c>--timesteps</c>].</summary>
    public int Timesteps { get; init; } = 500;
    /// <summary>Noise schedule: <c>linear</c>, <c>cosine</c> or <c>exp</c> [<c>--beta_sche</c>].</summary>
    public string BetaSche { get; init; } = "linear";
    /// <summary>The linear schedule's first and last β (the others ignore them, as released).</summary>
    public double BetaStart { get; init; } = 1e-4;
    public double BetaEnd { get; init; } = 0.02;
    /// <summary>Classifier-free guidance weight w: x̂0 = (1 + w)·f(x, c, t) − w·f(x, ∅, t) [<c>--w</c>].</summary>
    public double GuidanceWeight { get; init; } = 4;
    /// <summary>Probability that training replaces the guidance by the learned null vector ∅ [<c>--p</c>].</summary>
    public double CfgDropoutProb { get; init; } = 0.1;
    /// <summary>Denoiser: <c>mlp1</c> (one linear layer over [x_t; c; τ(t)], every released run) or <c>mlp2</c>
    /// (linear 3d → 2d, GELU, linear 2d → d) [<c>--diffuser_type</c>].</summary>
    public string DiffuserType { get; init; } = "mlp1";
    /// <summary><c>ddpm</c> (ancestral, all T steps, as released) or <c>ddim</c> (deterministic, <see cref="SamplingSteps"/> steps).</summary>
    public string Sampler { get; init; } = "ddpm";
    /// <summary>DDIM's steps (at most T).</summary>
    public int SamplingSteps { get; init; } = 50;
    /// <summary>Keep dropout on in the guidance encoder while sampling, as the released code does (it never calls
    /// <c>model.eval()</c>); off samples in eval mode.</summary>
    public bool SampleDropout { get; init; }
    /// <summary>Seed of the sampling noise. Every user starts from the same seeded noise (one draw broadcast over the
    /// batch), so a user's ranking does not depend on the batch it is scored in.</summary>
    public long SampleSeed { get; init; }

    [JsonIgnore] public string Kind => ModelType.ToLowerInvariant();

    /// <summary>Model names the CLI takes (lower case) and their RecBole spelling.</summary>
    public static readonly IReadOnlyDictionary<string, string> Models = new Dictionary<string, string>
    {
        ["sasrec"] = "SASRec", ["gru4rec"] = "GRU4Rec", ["caser"] = "Caser", ["bprmf"] = "BPR", ["bert4rec"] = "BERT4Rec",
        ["dreamrec"] = "DreamRec",
    };

    /// <summary>The defaults of <paramref name="model"/> (<c>sasrec</c>, <c>gru4rec</c>, <c>caser</c>, <c>bprmf</c>; RecBole
    /// spellings work too).</summary>
    public static SequentialModelConfig For(string model) => Canonical(model) switch
    {
        // SASRec (Kang & McAuley 2018) with RecBole's layout; dropout 0.2 as the paper uses on dense data.
        "SASRec" => new SequentialModelConfig { ModelType = "SASRec" },
        // GRU4Rec (Hidasi et al. 2016; RecBole's GRU4Rec): embedding 64, hidden 128, one layer, dropout 0.3.
        "GRU4Rec" => new SequentialModelConfig { ModelType = "GRU4Rec", EmbeddingSize = 64, HiddenSize = 128, NLayers = 1, DropoutProb = 0.3 },
        // Caser (Tang & Wang 2018): window L = 5, nv = 4, nh = 8 per height, dropout 0.4.
        "Caser" => new SequentialModelConfig { ModelType = "Caser", EmbeddingSize = 64, MaxSeqLength = 5, Nv = 4, Nh = 8, DropoutProb = 0.4 },
        // BPR-MF (Rendle et al. 2009) with the user factor folded in from the history.
        "BPR" => new SequentialModelConfig { ModelType = "BPR", EmbeddingSize = 64, LossType = "BPR" },
        // BERT4Rec (Sun et al. 2019; RecBole's defaults): 2 layers, 2 heads, hidden 64, inner 256, mask ratio 0.2.
        "BERT4Rec" => new SequentialModelConfig { ModelType = "BERT4Rec", MaskRatio = 0.2 },
        // DreamRec (Yang et al. 2023) as released for zhihu: d = 64, 10 history items, a one-block one-head encoder, dropout
        // 0.1, T = 500 linear, w = 4, mlp1, guidance dropout 0.1; x0-prediction MSE.
        "DreamRec" => new SequentialModelConfig
        {
            ModelType = "DreamRec", HiddenSize = 64, EmbeddingSize = 64, MaxSeqLength = 10, NLayers = 1, NHeads = 1,
            HiddenDropoutProb = 0.1, AttnDropoutProb = 0.1, LossType = "x0_mse",
        },
        _ => throw new ArgumentException($"unknown sequential model '{model}' (known: {string.Join(", ", Models.Keys)})"),
    };

    /// <summary>RecBole's spelling of a model name given in any case or by its CLI name.</summary>
    public static string Canonical(string model) =>
        Models.TryGetValue(model.ToLowerInvariant(), out var name) ? name
        : Models.Values.FirstOrDefault(v => string.Equals(v, model, StringComparison.OrdinalIgnoreCase))
          ?? throw new ArgumentException($"unknown sequential model '{model}' (known: {string.Join(", ", Models.Keys)})");

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid field.</summary>
    public SequentialModelConfig Validate()
    {
        static void Check(bool ok, string field, object value, string rule)
        {
            if (!ok) throw new ArgumentException($"model.{field} = {value} is invalid ({rule})");
        }
        Canonical(ModelType);
        Check(NItems >= 0, "n_items", NItems, "must be >= 0");
        Check(MaxSeqLength is >= 1 and <= 4096, "max_seq_length", MaxSeqLength, "must be in [1, 4096]");
        Check(HiddenSize is >= 1 and <= 65536, "hidden_size", HiddenSize, "must be in [1, 65536]");
        Check(EmbeddingSize is >= 1 and <= 65536, "embedding_size", EmbeddingSize, "must be in [1, 65536]");
        Check(NLayers is >= 1 and <= 64, "n_layers", NLayers, "must be in [1, 64]");
        Check(NHeads >= 1 && HiddenSize % NHeads == 0, "n_heads", NHeads, $"must be >= 1 and divide hidden_size ({HiddenSize})");
        Check(InnerSize is >= 1 and <= 1 << 20, "inner_size", InnerSize, "must be in [1, 2^20]");
        foreach (var (name, p) in new[] { ("hidden_dropout_prob", HiddenDropoutProb), ("attn_dropout_prob", AttnDropoutProb), ("dropout_prob", DropoutProb) })
            Check(p >= 0 && p < 1, name, p, "must be in [0, 1)");
        Check(HiddenAct is "gelu" or "relu" or "swish" or "tanh" or "sigmoid", "hidden_act", HiddenAct, "must be gelu, relu, swish, tanh or sigmoid");
        Check(LayerNormEps > 0 && LayerNormEps < 1, "layer_norm_eps", LayerNormEps, "must be in (0, 1)");
        Check(InitializerRange > 0 && InitializerRange < 10, "initializer_range", InitializerRange, "must be in (0, 10)");
        Check(Nv >= 0 && Nh >= 0 && Nv + Nh > 0, "nv", $"{Nv}, nh = {Nh}", "must be >= 0 with at least one filter");
        bool diffusion = Canonical(ModelType) == "DreamRec";
        if (diffusion) Check(LossType == "x0_mse", "loss_type", LossType, "DreamRec trains by x0-prediction MSE: x0_mse");
        else Check(LossType is "CE" or "BPR" or "sampled", "loss_type", LossType, "must be CE, BPR or sampled");
        Check(NumNegatives >= 1, "num_negatives", NumNegatives, "must be >= 1");
        Check(MaskRatio > 0 && MaskRatio < 1, "mask_ratio", MaskRatio, "must be in (0, 1)");
        Check(Timesteps is >= 1 and <= 100_000, "timesteps", Timesteps, "must be in [1, 100000]");
        Check(BetaSche is "linear" or "cosine" or "exp", "beta_sche", BetaSche, "must be linear, cosine or exp");
        Check(BetaStart > 0 && BetaEnd < 1 && BetaStart <= BetaEnd, "beta_start", $"{BetaStart}, beta_end = {BetaEnd}", "must satisfy 0 < beta_start <= beta_end < 1");
        Check(double.IsFinite(GuidanceWeight) && GuidanceWeight >= 0, "guidance_weight", GuidanceWeight, "must be >= 0");
        Check(CfgDropoutProb >= 0 && CfgDropoutProb < 1, "cfg_dropout_prob", CfgDropoutProb, "must be in [0, 1)");
        Check(DiffuserType is "mlp1" or "mlp2", "diffuser_type", DiffuserType, "must be mlp1 or mlp2");
        Check(Sampler is "ddpm" or "ddim", "sampler", Sampler, "must be ddpm or ddim");
        Check(SamplingSteps >= 1 && (Sampler != "ddim" || SamplingSteps <= Timesteps), "sampling_steps", SamplingSteps, $"must be in [1, timesteps = {Timesteps}] for DDIM");
        return this;
    }
}
