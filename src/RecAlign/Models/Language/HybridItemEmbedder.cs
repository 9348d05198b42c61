using System.Text.Json.Nodes;
using RecAlign.Data;
using RecAlign.Numerics;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RecAlign.Models.Language;

/// <summary>
/// LLaRA's hybrid item representation (Liao et al. 2024, "LLaRA: Large Language-Recommendation Assistant"): wherever an
/// item token <c>&lt;item_k&gt;</c> enters the LM, its input embedding is replaced by Projector(E_rec[k]), a 2-layer MLP
/// with GELU (LLaRA's <c>mlp_proj</c>) of a frozen sequential recommender's item-embedding row, so the LM reads the
/// collaborative signal the recommender learned. Because the item token itself names the item, the replacement is a
/// function of the token id: every path that embeds ids (training, preference losses, candidate scoring with shared
/// prompt KV, generation, serving) gets it through <see cref="LanguageModel.Hidden"/>, with no second code path.
/// <see cref="Active"/> off leaves the item tokens' own embedding rows (LLaRA's text-only batches of its curriculum).
/// Items the recommender does not know keep their own rows. <see cref="HybridCombine.Add"/> keeps the item token's own
/// row and adds the projection to it (learned item tokens and the recommender's embedding both), with the projector's
/// output layer starting at zero, so training starts from the LM as it was.
/// </summary>
public sealed class HybridItemEmbedder : nn.Module
{
    public const string ConfigFile = "hybrid_config.json";
    public const string WeightsFile = "hybrid.safetensors";

    private readonly TorchSharp.Modules.Sequential mlp_proj;
    /// <summary>[N, d_rec]: the recommender's item embeddings in the LM's item-token order (zeros for unknown items).</summary>
    private readonly Tensor rec_item_embeddings;
    private readonly Tensor _rowOf;   // [V] int64: the item row of each token id (0 for other tokens)
    private readonly Tensor _isItem;  // [V] bool: a known item's token

    /// <param name="firstItemToken">The token id of item 0 (<see cref="Text.ItemTokenizer.FirstItemId"/>).</param>
    /// <param name="recItemEmbeddings">[N, d_rec], row k for item token k.</param>
    /// <param name="known">Which of the N items the recommender knows.</param>
    /// <param name="combine">How the projection meets the item token's own row: replace it (LLaRA) or add to it.</param>
    public HybridItemEmbedder(int vocabSize, int firstItemToken, Tensor recItemEmbeddings, bool[] known, int hiddenSize, string recommender, long seed,
        HybridCombine combine = HybridCombine.Replace)
        : base(nameof(HybridItemEmbedder))
    {
        long n = recItemEmbeddings.shape[0], dRec = recItemEmbeddings.shape[1];
        if (known.Length != n) throw new ArgumentException($"{known.Length} known flags for {n} items");
        if (firstItemToken < 0 || firstItemToken + n > vocabSize)
            throw new ArgumentException($"item tokens [{firstItemToken}, {firstItemToken + n}) do not fit the vocabulary of {vocabSize}");
        (FirstItemToken, ItemCount, RecHiddenSize, Recommender, Combine) = (firstItemToken, (int)n, (int)dRec, recommender, combine);
        mlp_proj = nn.Sequential(("0", nn.Linear(dRec, hiddenSize)), ("1", nn.GELU()), ("2", nn.Linear(hiddenSize, hiddenSize)));
        using (no_grad())
        {
            rec_item_embeddings = recItemEmbeddings.detach().to(ScalarType.Float32).clone();
            var rows = new long[vocabSize];
            var isItem = new bool[vocabSize];
            for (int k = 0; k < n; k++) { rows[firstItemToken + k] = k; isItem[firstItemToken + k] = known[k]; }
            _rowOf = tensor(rows);
            _isItem = tensor(isItem);
        }
        RegisterComponents();
        // PyTorch's default init, drawn from the seed, so a run is reproducible.
        using var generator = new Generator((ulong)seed);
        using (no_grad())
            foreach (var (name, p) in mlp_proj.named_parameters())
            {
                double bound = 1 / Math.Sqrt(name.StartsWith("0.") ? dRec : hiddenSize);
                p.uniform_(-bound, bound, generator);
                // Added to a trained row, a random projection would be noise on what the LM learned: start from nothing.
                if (combine == HybridCombine.Add && name.StartsWith("2.")) p.zero_();
            }
    }

    public int FirstItemToken { get; }
    public int ItemCount { get; }
    public int RecHiddenSize { get; }
    /// <summary>Where the item embeddings came from (the recommender's model directory or pipeline method), for the record.</summary>
    public string Recommender { get; }
    public HybridCombine Combine { get; }
    /// <summary>Off: item tokens keep their own embedding rows (the curriculum's text-only batches). On outside training.</summary>
    public bool Active { get; set; } = true;
    public int KnownItems => (int)_isItem.sum().item<long>();

    /// <summary>The recommender's rows in item-token order [N, d_rec].</summary>
    internal Tensor RecItemEmbeddings => rec_item_embeddings;

    /// <summary>Projector(E_rec[items]) [M, D] for LM item indices.</summary>
    public Tensor Project(Tensor rows) => mlp_proj.call(rec_item_embeddings.index_select(0, rows));

    /// <summary>Token embeddings <paramref name="embeddings"/> [B, T, D] of <paramref name="ids"/> [B, T] with every known
    /// item token's row replaced by (or, with <see cref="HybridCombine.Add"/>, added to) its projected recommender
    /// embedding (differentiable in the projector, and with Add in the token's own row).</summary>
    public Tensor Inject(Tensor ids, Tensor embeddings)
    {
        if (!Active) return embeddings;
        var flatIds = ids.reshape(-1);
        var positions = _isItem.index_select(0, flatIds).nonzero().squeeze(1);
        if (positions.shape[0] == 0) return embeddings;
        var projected = Project(_rowOf.index_select(0, flatIds.index_select(0, positions))).to(embeddings.dtype);
        long d = embeddings.shape[^1];
        var flat = embeddings.reshape(-1, d);
        if (Combine == HybridCombine.Add) projected = flat.index_select(0, positions).Plus(projected);
        return flat.index_copy(0, positions, projected).reshape(embeddings.shape);
    }

    private bool[] KnownFlags() => _isItem.narrow(0, FirstItemToken, ItemCount).cpu().data<bool>().ToArray();

    /// <summary>The projector's trainable parameters (the recommender's rows are a frozen buffer).</summary>
    public IEnumerable<Parameter> ProjectorParameters() => mlp_proj.parameters();

    /// <summary>Writes <see cref="ConfigFile"/> and <see cref="WeightsFile"/> (the projector under LLaRA's <c>mlp_proj</c>
    /// names and the recommender rows, so the model directory needs nothing else) into <paramref name="directory"/>.</summary>
    public void Save(string directory)
    {
        var config = new JsonObject
        {
            ["type"] = "llara_item_projector", ["recommender"] = Recommender, ["combine"] = Combine.ToString().ToLowerInvariant(), ["first_item_token"] = FirstItemToken,
            ["n_items"] = ItemCount, ["rec_hidden_size"] = RecHiddenSize, ["hidden_size"] = (int)mlp_proj.parameters().Last().shape[0],
            ["known_items"] = new JsonArray(KnownFlags().Select((known, k) => (known, k)).Where(x => x.known).Select(x => (JsonNode)x.k).ToArray()),
        };
        File.WriteAllText(Path.Combine(directory, ConfigFile), config.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
        var tensors = mlp_proj.state_dict().Select(p => KeyValuePair.Create("mlp_proj." + p.Key, p.Value.to(ScalarType.Float32)))
            .Append(KeyValuePair.Create("rec_item_embeddings", rec_item_embeddings));
        Checkpoints.SafetensorsWriter.Write(Path.Combine(directory, WeightsFile), tensors.ToList());
    }

    /// <summary>The embedder saved in <paramref name="directory"/>, or null when it has none.</summary>
    public static HybridItemEmbedder? Load(string directory, int vocabSize)
    {
        var configPath = Path.Combine(directory, ConfigFile);
        if (!File.Exists(configPath)) return null;
        JsonObject o;
        try { o = JsonNode.Parse(File.ReadAllText(configPath))?.AsObject() ?? throw new FormatException("not a JSON object"); }
        catch (Exception e) when (e is System.Text.Json.JsonException or FormatException or InvalidOperationException)
        { throw new FormatException($"{configPath}: {e.Message}"); }
        int Int(string field) => o[field] is JsonValue v && v.TryGetValue<int>(out var i) ? i : throw new FormatException($"{configPath}: field '{field}' must be an integer");
        int n = Int("n_items"), first = Int("first_item_token"), hidden = Int("hidden_size");
        // Directories written before the field existed replaced the rows.
        var combine = o["combine"] is null ? HybridCombine.Replace
            : o["combine"] is JsonValue cv && cv.TryGetValue<string>(out var cs) && Enum.TryParse<HybridCombine>(cs, ignoreCase: true, out var c) && Enum.IsDefined(c) ? c
            : throw new FormatException($"{configPath}: field 'combine' must be \"replace\" or \"add\", not {o["combine"]!.ToJsonString()}");
        var known = new bool[n];
        foreach (var k in o["known_items"] as JsonArray ?? throw new FormatException($"{configPath}: field 'known_items' must be a list"))
        {
            int item = k is JsonValue v && v.TryGetValue<int>(out var i) && i >= 0 && i < n ? i : throw new FormatException($"{configPath}: known_items holds '{k}', not an item index below {n}");
            known[item] = true;
        }
        using var weights = Checkpoints.SafetensorsCheckpoint.Open(Path.Combine(directory, WeightsFile));
        using var rec = weights.ReadTensor("rec_item_embeddings", ScalarType.Float32);
        if (rec.dim() != 2 || rec.shape[0] != n) throw new FormatException($"{Path.Combine(directory, WeightsFile)}: rec_item_embeddings must be [{n}, d]");
        var embedder = new HybridItemEmbedder(vocabSize, first, rec, known, hidden, o["recommender"]?.GetValue<string>() ?? "", seed: 0, combine);
        using (no_grad())
            foreach (var (name, p) in embedder.mlp_proj.named_parameters())
            {
                using var t = weights.ReadTensor("mlp_proj." + name, ScalarType.Float32);
                if (!t.shape.SequenceEqual(p.shape)) throw new FormatException($"{Path.Combine(directory, WeightsFile)}: mlp_proj.{name} has shape [{string.Join(", ", t.shape)}], expected [{string.Join(", ", p.shape)}]");
                p.copy_(t);
            }
        return embedder;
    }

    /// <summary>The embedder for <paramref name="lm"/> (which must have item tokens) from the item embeddings of the
    /// sequential recommender saved in <paramref name="recommenderDir"/>.</summary>
    public static HybridItemEmbedder FromRecommenderDirectory(LanguageModel lm, Text.ITokenizer tokenizer, string recommenderDir, string recommender, long seed,
        HybridCombine combine = HybridCombine.Replace)
    {
        var items = tokenizer as Text.ItemTokenizer ?? throw new ArgumentException($"hybrid item embeddings replace item tokens, and the LM has none ({recommender})");
        using var rec = Sequential.SequentialModelDirectory.Load(recommenderDir);
        using var rows = rec.Model.ItemEmbeddings().detach().cpu();
        return FromRecommender(lm.Config.VocabSize, items.FirstItemId, items.Catalog, rec.Catalog, rows, lm.Config.HiddenSize, recommender, seed, combine);
    }

    /// <summary>The embedder for an LM whose item tokens name <paramref name="lmItems"/>, from a recommender's item
    /// embeddings [N_rec, d] over <paramref name="recItems"/>: each LM item is matched by external id, else by title.</summary>
    public static HybridItemEmbedder FromRecommender(int vocabSize, int firstItemToken, ItemCatalog lmItems, ItemCatalog recItems, Tensor recEmbeddings,
        int hiddenSize, string recommender, long seed, HybridCombine combine = HybridCombine.Replace)
    {
        var rows = new long[lmItems.Count];
        var known = new bool[lmItems.Count];
        for (int k = 0; k < lmItems.Count; k++)
        {
            var item = lmItems[k];
            if (recItems.TryGetByExternalId(item.ExternalId, out var r) || recItems.TryGetByTitle(item.Title, out r)) { rows[k] = r; known[k] = true; }
        }
        if (!known.Contains(true)) throw new ArgumentException($"none of the LM's {lmItems.Count} items is in the recommender's catalog ({recommender}): match by id or title failed for all");
        Tensor mapped;
        using (var scope = NewDisposeScope())
        {
            var table = recEmbeddings.detach().to(ScalarType.Float32).cpu();
            mapped = (table.index_select(0, tensor(rows)) * tensor(known.Select(b => b ? 1f : 0f).ToArray()).unsqueeze(1)).DetachFromDisposeScope();
        }
        // Built outside any dispose scope: the module's buffers and parameters live as long as the model.
        using (mapped) return new HybridItemEmbedder(vocabSize, firstItemToken, mapped, known, hiddenSize, recommender, seed, combine);
    }
}

/// <summary>How a hybrid item's projected recommender embedding meets the item token's own embedding row.</summary>
public enum HybridCombine
{
    /// <summary>LLaRA: the projection replaces the row (the LM reads only the recommender's view of the item).</summary>
    Replace,
    /// <summary>The projection is added to the row (the LM's learned item token and the recommender's embedding both),
    /// starting at zero.</summary>
    Add,
}
