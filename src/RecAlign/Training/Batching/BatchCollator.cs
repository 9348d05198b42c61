using RecAlign.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace RecAlign.Training.Batching;

/// <summary>A right-padded training batch: input ids [B, T], attention mask [B, T] and shifted targets [B, T]
/// where only response tokens count (prompt and padding positions hold <see cref="NextTokenLoss.IgnoreIndex"/>).</summary>
public sealed class TrainingBatch(Tensor inputIds, Tensor attentionMask, Tensor targets, long targetTokens) : IDisposable
{
    public Tensor InputIds { get; } = inputIds;
    public Tensor AttentionMask { get; } = attentionMask;
    public Tensor Targets { get; } = targets;
    /// <summary>Number of positions that contribute to the loss.</summary>
    public long TargetTokens { get; } = targetTokens;
    public long Tokens => InputIds.shape[0] * InputIds.shape[1];

    public void Dispose()
    {
        InputIds.Dispose();
        AttentionMask.Dispose();
        Targets.Dispose();
    }
}

/// <summary>Builds <see cref="TrainingBatch"/>es from tokenized examples: one managed buffer per tensor, filled
/// once, so collation costs three tensor creations per batch.</summary>
public static class BatchCollator
{
    /// <param name="maxLength">Longer examples keep their last <paramref name="maxLength"/> tokens (the prompt is
    /// cut from the left, so the response and the most recent history survive).</param>
    public static TrainingBatch Collate(IReadOnlyList<TokenizedExample> examples, int padId, int maxLength, Device? device = null, bool trainOnPrompt = false)
    {
        int b = examples.Count;
        int t = Math.Min(maxLength, examples.Max(e => e.Length));
        var ids = new long[b * t];
        var mask = new long[b * t];
        var targets = new long[b * t];
        Array.Fill(ids, padId);
        Array.Fill(targets, NextTokenLoss.IgnoreIndex);
        long count = 0;
        for (int r = 0; r < b; r++)
        {
            var e = examples[r];
            int total = e.Length, skip = Math.Max(0, total - t);
            int responseStart = e.Prompt.Length - skip; // index of the first response token in the kept window
            for (int j = 0; j < total - skip; j++)
            {
                int src = j + skip;
                ids[r * t + j] = src < e.Prompt.Length ? e.Prompt[src] : e.Response[src - e.Prompt.Length];
                mask[r * t + j] = 1;
            }
            // targets[j] = ids[j+1] when token j+1 is trained on.
            for (int j = 0; j + 1 < total - skip; j++)
            {
                if (!trainOnPrompt && j + 1 < responseStart) continue;
                targets[r * t + j] = ids[r * t + j + 1];
                count++;
            }
        }
        var dev = device ?? CPU;
        return new TrainingBatch(tensor(ids, [b, t], device: dev), tensor(mask, [b, t], device: dev), tensor(targets, [b, t], device: dev), count);
    }
}
