using RecAlign.Numerics;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RecAlign.Models.Sequential;

/// <summary>
/// DreamRec (Yang et al., NeurIPS 2023, "Generate What You Prefer: Reshaping Sequential Recommendation via Guided
/// Diffusion"): a one-block SASRec-style encoder turns the history into guidance c; a denoiser f(x_t, c, t) learns to
/// recover the next item's embedding e0 from its noised copy x_t (x0-prediction MSE, c replaced by a learned null ∅ with
/// probability <c>cfg_dropout_prob</c>); at inference a sampler walks noise down to the "oracle" embedding
/// x̂ with x̂0 = (1 + w)·f(x, c, t) − w·f(x, ∅, t), and items are ranked by ⟨x̂, E_j⟩. <see cref="Encode"/> returns that
/// generated embedding, so the <see cref="SequentialModel"/> contract (scores = state · item table) holds unchanged.
/// Layout and parameter names as released (<c>Tenc</c> in DreamRec.py), except: item i is row i + 1 (row 0 padding,
/// never ranked; released: the pad row last and ranked), the 1×1 convolutions are linear layers, and sampling runs in
/// eval mode unless <see cref="SequentialModelConfig.SampleDropout"/>.
/// </summary>
public sealed class DreamRec : SequentialModel
{
    private readonly Embedding item_embeddings, none_embedding, positional_embeddings;
    private readonly LayerNorm ln_1, ln_2, ln_3;
    private readonly GuidanceAttention mh_attn;
    private readonly PositionwiseFeedForward feed_forward;
    private readonly TorchSharp.Modules.Sequential step_mlp;
    private readonly TorchSharp.Modules.Sequential diffuser;
    private readonly GaussianDiffusion _diffusion;

    public DreamRec(SequentialModelConfig config, long seed = 0) : base(nameof(DreamRec), config)
    {
        int d = config.HiddenSize;
        if (d % 2 != 0 || d < 4) throw new ArgumentException($"model.hidden_size = {d} is invalid for DreamRec (the step embedding needs an even size >= 4)");
        item_embeddings = nn.Embedding(config.NItems + 1, d);
        none_embedding = nn.Embedding(1, d);
        positional_embeddings = nn.Embedding(config.MaxSeqLength, d);
        ln_1 = nn.LayerNorm(d);
        ln_2 = nn.LayerNorm(d);
        ln_3 = nn.LayerNorm(d);
        mh_attn = new GuidanceAttention(d, config.NHeads);
        feed_forward = new PositionwiseFeedForward(d);
        step_mlp = nn.Sequential(new SinusoidalStepEmbedding(d), nn.Linear(d, 2 * d), nn.GELU(), nn.Linear(2 * d, d));
        diffuser = config.DiffuserType == "mlp1"
            ? nn.Sequential(nn.Linear(3 * d, d))
            : nn.Sequential(nn.Linear(3 * d, 2 * d), nn.GELU(), nn.Linear(2 * d, d));
        _diffusion = new GaussianDiffusion(config.BetaSche, config.Timesteps, config.BetaStart, config.BetaEnd);
        RegisterComponents();
        Init(seed);
    }

    public GaussianDiffusion Diffusion => _diffusion;

    /// <summary>As released: N(0, 1) embedding tables (items, ∅, positions), PyTorch's default uniform(±1/√fan_in) for
    /// linear weights and biases, unit/zero LayerNorms; drawn from one seeded generator.</summary>
    private void Init(long seed) => InitParameters(seed, (name, p, owner, generator) =>
    {
        switch (owner)
        {
            case Embedding: p.normal_(0, 1, generator); break;
            case LayerNorm: if (name.EndsWith(".weight")) p.fill_(1.0); else p.zero_(); break;
            case Linear linear:
                double bound = 1.0 / Math.Sqrt(linear.weight!.shape[1]);
                p.uniform_(-bound, bound, generator);
                break;
        }
    });

    // The padding row stays as drawn: it is masked out of the encoder and never ranked.
    protected override void ZeroPaddingRows() { }

    public override Tensor ItemEmbeddings() => item_embeddings.weight!.narrow(0, 1, Config.NItems);

    /// <summary>The guidance c [B, d]: the encoder's last real position (position 0 for an empty history).</summary>
    public Tensor Guidance(Tensor items, Tensor lengths, bool dropout)
    {
        using var scope = NewDisposeScope();
        long l = items.shape[1];
        if (l > Config.MaxSeqLength) throw new ArgumentException($"sequence width {l} exceeds max_seq_length {Config.MaxSeqLength}");
        var valid = ValidMask(items, lengths);                                                        // [B, L]
        var x = item_embeddings.call(items) + positional_embeddings.call(arange(l, device: items.device)).unsqueeze(0);
        x = nn.functional.dropout(x, Config.HiddenDropoutProb, dropout) * valid.unsqueeze(2).to_type(x.dtype);
        var attended = mh_attn.Forward(ln_1.call(x), x, valid, Config.AttnDropoutProb, dropout);
        var f = feed_forward.Forward(ln_2.call(attended), Config.HiddenDropoutProb, dropout) * valid.unsqueeze(2).to_type(x.dtype);
        return GatherLast(ln_3.call(f), lengths).MoveToOuterDisposeScope();
    }

    /// <summary>The denoiser's x0 prediction f(x_t, c, t) for rows x_t [B, d], guidance c [B, d] and steps t [B].</summary>
    public Tensor Denoise(Tensor xt, Tensor guidance, Tensor t)
    {
        using var scope = NewDisposeScope();
        var step = step_mlp.call(t.to_type(xt.dtype));
        return diffuser.call(cat([xt, guidance, step], 1)).MoveToOuterDisposeScope();
    }

    /// <summary>The guided x0 prediction (1 + w)·f(x, c, t) − w·f(x, ∅, t) at one step t for every row.</summary>
    public Tensor GuidedPrediction(Tensor xt, Tensor guidance, int t)
    {
        using var scope = NewDisposeScope();
        long b = xt.shape[0];
        double w = Config.GuidanceWeight;
        if (w == 0) return Denoise(xt, guidance, full(new long[] { b }, t, dtype: ScalarType.Int64, device: xt.device)).MoveToOuterDisposeScope();
        var steps = full(new long[] { 2 * b }, t, dtype: ScalarType.Int64, device: xt.device);
        var both = Denoise(cat([xt, xt], 0), cat([guidance, Null(b)], 0), steps);         // one call for both passes
        return (both.narrow(0, 0, b) * (1 + w) - both.narrow(0, b, b) * w).MoveToOuterDisposeScope();
    }

    /// <summary>∅ repeated over <paramref name="rows"/> rows.</summary>
    private Tensor Null(long rows) => none_embedding.weight!.expand(rows, -1);

    /// <summary>The generated oracle embedding x̂ [B, d] of each history: <see cref="SequentialModelConfig.Sampler"/> from
    /// seeded noise (<see cref="SequentialModelConfig.SampleSeed"/>), guided by the encoder's c.</summary>
    public override Tensor Encode(Tensor items, Tensor lengths)
    {
        using var scope = NewDisposeScope();
        var guidance = Guidance(items, lengths, dropout: training || Config.SampleDropout);
        return Sample(guidance, Config.Sampler, Config.SamplingSteps).MoveToOuterDisposeScope();
    }

    /// <summary>Samples x̂ from guidance [B, d] with <paramref name="sampler"/> (<c>ddpm</c>: all T ancestral steps;
    /// <c>ddim</c>: <paramref name="steps"/> deterministic steps).</summary>
    public Tensor Sample(Tensor guidance, string sampler, int steps)
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator((ulong)Config.SampleSeed);
        long b = guidance.shape[0], d = guidance.shape[1];
        Tensor Noise() => randn([1, d], generator: generator).to(guidance.device).to_type(guidance.dtype).expand(b, -1);
        var x = Noise();
        if (sampler == "ddpm")
            for (int t = _diffusion.Timesteps - 1; t >= 0; t--)
            {
                using var stepScope = NewDisposeScope();
                x = _diffusion.DdpmStep(GuidedPrediction(x, guidance, t), x, t, t > 0 ? Noise() : null).MoveToOuterDisposeScope();
            }
        else if (sampler == "ddim")
        {
            var walk = _diffusion.DdimSteps(steps);
            for (int k = 0; k < walk.Length; k++)
            {
                using var stepScope = NewDisposeScope();
                x = _diffusion.DdimStep(GuidedPrediction(x, guidance, walk[k]), x, walk[k], k + 1 < walk.Length ? walk[k + 1] : -1).MoveToOuterDisposeScope();
            }
        }
        else throw new ArgumentException($"unknown sampler '{sampler}' (known: ddpm, ddim)", nameof(sampler));
        return x.MoveToOuterDisposeScope();
    }

    /// <summary>x0-prediction MSE of the next items' embeddings: t ~ U{0..T−1}, x_t = √ᾱ_t·e0 + √(1−ᾱ_t)·ε,
    /// L = mean‖e0 − f(x_t, c̃, t)‖², c̃ = ∅ with probability <c>cfg_dropout_prob</c>. Draws (guidance dropout, t, ε, then
    /// the encoder's dropout) come from the global torch generator, which checkpoints save.</summary>
    public override Tensor CalculateLoss(Tensor items, Tensor lengths, Tensor targets)
    {
        using var scope = NewDisposeScope();
        long b = targets.shape[0];
        // Rows of the item table without integer arithmetic on the ids: int64 + scalar intermittently fails in libtorch
        // ("alpha must not be a floating point number"), seen once here after 7,800 steps.
        var e0 = ItemEmbeddings().index_select(0, targets);
        var keep = rand(b, device: e0.device).ge(Config.CfgDropoutProb).unsqueeze(1);
        var t = randint(0, _diffusion.Timesteps, [b], dtype: ScalarType.Int64, device: e0.device);
        var noise = randn_like(e0);
        var guidance = where(keep, Guidance(items, lengths, dropout: training), Null(b));
        var predicted = Denoise(_diffusion.QSample(e0, t, noise), guidance, t);
        return nn.functional.mse_loss(predicted.to_type(ScalarType.Float32), e0.to_type(ScalarType.Float32)).MoveToOuterDisposeScope();
    }

    /// <summary>τ(t): [sin(t·ω); cos(t·ω)] with ω_k = exp(−k·ln 10000/(d/2 − 1)), k &lt; d/2.</summary>
    private sealed class SinusoidalStepEmbedding(int dim) : nn.Module<Tensor, Tensor>(nameof(SinusoidalStepEmbedding))
    {
        public override Tensor forward(Tensor time)
        {
            using var scope = NewDisposeScope();
            int half = dim / 2;
            var frequencies = (arange(half, device: time.device, dtype: ScalarType.Float32) * -(Math.Log(10000) / (half - 1))).exp();
            var angles = time.to_type(ScalarType.Float32).unsqueeze(1) * frequencies.unsqueeze(0);
            return cat([angles.sin(), angles.cos()], 1).to_type(time.dtype).MoveToOuterDisposeScope();
        }
    }
}

/// <summary>The released encoder's attention (Modules_ori.MultiHeadAttention): queries from the normalised input, keys
/// and values from the raw one, scores scaled by √d (the whole width, as released), padding keys and future positions
/// masked with −2³²+1, padding query rows zeroed after the softmax, attention dropout, and the normalised queries added
/// back (the residual).</summary>
public sealed class GuidanceAttention : nn.Module
{
    private readonly Linear linear_q, linear_k, linear_v;
    private readonly int _heads;

    public GuidanceAttention(int hidden, int heads) : base(nameof(GuidanceAttention))
    {
        linear_q = nn.Linear(hidden, hidden);
        linear_k = nn.Linear(hidden, hidden);
        linear_v = nn.Linear(hidden, hidden);
        _heads = heads;
        RegisterComponents();
    }

    /// <param name="valid">bool [B, L]: real items.</param>
    public Tensor Forward(Tensor queries, Tensor keys, Tensor valid, double dropoutProb, bool dropout)
    {
        using var scope = NewDisposeScope();
        long b = queries.shape[0], l = queries.shape[1], d = queries.shape[2], dh = d / _heads;
        Tensor Heads(Tensor x) => x.view(b, l, _heads, dh).transpose(1, 2);                // [B, H, L, dh]
        var q = Heads(linear_q.call(queries));
        var k = Heads(linear_k.call(keys));
        var v = Heads(linear_v.call(keys));
        var scores = q.matmul(k.transpose(2, 3)) / Math.Sqrt(d);                             // [B, H, L, L]
        var causal = ones(l, l, ScalarType.Bool, device: queries.device).tril();
        var allowed = causal.unsqueeze(0).logical_and(valid.unsqueeze(1)).unsqueeze(1);     // [B, 1, L, L]
        scores = scores.MaskedFill(allowed.logical_not(), -4294967295.0);
        var weights = scores.softmax(-1) * valid.view(b, 1, l, 1).to_type(scores.dtype);
        weights = nn.functional.dropout(weights, dropoutProb, dropout);
        var output = weights.matmul(v).transpose(1, 2).reshape(b, l, d);
        return (output + queries).MoveToOuterDisposeScope();
    }
}

/// <summary>The released position-wise feed-forward block: LayerNorm(x + dropout(W2·ReLU(W1·x))), W1 and W2 d → d
/// (1×1 convolutions there, linear layers here).</summary>
public sealed class PositionwiseFeedForward : nn.Module
{
    private readonly Linear w_1, w_2;
    private readonly LayerNorm layer_norm;

    public PositionwiseFeedForward(int hidden) : base(nameof(PositionwiseFeedForward))
    {
        w_1 = nn.Linear(hidden, hidden);
        w_2 = nn.Linear(hidden, hidden);
        layer_norm = nn.LayerNorm(hidden);
        RegisterComponents();
    }

    public Tensor Forward(Tensor x, double dropoutProb, bool dropout)
    {
        using var scope = NewDisposeScope();
        var inner = nn.functional.dropout(w_2.call(nn.functional.relu(w_1.call(x))), dropoutProb, dropout);
        return layer_norm.call(x + inner).MoveToOuterDisposeScope();
    }
}
