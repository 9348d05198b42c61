using RecAlign.IO;
using System.Text.Json;
using System.Text.Json.Nodes;
using TorchSharp;
using static TorchSharp.torch;

namespace RecAlign.Models.Checkpoints;

/// <summary>Reads a checkpoint that is either one <c>{base}.safetensors</c> file or shards listed in
/// <c>{base}.safetensors.index.json</c> (HuggingFace layout), and writes either layout.</summary>
public sealed class SafetensorsCheckpoint : IDisposable
{
    private readonly Dictionary<string, SafetensorsFile> _fileOf;
    private readonly List<SafetensorsFile> _files;

    /// <summary>Tensor names, sorted ordinally.</summary>
    public IReadOnlyList<string> TensorNames { get; }
    /// <summary><c>__metadata__</c> of the first file (shards written together share it).</summary>
    public IReadOnlyDictionary<string, string> Metadata => _files.Count > 0 ? _files[0].Metadata : new Dictionary<string, string>();
    public IReadOnlyList<string> FilePaths => _files.Select(f => f.Path).ToList();

    private SafetensorsCheckpoint(List<SafetensorsFile> files, Dictionary<string, SafetensorsFile> fileOf)
    {
        _files = files;
        _fileOf = fileOf;
        TensorNames = fileOf.Keys.OrderBy(k => k, StringComparer.Ordinal).ToList();
    }

    public static string SingleFileName(string baseName) => $"{baseName}.safetensors";
    public static string IndexFileName(string baseName) => $"{baseName}.safetensors.index.json";
    public static string ShardFileName(string baseName, int index, int count) => $"{baseName}-{index:D5}-of-{count:D5}.safetensors";

    /// <summary>True when <paramref name="directory"/> holds a single-file or sharded checkpoint named <paramref name="baseName"/>.</summary>
    public static bool Exists(string directory, string baseName = "model") =>
        File.Exists(Path.Combine(directory, IndexFileName(baseName))) || File.Exists(Path.Combine(directory, SingleFileName(baseName)));

    /// <summary>Opens a <c>.safetensors</c> file, or a directory holding <c>{baseName}.safetensors.index.json</c>
    /// (preferred) or <c>{baseName}.safetensors</c>.</summary>
    public static SafetensorsCheckpoint Open(string path, string baseName = "model")
    {
        if (File.Exists(path))
        {
            var single = SafetensorsFile.Open(path);
            return new SafetensorsCheckpoint([single], single.Tensors.ToDictionary(t => t.Name, _ => single, StringComparer.Ordinal));
        }
        if (!Directory.Exists(path)) throw new DirectoryNotFoundException($"Checkpoint not found: {Path.GetFullPath(path)}");

        var index = Path.Combine(path, IndexFileName(baseName));
        if (File.Exists(index)) return OpenSharded(index);
        var file = Path.Combine(path, SingleFileName(baseName));
        if (File.Exists(file)) return Open(file);
        throw new FileNotFoundException(
            $"{Path.GetFullPath(path)}: no {SingleFileName(baseName)} or {IndexFileName(baseName)} in this directory.");
    }

    private static SafetensorsCheckpoint OpenSharded(string indexPath)
    {
        var full = Path.GetFullPath(indexPath);
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(File.ReadAllText(full));
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{full}: not valid JSON ({RecAlign.IO.JsonErrors.Reason(e)}).", e);
        }
        if (root?["weight_map"] is not JsonObject map)
            throw new InvalidDataException($"{full}: missing object field 'weight_map'.");

        var dir = Path.GetDirectoryName(full)!;
        var opened = new Dictionary<string, SafetensorsFile>(StringComparer.Ordinal);
        var fileOf = new Dictionary<string, SafetensorsFile>(StringComparer.Ordinal);
        try
        {
            foreach (var (name, value) in map)
            {
                if (value is not JsonValue v || !v.TryGetValue<string>(out var shard))
                    throw new InvalidDataException($"{full}: weight_map.{name} must be a file name string.");
                if (shard.Contains('/') || shard.Contains('\\') || shard.Contains(".."))
                    throw new InvalidDataException($"{full}: weight_map.{name} names '{shard}', which is not a plain file name.");
                if (!opened.TryGetValue(shard, out var f))
                {
                    var shardPath = Path.Combine(dir, shard);
                    if (!File.Exists(shardPath))
                        throw new FileNotFoundException($"{full}: weight_map.{name} names shard '{shard}', which does not exist.", shardPath);
                    f = SafetensorsFile.Open(shardPath);
                    opened[shard] = f;
                }
                if (!f.Contains(name))
                    throw new InvalidDataException($"{full}: weight_map.{name} points to '{shard}', which holds no tensor of that name.");
                fileOf[name] = f;
            }
            return new SafetensorsCheckpoint(opened.Values.ToList(), fileOf);
        }
        catch
        {
            foreach (var f in opened.Values) f.Dispose();
            throw;
        }
    }

    public bool Contains(string name) => _fileOf.ContainsKey(name);

    public SafetensorsTensorInfo GetInfo(string name) => FileOf(name).GetInfo(name);

    public Tensor ReadTensor(string name, ScalarType? dtype = null) => FileOf(name).ReadTensor(name, dtype);

    public void ReadInto(string name, Tensor destination) => FileOf(name).ReadInto(name, destination);

    private SafetensorsFile FileOf(string name) =>
        _fileOf.TryGetValue(name, out var f) ? f : throw new KeyNotFoundException($"Checkpoint has no tensor named '{name}'.");

    public void Dispose()
    {
        foreach (var f in _files) f.Dispose();
    }

    /// <summary>Writes tensors into <paramref name="directory"/> as <c>{baseName}.safetensors</c>, or, when
    /// <paramref name="maxShardBytes"/> is given and exceeded, as numbered shards plus an index file.
    /// Returns the file names written. Shards are filled greedily in the given order, as HF does; a tensor larger
    /// than the limit gets a shard of its own.</summary>
    public static IReadOnlyList<string> Write(string directory, IEnumerable<KeyValuePair<string, Tensor>> tensors,
        long? maxShardBytes = null, IReadOnlyDictionary<string, string>? metadata = null, ScalarType? floatDType = null,
        string baseName = "model")
    {
        if (maxShardBytes is <= 0) throw new ArgumentOutOfRangeException(nameof(maxShardBytes), "must be positive");
        Directory.CreateDirectory(directory);
        var list = tensors.ToList();
        long total = list.Sum(kv => SafetensorsWriter.DataBytes(kv.Value, floatDType));
        if (maxShardBytes is null || total <= maxShardBytes)
        {
            SafetensorsWriter.Write(Path.Combine(directory, SingleFileName(baseName)), list, metadata, floatDType);
            return [SingleFileName(baseName)];
        }

        var shards = new List<List<KeyValuePair<string, Tensor>>>();
        var current = new List<KeyValuePair<string, Tensor>>();
        long currentBytes = 0;
        foreach (var kv in list)
        {
            long bytes = SafetensorsWriter.DataBytes(kv.Value, floatDType);
            if (current.Count > 0 && currentBytes + bytes > maxShardBytes)
            {
                shards.Add(current);
                current = [];
                currentBytes = 0;
            }
            current.Add(kv);
            currentBytes += bytes;
        }
        if (current.Count > 0) shards.Add(current);

        var names = new List<string>();
        var weightMap = new SortedDictionary<string, string>(StringComparer.Ordinal);
        for (int i = 0; i < shards.Count; i++)
        {
            var file = ShardFileName(baseName, i + 1, shards.Count);
            SafetensorsWriter.Write(Path.Combine(directory, file), shards[i], metadata, floatDType);
            foreach (var kv in shards[i]) weightMap[kv.Key] = file;
            names.Add(file);
        }

        var index = new JsonObject
        {
            ["metadata"] = new JsonObject { ["total_size"] = total },
            ["weight_map"] = new JsonObject(weightMap.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)JsonValue.Create(kv.Value)))),
        };
        AtomicFile.WriteAllText(Path.Combine(directory, IndexFileName(baseName)),
            index.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        names.Add(IndexFileName(baseName));
        return names;
    }
}
