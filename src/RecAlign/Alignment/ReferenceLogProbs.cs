using System.Security.Cryptography;
using RecAlign.Models.Checkpoints;
using RecAlign.Models.Language;
using TorchSharp;
using static TorchSharp.torch;

namespace RecAlign.Alignment;

/// <summary>
/// The reference model's summed log-probs of every chosen and rejected response ([N, 1+K], column 0 = chosen),
/// computed once before alignment so training holds one model in memory. Cached on disk as safetensors whose metadata
/// carries the dataset and model hashes; a cache whose hashes differ is recomputed, never reused.
/// </summary>
public sealed class ReferenceLogProbs
{
    private readonly float[] _sums;
    public int Count { get; }
    public int Columns { get; }

    private ReferenceLogProbs(float[] sums, int count, int columns)
    {
        _sums = sums;
        Count = count;
        Columns = columns;
    }

    /// <summary>Rows for a batch as a [B, 1+K] fp32 tensor.</summary>
    public Tensor Rows(IReadOnlyList<int> indices, Device device)
    {
        var data = new float[indices.Count * Columns];
        for (int i = 0; i < indices.Count; i++) Array.Copy(_sums, indices[i] * Columns, data, i * Columns, Columns);
        return tensor(data, [indices.Count, Columns], device: device);
    }

    public static ReferenceLogProbs Compute(LanguageModel reference, IReadOnlyList<TokenizedPreference> examples, int padId, int batchSize = 16)
    {
        int columns = CheckColumns(examples);
        var sums = new float[examples.Count * columns];
        using var _ = no_grad();
        for (int start = 0; start < examples.Count; start += batchSize)
        {
            using var scope = NewDisposeScope();
            var batch = examples.Skip(start).Take(batchSize).ToList();
            using var scores = ContinuationScorer.Score(reference, batch.Select(e => e.Prompt).ToList(),
                batch.Select(e => (IReadOnlyList<int[]>)[e.Chosen, .. e.Rejected]).ToList(), padId);
            scores.Sums.cpu().data<float>().ToArray().CopyTo(sums, start * columns);
        }
        return new ReferenceLogProbs(sums, examples.Count, columns);
    }

    /// <summary>Loads the cache at <paramref name="path"/> when its hashes match, else computes and writes it.</summary>
    public static ReferenceLogProbs LoadOrCompute(string path, LanguageModel reference, IReadOnlyList<TokenizedPreference> examples,
        int padId, string modelHash, int batchSize = 16)
    {
        var dataHash = DatasetHash(examples);
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        if (File.Exists(path))
        {
            using var cached = SafetensorsCheckpoint.Open(path);
            if (cached.Metadata.GetValueOrDefault("dataset_hash") == dataHash && cached.Metadata.GetValueOrDefault("model_hash") == modelHash)
            {
                using var t = cached.ReadTensor("reference_logps", ScalarType.Float32);
                return new ReferenceLogProbs(t.data<float>().ToArray(), (int)t.shape[0], (int)t.shape[1]);
            }
        }
        var computed = Compute(reference, examples, padId, batchSize);
        Directory.CreateDirectory(dir);
        using var all = tensor(computed._sums, [computed.Count, computed.Columns]);
        SafetensorsWriter.Write(path, [KeyValuePair.Create("reference_logps", all)],
            new Dictionary<string, string> { ["dataset_hash"] = dataHash, ["model_hash"] = modelHash, ["format"] = "pt" });
        return computed;
    }

    /// <summary>SHA-256 over every token id of the examples, in order.</summary>
    public static string DatasetHash(IReadOnlyList<TokenizedPreference> examples)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var e in examples)
        {
            Append(sha, e.Prompt);
            Append(sha, e.Chosen);
            foreach (var r in e.Rejected) Append(sha, r);
        }
        return Convert.ToHexStringLower(sha.GetHashAndReset());

        static void Append(IncrementalHash h, int[] ids)
        {
            h.AppendData(BitConverter.GetBytes(ids.Length));
            h.AppendData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(ids.AsSpan()));
        }
    }

    /// <summary>SHA-256 over a model directory's config and weight files: the identity of a reference model.</summary>
    public static string ModelHash(string modelDirectory)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var file in Directory.GetFiles(modelDirectory).Where(f => f.EndsWith(".safetensors") || f.EndsWith("config.json")).Order(StringComparer.Ordinal))
        {
            sha.AppendData(System.Text.Encoding.UTF8.GetBytes(Path.GetFileName(file)));
            using var stream = File.OpenRead(file);
            var buffer = new byte[1 << 20];
            int read;
            while ((read = stream.Read(buffer)) > 0) sha.AppendData(buffer, 0, read);
        }
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    internal static int CheckColumns(IReadOnlyList<TokenizedPreference> examples)
    {
        if (examples.Count == 0) throw new ArgumentException("no preference examples");
        int k = examples[0].Rejected.Length;
        for (int i = 0; i < examples.Count; i++)
            if (examples[i].Rejected.Length != k || k == 0)
                throw new ArgumentException($"preference example {i} has {examples[i].Rejected.Length} rejected responses; every example needs the same K ≥ 1 (example 0 has {k})");
        return k + 1;
    }
}
