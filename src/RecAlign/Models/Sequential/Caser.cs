using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RecAlign.Models.Sequential;

/// <summary>
/// Caser (Tang &amp; Wang 2018, "Personalized Top-N Sequential Recommendation via Convolutional Sequence Embedding") in
/// RecBole's layout, over the last L = <c>max_seq_length</c> items as an L × d image: <c>nv</c> vertical filters (L × 1)
/// and <c>nh</c> horizontal filters per height h = 1..L (h × d, ReLU, max-pooled over time) → dropout → fc1 (ReLU) →
/// fc2 (ReLU) → the user state. RecBole's Caser also concatenates a user embedding before fc2; it is left out here,
/// because the sequential protocol meets users unseen in training (LastFM's validation users) and the contract passes
/// histories, not user ids. Positions past a row's length are zeroed, so items there never leak in.
/// </summary>
public sealed class Caser : SequentialModel
{
    private readonly Embedding item_embedding;
    private readonly Conv2d? conv_v;
    private readonly ModuleList<Conv2d> conv_h;
    private readonly Linear fc1, fc2;
    private readonly Dropout dropout;

    public Caser(SequentialModelConfig config, long seed = 0) : base(nameof(Caser), config)
    {
        int l = config.MaxSeqLength, d = config.EmbeddingSize;
        item_embedding = nn.Embedding(config.NItems + 1, d, padding_idx: 0);
        conv_v = config.Nv > 0 ? nn.Conv2d(1, config.Nv, (l, 1)) : null;
        conv_h = new ModuleList<Conv2d>(config.Nh > 0 ? Enumerable.Range(1, l).Select(h => nn.Conv2d(1, config.Nh, (h, d))).ToArray() : []);
        fc1 = nn.Linear((long)config.Nv * d + (long)config.Nh * l, d);
        fc2 = nn.Linear(d, d);
        dropout = nn.Dropout(config.DropoutProb);
        RegisterComponents();
        Init(seed);
    }

    /// <summary>RecBole's Caser init: N(0, 1/d) embeddings; Xavier-normal linear weights, zero biases; convolutions
    /// keep PyTorch's default (Kaiming-uniform), drawn here from the same seeded generator.</summary>
    private void Init(long seed) => InitParameters(seed, (name, p, owner, generator) =>
    {
        if (name.StartsWith("item_embedding")) p.normal_(0, 1.0 / Config.EmbeddingSize, generator);
        else if (name.StartsWith("fc") && name.EndsWith(".weight")) p.normal_(0, Math.Sqrt(2.0 / (p.shape[0] + p.shape[1])), generator);
        else if (name.StartsWith("fc")) p.zero_();
        else
        {
            var weight = ((Conv2d)owner).weight!; // weight and bias both take the bound of the convolution's fan-in
            double bound = 1.0 / Math.Sqrt(weight.shape[1] * weight.shape[2] * weight.shape[3]);
            p.uniform_(-bound, bound, generator);
        }
    });

    public override Tensor Encode(Tensor items, Tensor lengths)
    {
        using var scope = NewDisposeScope();
        int l = Config.MaxSeqLength;
        if (items.shape[1] > l) throw new ArgumentException($"sequence width {items.shape[1]} exceeds max_seq_length {l}");
        if (items.shape[1] < l) items = nn.functional.pad(items, [0, l - items.shape[1]]); // the fixed L × d window
        var emb = item_embedding.call(items) * ValidMask(items, lengths).unsqueeze(2);     // [B, L, d]
        var image = emb.unsqueeze(1);                                                        // [B, 1, L, d]
        var parts = new List<Tensor>();
        if (conv_v is not null) parts.Add(conv_v.call(image).view(items.shape[0], -1));  // [B, nv·d]
        foreach (var conv in conv_h)
        {
            var h = nn.functional.relu(conv.call(image).squeeze(3));                         // [B, nh, L − h + 1]
            parts.Add(h.max(2).values);                                                      // [B, nh]
        }
        var z = nn.functional.relu(fc1.call(dropout.call(cat(parts, 1))));
        return nn.functional.relu(fc2.call(z)).MoveToOuterDisposeScope();
    }

    public override Tensor ItemEmbeddings() => item_embedding.weight!.narrow(0, 1, Config.NItems);
}
