using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RecAlign.Models.Sequential;

/// <summary>
/// BPR-MF (Rendle et al. 2009, "BPR: Bayesian Personalized Ranking from Implicit Feedback"): score(u, i) = p_u · q_i,
/// trained with the BPR loss on one uniform negative per example. The user factor is folded in from the history,
/// p_u = mean of the history items' factors (<c>history_embedding</c>; FISM, Kabbur et al. 2013), instead of a
/// per-user table: the sequential protocol meets users unseen in training, and the contract passes histories, not
/// user ids. Order-free by construction: the non-sequential baseline among the sequential ones.
/// </summary>
public sealed class BprMf : SequentialModel
{
    private readonly Embedding history_embedding;
    private readonly Embedding item_embedding;

    public BprMf(SequentialModelConfig config, long seed = 0) : base(nameof(BprMf), config)
    {
        history_embedding = nn.Embedding(config.NItems + 1, config.EmbeddingSize, padding_idx: 0);
        item_embedding = nn.Embedding(config.NItems + 1, config.EmbeddingSize, padding_idx: 0);
        RegisterComponents();
        // RecBole's BPR: Xavier-normal embeddings.
        InitParameters(seed, (_, p, _, generator) => p.normal_(0, Math.Sqrt(2.0 / (p.shape[0] + p.shape[1])), generator));
    }

    public override Tensor Encode(Tensor items, Tensor lengths)
    {
        using var scope = NewDisposeScope();
        var valid = ValidMask(items, lengths).unsqueeze(2).to_type(history_embedding.weight!.dtype);
        var sum = (history_embedding.call(items) * valid).sum(1);
        return (sum / lengths.clamp_min(1).unsqueeze(1).to_type(sum.dtype)).MoveToOuterDisposeScope();
    }

    public override Tensor ItemEmbeddings() => item_embedding.weight!.narrow(0, 1, Config.NItems);
}
