using RecAlign.Numerics;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RecAlign.Models.Sequential;

/// <summary>
/// SASRec (Kang &amp; McAuley 2018, "Self-Attentive Sequential Recommendation") in RecBole's layout and parameter names:
/// item + learned position embeddings → LayerNorm → dropout → <c>n_layers</c> post-LN Transformer layers (causal
/// attention that also ignores padding keys) → the last real position's state, scored against the item table (shared
/// input/output embeddings).
/// </summary>
public sealed class SasRec : SequentialModel
{
    private readonly Embedding item_embedding;
    private readonly Embedding position_embedding;
    private readonly TransformerEncoder trm_encoder;
    private readonly LayerNorm LayerNorm;
    private readonly Dropout dropout;

    public SasRec(SequentialModelConfig config, long seed = 0) : base(nameof(SasRec), config)
    {
        item_embedding = nn.Embedding(config.NItems + 1, config.HiddenSize, padding_idx: 0);
        position_embedding = nn.Embedding(config.MaxSeqLength, config.HiddenSize);
        trm_encoder = new TransformerEncoder(config);
        LayerNorm = nn.LayerNorm(config.HiddenSize, config.LayerNormEps);
        dropout = nn.Dropout(config.HiddenDropoutProb);
        RegisterComponents();
        InitNormal(seed);
    }

    /// <summary>Hidden states of every position [B, L, d]; position p depends only on the items at 0..p.</summary>
    public Tensor Sequence(Tensor items, Tensor lengths)
    {
        using var scope = NewDisposeScope();
        long l = items.shape[1];
        if (l > Config.MaxSeqLength) throw new ArgumentException($"sequence width {l} exceeds max_seq_length {Config.MaxSeqLength}");
        var positions = arange(l, device: items.device);
        var x = dropout.call(LayerNorm.call(item_embedding.call(items).Plus(position_embedding.call(positions).unsqueeze(0))));
        // Keys: real items (an empty history keeps position 0, so no query row is empty), and nothing ahead.
        var keys = ValidMask(items, lengths.clamp_min(1));                                   // [B, L]
        var causal = ones(l, l, ScalarType.Bool, device: items.device).tril();              // [L, L]
        var mask = causal.unsqueeze(0).logical_and(keys.unsqueeze(1)).unsqueeze(1);        // [B, 1, L, L]
        return trm_encoder.Forward(x, mask).MoveToOuterDisposeScope();
    }

    public override Tensor Encode(Tensor items, Tensor lengths)
    {
        using var scope = NewDisposeScope();
        return GatherLast(Sequence(items, lengths), lengths).MoveToOuterDisposeScope();
    }

    public override bool HasSequenceStates => true;
    public override Tensor? SequenceStates(Tensor items, Tensor lengths) => Sequence(items, lengths);

    public override Tensor ItemEmbeddings() => item_embedding.weight!.narrow(0, 1, Config.NItems);
}

/// <summary>RecBole's <c>TransformerEncoder</c>: a stack of <see cref="TransformerLayer"/> under <c>layer.N</c>.</summary>
public sealed class TransformerEncoder : nn.Module
{
    private readonly ModuleList<TransformerLayer> layer;

    public TransformerEncoder(SequentialModelConfig config) : base(nameof(TransformerEncoder))
    {
        layer = new ModuleList<TransformerLayer>(Enumerable.Range(0, config.NLayers).Select(_ => new TransformerLayer(config)).ToArray());
        RegisterComponents();
    }

    /// <param name="mask">bool [B, 1, L, L], true where a query may attend to a key.</param>
    public Tensor Forward(Tensor x, Tensor mask)
    {
        foreach (var l in layer) x = l.Forward(x, mask);
        return x;
    }
}

/// <summary>RecBole's <c>TransformerLayer</c>: post-LN multi-head attention, then a post-LN feed-forward block.</summary>
public sealed class TransformerLayer : nn.Module
{
    private readonly MultiHeadAttention multi_head_attention;
    private readonly FeedForward feed_forward;

    public TransformerLayer(SequentialModelConfig config) : base(nameof(TransformerLayer))
    {
        multi_head_attention = new MultiHeadAttention(config);
        feed_forward = new FeedForward(config);
        RegisterComponents();
    }

    public Tensor Forward(Tensor x, Tensor mask) => feed_forward.Forward(multi_head_attention.Forward(x, mask));
}

/// <summary>RecBole's <c>MultiHeadAttention</c>: query/key/value projections, scaled dot-product attention (SDPA) with
/// attention dropout, output projection <c>dense</c>, dropout and LayerNorm(x + attention).</summary>
public sealed class MultiHeadAttention : nn.Module
{
    private readonly Linear query, key, value, dense;
    private readonly LayerNorm LayerNorm;
    private readonly Dropout out_dropout;
    private readonly int _heads;
    private readonly double _attnDropout;

    public MultiHeadAttention(SequentialModelConfig config) : base(nameof(MultiHeadAttention))
    {
        query = nn.Linear(config.HiddenSize, config.HiddenSize);
        key = nn.Linear(config.HiddenSize, config.HiddenSize);
        value = nn.Linear(config.HiddenSize, config.HiddenSize);
        dense = nn.Linear(config.HiddenSize, config.HiddenSize);
        LayerNorm = nn.LayerNorm(config.HiddenSize, config.LayerNormEps);
        out_dropout = nn.Dropout(config.HiddenDropoutProb);
        _heads = config.NHeads;
        _attnDropout = config.AttnDropoutProb;
        RegisterComponents();
    }

    public Tensor Forward(Tensor x, Tensor mask)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], l = x.shape[1], d = x.shape[2], dh = d / _heads;
        Tensor Heads(Linear proj) => proj.call(x).view(b, l, _heads, dh).transpose(1, 2);
        var context = nn.functional.scaled_dot_product_attention(Heads(query), Heads(key), Heads(value), mask, training ? _attnDropout : 0.0);
        var hidden = out_dropout.call(dense.call(context.transpose(1, 2).reshape(b, l, d)));
        return LayerNorm.call(hidden.Plus(x)).MoveToOuterDisposeScope();
    }
}

/// <summary>RecBole's <c>FeedForward</c>: dense_1 → activation → dense_2 → dropout → LayerNorm(x + ·).</summary>
public sealed class FeedForward : nn.Module
{
    private readonly Linear dense_1, dense_2;
    private readonly LayerNorm LayerNorm;
    private readonly Dropout dropout;
    private readonly string _act;

    public FeedForward(SequentialModelConfig config) : base(nameof(FeedForward))
    {
        dense_1 = nn.Linear(config.HiddenSize, config.InnerSize);
        dense_2 = nn.Linear(config.InnerSize, config.HiddenSize);
        LayerNorm = nn.LayerNorm(config.HiddenSize, config.LayerNormEps);
        dropout = nn.Dropout(config.HiddenDropoutProb);
        _act = config.HiddenAct;
        RegisterComponents();
    }

    public Tensor Forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = Activations.Apply(_act, dense_1.call(x));
        return LayerNorm.call(dropout.call(dense_2.call(h)).Plus(x)).MoveToOuterDisposeScope();
    }
}
