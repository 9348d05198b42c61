using RecAlign.Data;
using RecAlign.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace RecAlign.Models.Language;

/// <summary>
/// Gives a model without item tokens (a HuggingFace checkpoint, a title LM) one token per catalog item: the
/// embedding table and, when untied, the output head grow to the <see cref="ItemTokenizer"/>'s vocabulary, and each
/// new row starts as the mean of its title's token rows (input and output alike), so an item token begins where the
/// model already places its title rather than at noise.
/// </summary>
public static class ItemTokenEmbeddings
{
    public static (LanguageModel Model, ItemTokenizer Tokenizer) Add(LanguageModel lm, ITokenizer tokenizer, ItemCatalog catalog)
    {
        if (tokenizer is ItemTokenizer) throw new ArgumentException("the tokenizer already has item tokens", nameof(tokenizer));
        if (tokenizer.VocabSize > lm.Config.VocabSize)
            throw new ArgumentException($"the tokenizer has {tokenizer.VocabSize} ids but the model only {lm.Config.VocabSize} embedding rows");
        var items = new ItemTokenizer(tokenizer, catalog);
        // Item ids start after the tokenizer's ids; a checkpoint's spare rows beyond them (padding to a multiple) are reused.
        int vocab = Math.Max(lm.Config.VocabSize, items.VocabSize);
        var grown = new LanguageModel(lm.Config with { VocabSize = vocab });
        grown.to(lm.DType).to(lm.Device);
        using var _ = no_grad();
        var source = lm.state_dict();
        foreach (var (name, p) in grown.state_dict())
        {
            var old = source[name];
            if (old.shape.SequenceEqual(p.shape)) { p.copy_(old); continue; }
            // embed_tokens.weight or lm_head.weight: [V, D] → [vocab, D]
            p.narrow(0, 0, old.shape[0]).copy_(old);
            if (vocab > old.shape[0]) p.narrow(0, old.shape[0], vocab - old.shape[0]).copy_(old.mean([0], keepdim: true).expand(vocab - old.shape[0], -1));
            InitFromTitles(p, items, catalog);
        }
        return (grown, items);
    }

    /// <summary>Row of item k = the mean of the rows of its title's tokens (as they follow a space, the way titles
    /// appear mid-text).</summary>
    private static void InitFromTitles(Tensor weight, ItemTokenizer items, ItemCatalog catalog)
    {
        var rows = new List<long>();
        var owners = new List<long>();
        for (int k = 0; k < catalog.Count; k++)
        {
            var ids = items.Inner.Encode(" " + catalog.Title(k));
            foreach (var id in ids) { rows.Add(id); owners.Add(k); }
        }
        using var scope = NewDisposeScope();
        var device = weight.device;
        var gathered = weight.index_select(0, tensor(rows.ToArray(), device: device)).to(ScalarType.Float32);
        var sums = zeros(catalog.Count, weight.shape[1], dtype: ScalarType.Float32, device: device)
            .index_add(0, tensor(owners.ToArray(), device: device), gathered, 1);
        var counts = bincount(tensor(owners.ToArray(), device: device), minlength: catalog.Count).to(ScalarType.Float32).clamp_min(1).unsqueeze(1);
        weight.narrow(0, items.FirstItemId, catalog.Count).copy_((sums / counts).to(weight.dtype));
    }
}
