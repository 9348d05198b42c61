using RecAlign.Numerics;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RecAlign.Models.Sequential;

/// <summary>
/// BERT4Rec (Sun et al. 2019, "BERT4Rec: Sequential Recommendation with Bidirectional Encoder Representations from
/// Transformer") in RecBole's layout: item + position embeddings → LayerNorm → dropout → bidirectional Transformer
/// layers (<see cref="TransformerEncoder"/>, attention over every real item) → output_ffn → GELU → output_ln; an item's
/// score is that state · its embedding + <c>output_bias</c>. Trained by the cloze task: items of (history + next item)
/// are replaced by the mask token with probability <c>mask_ratio</c> and predicted; the next item is always masked
/// too, which is what inference asks (the history followed by the mask token; the paper adds such samples as well).
/// Embedding row N + 1 is the mask token, so histories keep <c>max_seq_length</c> − 1 items.
/// </summary>
public sealed class Bert4Rec : SequentialModel
{
    private readonly Embedding item_embedding;
    private readonly Embedding position_embedding;
    private readonly TransformerEncoder trm_encoder;
    private readonly LayerNorm LayerNorm;
    private readonly Dropout dropout;
    private readonly Linear output_ffn;
    private readonly LayerNorm output_ln;
    private readonly Parameter output_bias;

    public Bert4Rec(SequentialModelConfig config, long seed = 0) : base(nameof(Bert4Rec), config)
    {
        if (config.MaxSeqLength < 2) throw new ArgumentException("model.max_seq_length must be >= 2 for BERT4Rec (a history item and the mask token)");
        item_embedding = nn.Embedding(config.NItems + 2, config.HiddenSize, padding_idx: 0);
        position_embedding = nn.Embedding(config.MaxSeqLength, config.HiddenSize);
        trm_encoder = new TransformerEncoder(config);
        LayerNorm = nn.LayerNorm(config.HiddenSize, config.LayerNormEps);
        dropout = nn.Dropout(config.HiddenDropoutProb);
        output_ffn = nn.Linear(config.HiddenSize, config.HiddenSize);
        output_ln = nn.LayerNorm(config.HiddenSize, config.LayerNormEps);
        output_bias = nn.Parameter(zeros(config.NItems));
        RegisterComponents();
        InitNormal(seed);
    }

    private long MaskRow => Config.NItems + 1;

    /// <summary>One slot is the mask token's.</summary>
    public override int MaxHistory => Config.MaxSeqLength - 1;

    /// <summary>Output states [B, L, d] of every position of <paramref name="items"/> (rows, 0 = padding), attending
    /// to the first <paramref name="lengths"/>[b] positions of row b in both directions.</summary>
    private Tensor Sequence(Tensor items, Tensor lengths)
    {
        using var scope = NewDisposeScope();
        long l = items.shape[1];
        var x = dropout.call(LayerNorm.call(item_embedding.call(items) + position_embedding.call(arange(l, device: items.device)).unsqueeze(0)));
        var keys = ValidMask(items, lengths.clamp_min(1));                                   // [B, L]
        var mask = keys.unsqueeze(1).expand(-1, l, -1).unsqueeze(1);                        // [B, 1, L, L]
        var h = trm_encoder.Forward(x, mask);
        return output_ln.call(nn.functional.gelu(output_ffn.call(h))).MoveToOuterDisposeScope();
    }

    /// <summary>The history (cut to <see cref="MaxHistory"/>) followed by the mask token; the state is the mask's output.</summary>
    public override Tensor Encode(Tensor items, Tensor lengths)
    {
        using var scope = NewDisposeScope();
        var (withMask, length) = AppendMask(items, lengths);
        var h = Sequence(withMask, length);
        return GatherLast(h, length).MoveToOuterDisposeScope();
    }

    /// <summary>Rows with the mask token written right after each history, and the new lengths.</summary>
    private (Tensor Items, Tensor Lengths) AppendMask(Tensor items, Tensor lengths)
    {
        long b = items.shape[0], width = Math.Min(items.shape[1], MaxHistory);
        if (items.shape[1] > MaxHistory)
        {
            // Keep each row's last MaxHistory items (rows are right-padded, so shift the longer ones left).
            var start = (lengths - MaxHistory).clamp_min(0);
            var index = (arange(MaxHistory, device: items.device).unsqueeze(0) + start.unsqueeze(1)).clamp_max(items.shape[1] - 1);
            items = items.gather(1, index);
            lengths = lengths.clamp_max(MaxHistory);
        }
        var valid = ValidMask(items, lengths);
        var rows = cat([items.MaskedFill(valid.logical_not(), 0), zeros(b, 1, ScalarType.Int64, device: items.device)], 1); // [B, width + 1]
        rows = rows.scatter(1, lengths.unsqueeze(1), full(new long[] { b, 1 }, MaskRow, ScalarType.Int64, device: items.device));
        return (rows, lengths + 1);
    }

    public override Tensor ItemEmbeddings() => item_embedding.weight!.narrow(0, 1, Config.NItems);

    public override Tensor FullSortPredict(Tensor items, Tensor lengths)
    {
        using var scope = NewDisposeScope();
        return (Encode(items, lengths).matmul(ItemEmbeddings().t()) + output_bias).MoveToOuterDisposeScope();
    }

    public override Tensor Predict(Tensor items, Tensor lengths, Tensor candidates)
    {
        using var scope = NewDisposeScope();
        return (base.Predict(items, lengths, candidates) + output_bias.index_select(0, candidates.reshape(-1)).reshape(candidates.shape)).MoveToOuterDisposeScope();
    }

    /// <summary>The cloze loss: cross-entropy over the catalog at every masked position of (history + target).</summary>
    public override Tensor CalculateLoss(Tensor items, Tensor lengths, Tensor targets)
    {
        using var scope = NewDisposeScope();
        var (rows, length) = AppendMask(items, lengths);                     // the target's slot holds the mask token
        var originals = rows.scatter(1, lengths.clamp_max(MaxHistory).unsqueeze(1), (targets + 1).unsqueeze(1));
        var valid = ValidMask(rows, length);
        var masked = rand(rows.shape, device: rows.device).lt(Config.MaskRatio).logical_and(valid)
            .logical_or(rows.eq(MaskRow));                                    // the target is always masked
        var input = originals.MaskedFill(masked, MaskRow);
        var h = Sequence(input, length);                                      // [B, L, d]
        var positions = masked.reshape(-1).nonzero().squeeze(1);
        var states = h.reshape(-1, h.shape[2]).index_select(0, positions);   // [M, d]
        var logits = states.matmul(ItemEmbeddings().t()) + output_bias;
        var labels = originals.reshape(-1).index_select(0, positions) - 1;
        return nn.functional.cross_entropy(logits.to_type(ScalarType.Float32), labels).MoveToOuterDisposeScope();
    }
}
