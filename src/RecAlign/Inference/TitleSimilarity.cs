using static TorchSharp.torch;

namespace RecAlign.Inference;

/// <summary>Scores free text against a fixed list of titles (a catalog): higher = closer.</summary>
public interface ITitleSimilarity
{
    /// <summary>Number of titles scored against.</summary>
    int Count { get; }

    /// <summary>float32 [Q, Count] similarity of each query to each title.</summary>
    Tensor Scores(IReadOnlyList<string> queries);
}

/// <summary>Maps texts to dense vectors, e.g. a language model's pooled hidden state (BIGRec grounds answers this way).</summary>
public interface ITextEmbedder
{
    /// <summary>float32 [N, D]; rows need not be normalised.</summary>
    Tensor Embed(IReadOnlyList<string> texts);
}

/// <summary>Cosine similarity between embeddings from an <see cref="ITextEmbedder"/>; titles are embedded once and
/// kept in memory, so each batch of queries costs one embedding call and one [Q, D] × [D, N] product.</summary>
public sealed class EmbeddingSimilarity : ITitleSimilarity, IDisposable
{
    private readonly ITextEmbedder _embedder;
    private readonly bool _ownsEmbedder;
    private readonly Tensor _titles; // [N, D], unit rows

    /// <param name="ownsEmbedder">Dispose the embedder (when disposable) with this similarity.</param>
    public EmbeddingSimilarity(ITextEmbedder embedder, IReadOnlyList<string> titles, bool ownsEmbedder = false)
    {
        _embedder = embedder;
        _ownsEmbedder = ownsEmbedder;
        using var scope = NewDisposeScope();
        _titles = nn.functional.normalize(embedder.Embed(titles).to_type(float32), p: 2, dim: 1).DetachFromDisposeScope();
        Count = titles.Count;
    }

    public int Count { get; }

    public Tensor Scores(IReadOnlyList<string> queries)
    {
        using var scope = NewDisposeScope();
        var q = nn.functional.normalize(_embedder.Embed(queries).to_type(float32).to(_titles.device), p: 2, dim: 1);
        return q.matmul(_titles.t()).cpu().MoveToOuterDisposeScope();
    }

    public void Dispose()
    {
        _titles.Dispose();
        if (_ownsEmbedder && _embedder is IDisposable d) d.Dispose();
    }
}

/// <summary>No similarity at all (every score 0): with <see cref="CatalogGrounder"/>, only answers naming a title
/// exactly rank it; any other answer leaves the target tied with the whole catalog, which pessimistic ties rank last.</summary>
public sealed class NoSimilarity(int count) : ITitleSimilarity
{
    public int Count { get; } = count;

    public Tensor Scores(IReadOnlyList<string> queries) => zeros(queries.Count, Count);
}

/// <summary>How catalog mode grounds a free answer once no title matches it exactly.</summary>
public enum Grounding
{
    /// <summary>Exact (normalised) title matches only (<see cref="NoSimilarity"/>).</summary>
    Exact,
    /// <summary>Cosine of MiniLM sentence embeddings (<see cref="MiniLmEmbedder"/>), as CausalDPO grounds.</summary>
    MiniLm,
    /// <summary>Character 3-gram TF-IDF cosine (<see cref="CharNGramTfIdf"/>): no model.</summary>
    TfIdf,
    /// <summary>Cosine of the evaluated language model's own mean-pooled hidden states (<see cref="LanguageModelEmbedder"/>), as BIGRec.</summary>
    Lm,
}

/// <summary>Builds the <see cref="ITitleSimilarity"/> a <see cref="Grounding"/> names over a list of titles.</summary>
public static class TitleSimilarities
{
    /// <summary>The similarity, and the grounding actually used: the default MiniLM falls back to TF-IDF, with the
    /// exact load error in <paramref name="fallbackReason"/>, when ONNX Runtime cannot run here; an explicit request
    /// (<paramref name="required"/>) throws instead.</summary>
    public static ITitleSimilarity Create(Grounding grounding, IReadOnlyList<string> titles, out Grounding used, out string? fallbackReason,
        bool required = false, int threads = 1, ITextEmbedder? languageModel = null)
    {
        fallbackReason = null;
        used = grounding;
        switch (grounding)
        {
            case Grounding.Exact: return new NoSimilarity(titles.Count);
            case Grounding.TfIdf: return new CharNGramTfIdf(titles, 3);
            case Grounding.Lm:
                return new EmbeddingSimilarity(languageModel ?? throw new ArgumentException("grounding 'lm' needs a language model to embed with"), titles);
            case Grounding.MiniLm:
                var embedder = MiniLmEmbedder.TryCreate(threads, out var error);
                if (embedder is not null) return new EmbeddingSimilarity(embedder, titles, ownsEmbedder: true);
                if (required) throw new InvalidOperationException($"MiniLM grounding cannot run here: {error}");
                fallbackReason = error;
                used = Grounding.TfIdf;
                return new CharNGramTfIdf(titles, 3);
            default: throw new ArgumentOutOfRangeException(nameof(grounding), grounding, null);
        }
    }
}

/// <summary>
/// Character n-gram TF-IDF cosine similarity (needs no model). Texts are normalised with
/// <see cref="AnswerMatcher.Normalize"/>, padded with one space each side, and cut into n-grams of the given sizes.
/// Weights: sublinear tf (1 + ln tf) × smoothed idf (ln((1+N)/(1+df)) + 1), rows L2-normalised; n-grams unseen in
/// the titles are ignored, as scikit-learn's TfidfVectorizer does. Scoring walks an inverted index, so a query costs
/// time proportional to the postings of its n-grams, not to the catalog size.
/// </summary>
public sealed class CharNGramTfIdf : ITitleSimilarity
{
    private readonly int[] _sizes;
    private readonly Dictionary<string, int> _vocab = new(StringComparer.Ordinal);
    private readonly float[] _idf;
    private readonly (int Item, float Weight)[][] _postings;

    public CharNGramTfIdf(IReadOnlyList<string> titles, params int[] ngramSizes)
    {
        _sizes = ngramSizes.Length == 0 ? [3] : ngramSizes;
        if (_sizes.Any(n => n < 1)) throw new ArgumentException("n-gram sizes must be ≥ 1", nameof(ngramSizes));
        Count = titles.Count;
        var docs = new Dictionary<int, int>[titles.Count];
        var df = new List<int>();
        for (int i = 0; i < titles.Count; i++)
        {
            docs[i] = new Dictionary<int, int>();
            foreach (var g in Grams(titles[i]))
            {
                if (!_vocab.TryGetValue(g, out var id)) { id = _vocab.Count; _vocab[g] = id; df.Add(0); }
                if (docs[i].TryGetValue(id, out var c)) docs[i][id] = c + 1;
                else { docs[i][id] = 1; df[id]++; }
            }
        }
        _idf = df.Select(d => (float)(Math.Log((1.0 + Count) / (1.0 + d)) + 1.0)).ToArray();
        var postings = new List<(int, float)>[_vocab.Count];
        for (int g = 0; g < postings.Length; g++) postings[g] = [];
        for (int i = 0; i < docs.Length; i++)
        {
            var weights = docs[i].Select(kv => (kv.Key, W: (1.0 + Math.Log(kv.Value)) * _idf[kv.Key])).ToArray();
            double norm = Math.Sqrt(weights.Sum(w => w.W * w.W));
            if (norm == 0) continue;
            foreach (var (g, w) in weights) postings[g].Add((i, (float)(w / norm)));
        }
        _postings = postings.Select(p => p.ToArray()).ToArray();
    }

    public int Count { get; }

    public Tensor Scores(IReadOnlyList<string> queries)
    {
        var scores = new float[(long)queries.Count * Count];
        var counts = new Dictionary<int, int>();
        for (int q = 0; q < queries.Count; q++)
        {
            counts.Clear();
            foreach (var g in Grams(queries[q]))
                if (_vocab.TryGetValue(g, out var id))
                    counts[id] = counts.TryGetValue(id, out var c) ? c + 1 : 1;
            double norm = Math.Sqrt(counts.Sum(kv => Sq((1.0 + Math.Log(kv.Value)) * _idf[kv.Key])));
            if (norm == 0) continue;
            long row = (long)q * Count;
            foreach (var (g, c) in counts)
            {
                float w = (float)((1.0 + Math.Log(c)) * _idf[g] / norm);
                foreach (var (item, iw) in _postings[g]) scores[row + item] += w * iw;
            }
        }
        return tensor(scores).view(queries.Count, Count);
    }

    private IEnumerable<string> Grams(string text)
    {
        var s = " " + AnswerMatcher.Normalize(text) + " ";
        foreach (var n in _sizes)
            for (int i = 0; i + n <= s.Length; i++)
                yield return s.Substring(i, n);
    }

    private static double Sq(double x) => x * x;
}
