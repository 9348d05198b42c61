using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RecAlign.Models.Sequential;

/// <summary>
/// GRU4Rec (Hidasi et al. 2016, "Session-based Recommendations with Recurrent Neural Networks"; Tan et al.'s improved
/// version with dropout on the embeddings) in RecBole's layout: item embedding → dropout → GRU (no bias) → dense back to
/// the embedding size at the last real position, scored against the item table. A GRU reads left to right, so
/// position p never sees later items, and right padding comes after the gathered position.
/// </summary>
public sealed class Gru4Rec : SequentialModel
{
    private readonly Embedding item_embedding;
    private readonly Dropout emb_dropout;
    private readonly GRU gru_layers;
    private readonly Linear dense;

    public Gru4Rec(SequentialModelConfig config, long seed = 0) : base(nameof(Gru4Rec), config)
    {
        item_embedding = nn.Embedding(config.NItems + 1, config.EmbeddingSize, padding_idx: 0);
        emb_dropout = nn.Dropout(config.DropoutProb);
        gru_layers = nn.GRU(config.EmbeddingSize, config.HiddenSize, numLayers: config.NLayers, bias: false, batchFirst: true);
        dense = nn.Linear(config.HiddenSize, config.EmbeddingSize);
        RegisterComponents();
        Init(seed);
    }

    /// <summary>RecBole's GRU4Rec init: Xavier-normal embeddings, Xavier-uniform GRU weights.</summary>
    private void Init(long seed) => InitParameters(seed, (name, p, _, generator) =>
    {
        if (name.EndsWith(".bias")) { p.zero_(); return; }
        long fanOut = p.shape[0], fanIn = p.shape[1];
        if (name.StartsWith("gru_layers"))
        {
            double bound = Math.Sqrt(6.0 / (fanIn + fanOut));
            p.uniform_(-bound, bound, generator);
        }
        else p.normal_(0, name.StartsWith("item_embedding") ? Math.Sqrt(2.0 / (fanIn + fanOut)) : Config.InitializerRange, generator);
    });

    public override Tensor Encode(Tensor items, Tensor lengths)
    {
        using var scope = NewDisposeScope();
        return GatherLast(SequenceStates(items, lengths), lengths).MoveToOuterDisposeScope();
    }

    public override bool HasSequenceStates => true;

    public override int StateSize => Config.EmbeddingSize;

    public override Tensor SequenceStates(Tensor items, Tensor lengths)
    {
        using var scope = NewDisposeScope();
        var (output, hidden) = gru_layers.call(emb_dropout.call(item_embedding.call(items)));
        hidden.Dispose();
        return dense.call(output).MoveToOuterDisposeScope();
    }

    public override Tensor ItemEmbeddings() => item_embedding.weight!.narrow(0, 1, Config.NItems);
}
