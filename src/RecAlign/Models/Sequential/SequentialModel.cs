using RecAlign.Numerics;
using RecAlign.Models.Sequential.Losses;
using TorchSharp;
using static TorchSharp.torch;

namespace RecAlign.Models.Sequential;

/// <summary>RecBole's <c>hidden_act</c> names.</summary>
internal static class Activations
{
    public static Tensor Apply(string name, Tensor x) => name switch
    {
        "relu" => nn.functional.relu(x),
        "swish" => nn.functional.silu(x),
        "tanh" => x.tanh(),
        "sigmoid" => x.sigmoid(),
        _ => nn.functional.gelu(x),
    };
}

/// <summary>
/// A classic sequential recommender as a TorchSharp module, shaped like RecBole's <c>SequentialRecommender</c>:
/// <see cref="Encode"/> (forward: histories → user states [B, d]), <see cref="ItemEmbeddings"/> ([N, d], catalog
/// order), <see cref="Predict"/> (given candidates), <see cref="FullSortPredict"/> (whole catalog) and
/// <see cref="CalculateLoss"/> (CE, BPR or sampled softmax per <see cref="SequentialModelConfig.LossType"/>).
/// Inputs are <see cref="SequenceBatch"/> tensors: rows i + 1 for item i, right-padded with 0.
/// </summary>
public abstract class SequentialModel : nn.Module
{
    protected SequentialModel(string name, SequentialModelConfig config) : base(name)
    {
        Config = config.Validate();
        if (config.NItems < 1) throw new ArgumentException("model.n_items must be >= 1 to build a model");
    }

    public SequentialModelConfig Config { get; }
    public int ItemCount => Config.NItems;
    /// <summary>History items the model reads (the last ones): <c>max_seq_length</c>, or fewer where the model needs slots
    /// of its own (BERT4Rec's mask token).</summary>
    public virtual int MaxHistory => Config.MaxSeqLength;
    public Device Device => parameters().First().device;

    /// <summary>User states [B, d] after each history; depends only on the first <paramref name="lengths"/>[b] items of
    /// row b (no look-ahead, no effect of padding).</summary>
    public abstract Tensor Encode(Tensor items, Tensor lengths);

    /// <summary>States [B, L, d] of every position, position p reading only items 0..p, for models that have one per
    /// position (SASRec, GRU4Rec): one forward then trains every next item of a sequence (the SASRec paper's training).
    /// Null for the others (Caser's window, BPR-MF's mean, BERT4Rec's bidirectional encoder).</summary>
    public virtual Tensor? SequenceStates(Tensor items, Tensor lengths) => null;

    /// <summary>True when <see cref="SequenceStates"/> gives one causal state per position.</summary>
    public virtual bool HasSequenceStates => false;

    /// <summary>The width of <see cref="SequenceStates"/>' vectors (GRU4Rec projects its GRU's hidden size back to its
    /// embedding size).</summary>
    public virtual int StateSize => Config.HiddenSize;

    /// <summary>The items' output representations [N, d] in catalog order (the padding row left out).</summary>
    public abstract Tensor ItemEmbeddings();

    /// <summary>Scores [B, N] of every catalog item (RecBole's <c>full_sort_predict</c>).</summary>
    public virtual Tensor FullSortPredict(Tensor items, Tensor lengths)
    {
        using var scope = NewDisposeScope();
        return Encode(items, lengths).matmul(ItemEmbeddings().t()).MoveToOuterDisposeScope();
    }

    /// <summary>Scores [B, C] of candidate item ids [B, C] (RecBole's <c>predict</c>, for C candidates at once).</summary>
    public virtual Tensor Predict(Tensor items, Tensor lengths, Tensor candidates)
    {
        using var scope = NewDisposeScope();
        var state = Encode(items, lengths);                                  // [B, d]
        var emb = ItemEmbeddings().index_select(0, candidates.reshape(-1))   // [B·C, d]
            .reshape(candidates.shape[0], candidates.shape[1], -1);
        return emb.matmul(state.unsqueeze(2)).squeeze(2).MoveToOuterDisposeScope();
    }

    /// <summary>The training loss for next items <paramref name="targets"/> (catalog ids, int64 [B]). Negatives for BPR
    /// and sampled softmax come from the global torch generator, which checkpoints save and resume restores.</summary>
    public virtual Tensor CalculateLoss(Tensor items, Tensor lengths, Tensor targets)
    {
        using var scope = NewDisposeScope();
        return LossFromStates(Encode(items, lengths), targets).MoveToOuterDisposeScope();
    }

    /// <summary>The training loss of the next item at every position: <paramref name="targets"/> int64 [B, L], the
    /// catalog id that follows position p, or −1 where no loss is taken (padding, or positions another window trains).</summary>
    public Tensor CalculateSequenceLoss(Tensor items, Tensor lengths, Tensor targets)
    {
        using var scope = NewDisposeScope();
        var states = SequenceStates(items, lengths) ?? throw new NotSupportedException($"{Config.ModelType} has no per-position states; train it on prefixes");
        var positions = targets.reshape(-1).ge(0).nonzero().squeeze(1);
        var selected = states.reshape(-1, states.shape[2]).index_select(0, positions);
        return LossFromStates(selected, targets.reshape(-1).index_select(0, positions)).MoveToOuterDisposeScope();
    }

    /// <summary><see cref="SequentialModelConfig.LossType"/> over user states [M, d] and their next items [M].</summary>
    protected virtual Tensor LossFromStates(Tensor state, Tensor targets)
    {
        using var scope = NewDisposeScope();
        var table = ItemEmbeddings();
        Tensor loss;
        switch (Config.LossType)
        {
            case "CE":
                loss = nn.functional.cross_entropy(state.matmul(table.t()).to_type(ScalarType.Float32), targets);
                break;
            case "BPR":
            {
                var positive = (state * table.index_select(0, targets)).sum(1);
                var negatives = UniformOthers(targets, 1).squeeze(1);
                var negative = (state * table.index_select(0, negatives)).sum(1);
                loss = BprLoss.Compute(positive.to_type(ScalarType.Float32), negative.to_type(ScalarType.Float32));
                break;
            }
            default:
            {
                int k = Config.NumNegatives;
                var samples = randint(0, ItemCount, [targets.shape[0], k], dtype: ScalarType.Int64, device: targets.device);
                var positive = (state * table.index_select(0, targets)).sum(1);
                var negative = table.index_select(0, samples.reshape(-1)).reshape(targets.shape[0], k, -1).matmul(state.unsqueeze(2)).squeeze(2);
                loss = SampledSoftmaxLoss.Compute(positive.to_type(ScalarType.Float32), negative.to_type(ScalarType.Float32), samples.eq(targets.unsqueeze(1)));
                break;
            }
        }
        return loss.MoveToOuterDisposeScope();
    }

    /// <summary>[B, k] item ids drawn uniformly from the catalog minus each row's target.</summary>
    protected Tensor UniformOthers(Tensor targets, int k)
    {
        using var scope = NewDisposeScope();
        // In float64: exact for any catalog size.
        var offset = rand([targets.shape[0], k], dtype: ScalarType.Float64, device: targets.device).Times(ItemCount - 1).floor().Plus(1.0);
        using var count = ((double)ItemCount).ToScalar();
        var ids = targets.to_type(ScalarType.Float64).unsqueeze(1).Plus(offset).remainder(count);
        return ids.to_type(ScalarType.Int64).MoveToOuterDisposeScope();
    }

    /// <summary>The last real position's vector of <paramref name="sequence"/> [B, L, d] (position 0 for an empty history).</summary>
    protected static Tensor GatherLast(Tensor sequence, Tensor lengths)
    {
        var index = lengths.Plus(-1L).ClampMin(0).view(-1, 1, 1).expand(-1, 1, sequence.shape[2]);
        return sequence.gather(1, index).squeeze(1);
    }

    /// <summary>[B, L] true at real items (positions below the length).</summary>
    protected static Tensor ValidMask(Tensor items, Tensor lengths) =>
        arange(items.shape[1], device: items.device).unsqueeze(0).lt(lengths.unsqueeze(1));

    /// <summary>RecBole's <c>_init_weights</c>: N(0, initializer_range) for linear and embedding weights, zero biases, unit
    /// LayerNorm weights; the padding row zero. Seeded through the tensor methods (nn.init ignores generators here).</summary>
    protected void InitNormal(long seed) =>
        // By the owning module's type, as RecBole's _init_weights (isinstance checks; a name test would miss output_ln).
        InitParameters(seed, (name, p, owner, generator) =>
        {
            bool isWeight = name.EndsWith(".weight");
            switch (owner)
            {
                case TorchSharp.Modules.LayerNorm: if (isWeight) p.fill_(1.0); else p.zero_(); break;
                case TorchSharp.Modules.Linear: if (isWeight) p.normal_(0, Config.InitializerRange, generator); else p.zero_(); break;
                case TorchSharp.Modules.Embedding: p.normal_(0, Config.InitializerRange, generator); break;
                default: break; // e.g. BERT4Rec's output_bias: zero from construction
            }
        });

    /// <summary>Every model's initialisation frame: <paramref name="init"/>(name, parameter, owning module, generator) for
    /// each parameter in order, without gradients, from one generator seeded with <paramref name="seed"/> (the tensor
    /// methods honour it; nn.init ignores generators here); then the padding rows are zeroed.</summary>
    protected void InitParameters(long seed, Action<string, TorchSharp.Modules.Parameter, nn.Module, Generator> init)
    {
        using var generator = new Generator((ulong)seed);
        using (no_grad())
        {
            var owners = named_modules().ToDictionary(m => m.name, m => m.module);
            foreach (var (name, p) in named_parameters())
            {
                int dot = name.LastIndexOf('.');
                init(name, p, dot < 0 ? this : owners[name[..dot]], generator);
            }
        }
        ZeroPaddingRows();
    }

    /// <summary>Zeroes row 0 (padding) of every item table.</summary>
    protected virtual void ZeroPaddingRows()
    {
        using var _ = no_grad();
        foreach (var (name, p) in named_parameters())
            if (name.EndsWith("item_embedding.weight") || name.EndsWith("history_embedding.weight")) p[0].zero_();
    }

    /// <summary>A freshly initialised model of <paramref name="config"/>'s kind.</summary>
    public static SequentialModel Create(SequentialModelConfig config, long seed) => SequentialModelConfig.Canonical(config.ModelType) switch
    {
        "SASRec" => new SasRec(config, seed),
        "GRU4Rec" => new Gru4Rec(config, seed),
        "Caser" => new Caser(config, seed),
        "BPR" => new BprMf(config, seed),
        "BERT4Rec" => new Bert4Rec(config, seed),
        "DreamRec" => new DreamRec(config, seed),
        var other => throw new ArgumentException($"unknown sequential model '{other}'"),
    };
}
