using RecAlign.IO;
using TorchSharp;
using static TorchSharp.torch;

namespace RecAlign.Models.Checkpoints;

/// <summary>How <see cref="CheckpointIO.Save"/> writes a module.</summary>
public sealed record CheckpointSaveOptions
{
    /// <summary>Saved type of floating tensors (e.g. BFloat16); null keeps each tensor's own type.</summary>
    public ScalarType? DType { get; init; }
    /// <summary>Split into HF-style shards above this many data bytes; null writes one file.</summary>
    public long? MaxShardBytes { get; init; }
    /// <summary>Module name → saved name; return null to leave a tensor out (e.g. save only LoRA weights).</summary>
    public Func<string, string?>? NameMap { get; init; }
    /// <summary>Extra files written alongside, file name → text (config.json, generation_config.json...).</summary>
    public IReadOnlyDictionary<string, string>? JsonFiles { get; init; }
    /// <summary>Writes further files into the (temporary) directory before it is swapped in, e.g. tokenizer.Save.</summary>
    public Action<string>? WriteExtraFiles { get; init; }
    /// <summary>safetensors <c>__metadata__</c>; HF transformers expects <c>format: pt</c>.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; init; } = new Dictionary<string, string> { ["format"] = "pt" };
    /// <summary>File base name: "model" gives model.safetensors; PEFT adapters use "adapter_model".</summary>
    public string BaseName { get; init; } = "model";
}

/// <summary>How <see cref="CheckpointIO.Load"/> matches a checkpoint to a module.</summary>
public sealed record CheckpointLoadOptions
{
    /// <summary>Saved name → module name; return null to ignore a saved tensor.</summary>
    public Func<string, string?>? NameMap { get; init; }
    /// <summary>Module tensors absent from the checkpoint keep their values instead of failing the load.</summary>
    public bool AllowMissing { get; init; }
    /// <summary>Checkpoint tensors with no module counterpart are skipped instead of failing the load.</summary>
    public bool AllowUnexpected { get; init; }
    public string BaseName { get; init; } = "model";
}

/// <summary>What a load did: module names filled, module names missing, saved names not used.</summary>
public sealed record CheckpointLoadReport(IReadOnlyList<string> Loaded, IReadOnlyList<string> Missing, IReadOnlyList<string> Unexpected);

/// <summary>Thrown when a checkpoint and a module disagree on names or shapes; lists every disagreement.</summary>
public sealed class CheckpointMismatchException(string message, IReadOnlyList<string> missing, IReadOnlyList<string> unexpected,
    IReadOnlyList<string> shapeMismatches) : Exception(message)
{
    public IReadOnlyList<string> Missing { get; } = missing;
    public IReadOnlyList<string> Unexpected { get; } = unexpected;
    public IReadOnlyList<string> ShapeMismatches { get; } = shapeMismatches;
}

/// <summary>Saves and loads a TorchSharp module's state dict (parameters and persistent buffers) by name as a
/// HuggingFace-compatible safetensors checkpoint directory.</summary>
public static class CheckpointIO
{
    /// <summary>Writes <paramref name="module"/>'s state dict (plus the requested JSON/extra files) into
    /// <paramref name="directory"/>, replacing the whole directory atomically.</summary>
    public static void Save(nn.Module module, string directory, CheckpointSaveOptions? options = null) =>
        SaveTensors(module.state_dict(), directory, options);

    /// <summary>As <see cref="Save"/>, for an arbitrary name → tensor collection.</summary>
    public static void SaveTensors(IEnumerable<KeyValuePair<string, Tensor>> tensors, string directory, CheckpointSaveOptions? options = null)
    {
        options ??= new CheckpointSaveOptions();
        var named = new List<KeyValuePair<string, Tensor>>();
        var seen = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, t) in tensors)
        {
            var saved = options.NameMap is null ? name : options.NameMap(name);
            if (saved is null) continue;
            if (seen.TryGetValue(saved, out var other))
                throw new ArgumentException($"Name map sends both '{other}' and '{name}' to '{saved}'.");
            seen[saved] = name;
            named.Add(KeyValuePair.Create(saved, t));
        }

        AtomicFile.ReplaceDirectory(directory, tmp =>
        {
            SafetensorsCheckpoint.Write(tmp, named, options.MaxShardBytes, options.Metadata, options.DType, options.BaseName);
            foreach (var (file, text) in options.JsonFiles ?? new Dictionary<string, string>())
            {
                if (Path.GetFileName(file) != file) throw new ArgumentException($"JSON file name '{file}' must be a plain file name.");
                AtomicFile.WriteAllText(Path.Combine(tmp, file), text);
            }
            options.WriteExtraFiles?.Invoke(tmp);
        }, OutputKind.Checkpoint);
    }

    /// <summary>Copies a checkpoint's tensors into <paramref name="module"/> by name, converting to each target's
    /// dtype. Throws <see cref="CheckpointMismatchException"/> listing all missing, unexpected and
    /// shape-mismatched names unless the options allow them (shape mismatches are always errors).</summary>
    public static CheckpointLoadReport Load(nn.Module module, string directory, CheckpointLoadOptions? options = null)
    {
        options ??= new CheckpointLoadOptions();
        var targets = module.state_dict();
        using var ckpt = SafetensorsCheckpoint.Open(directory, options.BaseName);

        var pairs = new List<(string Saved, string Target)>();
        var unexpected = new List<string>();
        var claimed = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var saved in ckpt.TensorNames)
        {
            var target = options.NameMap is null ? saved : options.NameMap(saved);
            if (target is null) continue;
            if (!targets.ContainsKey(target))
            {
                unexpected.Add(saved);
                continue;
            }
            if (claimed.TryGetValue(target, out var other))
                throw new ArgumentException($"{directory}: saved tensors '{other}' and '{saved}' both map to module tensor '{target}'.");
            claimed[target] = saved;
            pairs.Add((saved, target));
        }
        var missing = targets.Keys.Where(k => !claimed.ContainsKey(k)).OrderBy(k => k, StringComparer.Ordinal).ToList();
        var mismatched = new List<string>();
        foreach (var (saved, target) in pairs)
        {
            var info = ckpt.GetInfo(saved);
            var shape = targets[target].shape;
            if (!shape.SequenceEqual(info.Shape))
                mismatched.Add($"{saved}: checkpoint [{string.Join(",", info.Shape)}] vs module '{target}' [{string.Join(",", shape)}]");
        }

        bool fail = mismatched.Count > 0 || (missing.Count > 0 && !options.AllowMissing) || (unexpected.Count > 0 && !options.AllowUnexpected);
        if (fail)
        {
            var parts = new List<string>();
            if (missing.Count > 0 && !options.AllowMissing) parts.Add($"missing from checkpoint ({missing.Count}): {Preview(missing)}");
            if (unexpected.Count > 0 && !options.AllowUnexpected) parts.Add($"unexpected in checkpoint ({unexpected.Count}): {Preview(unexpected)}");
            if (mismatched.Count > 0) parts.Add($"shape mismatches ({mismatched.Count}): {Preview(mismatched)}");
            throw new CheckpointMismatchException(
                $"Checkpoint {Path.GetFullPath(directory)} does not match the module: {string.Join("; ", parts)}.",
                missing, unexpected, mismatched);
        }

        foreach (var (saved, target) in pairs)
            ckpt.ReadInto(saved, targets[target]);
        return new CheckpointLoadReport(pairs.Select(p => p.Target).ToList(), missing, unexpected);
    }

    /// <summary>Reads every tensor of a checkpoint into new CPU tensors (floating ones converted to
    /// <paramref name="floatDType"/> when given). The caller owns and disposes them.</summary>
    public static Dictionary<string, Tensor> LoadTensors(string directory, ScalarType? floatDType = null, string baseName = "model")
    {
        using var ckpt = SafetensorsCheckpoint.Open(directory, baseName);
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            foreach (var name in ckpt.TensorNames)
            {
                var fileType = SafetensorsDTypes.ToScalarType(ckpt.GetInfo(name).DType);
                result[name] = ckpt.ReadTensor(name, floatDType is { } f && SafetensorsDTypes.IsFloating(fileType) ? f : null);
            }
            return result;
        }
        catch
        {
            foreach (var t in result.Values) t.Dispose();
            throw;
        }
    }

    private static string Preview(IReadOnlyList<string> names, int max = 20) =>
        names.Count <= max ? string.Join(", ", names) : string.Join(", ", names.Take(max)) + $", ... (+{names.Count - max} more)";
}

/// <summary>Common name maps for <see cref="CheckpointSaveOptions.NameMap"/> and <see cref="CheckpointLoadOptions.NameMap"/>.</summary>
public static class CheckpointNames
{
    public static Func<string, string?> AddPrefix(string prefix) => name => prefix + name;

    /// <summary>Strips <paramref name="prefix"/>; names without it map to null (ignored) when
    /// <paramref name="dropOthers"/>, else pass through unchanged.</summary>
    public static Func<string, string?> StripPrefix(string prefix, bool dropOthers = false) => name =>
        name.StartsWith(prefix, StringComparison.Ordinal) ? name[prefix.Length..] : dropOthers ? null : name;

    /// <summary>Keeps only names satisfying <paramref name="keep"/>, then applies <paramref name="then"/>.</summary>
    public static Func<string, string?> Where(Func<string, bool> keep, Func<string, string?>? then = null) => name =>
        keep(name) ? (then is null ? name : then(name)) : null;
}
