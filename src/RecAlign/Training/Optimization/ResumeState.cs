using System.Text.Json;
using RecAlign.Configuration;

namespace RecAlign.Training.Optimization;

/// <summary>
/// The non-tensor part of a training checkpoint: optimizer step, scheduler step, data position, accumulation
/// micro-step and RNG states. Tensors (weights, <see cref="AdamW.StateDict"/>) go to safetensors next to it.
/// </summary>
public sealed record ResumeState(
    long OptimizerStep,
    LrSchedulerState Scheduler,
    DataPosition Data,
    RngSnapshot Rng,
    int AccumulationMicroStep = 0)
{
    /// <summary>Writes snake_case JSON atomically (temp file in the same directory, then move).</summary>
    public void Save(string path)
    {
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        var tmp = full + ".tmp";
        File.WriteAllText(tmp, JsonSerializer.Serialize(this, ConfigLoader.Json));
        File.Move(tmp, full, overwrite: true);
    }

    public static ResumeState Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"resume state not found: {path}", path);
        try
        {
            return JsonSerializer.Deserialize<ResumeState>(File.ReadAllText(path), ConfigLoader.Json)
                ?? throw new FormatException($"{path}: resume state is null");
        }
        catch (JsonException e)
        {
            throw new FormatException($"{path}: invalid resume state at '{e.Path?.TrimStart('$', '.')}' (line {e.LineNumber + 1}): {RecAlign.IO.JsonErrors.Reason(e)}", e);
        }
    }
}
