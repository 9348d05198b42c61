using RecAlign.Models.Language;
using TorchSharp;
using static TorchSharp.torch;

namespace RecAlign.Bench;

/// <summary>
/// The candidate-scoring benchmark's two paths over token ids (the library scores through
/// <see cref="RecAlign.Models.Language.LanguageModelRecommender"/>, on the same <see cref="ContinuationScorer"/>).
/// Ranks candidate continuations (title tokens + EOS) by their log-likelihood given the prompt. The fast path runs
/// each prompt once (a batch of prompts, left-padded) into a <see cref="KvCache"/>, expands the cache over that prompt's
/// C candidates (<see cref="KvCache.RepeatInterleave"/>) and scores all of them in one right-padded, masked forward:
/// the first candidate token's log-prob comes from the prompt's last position, the rest from the continuation.
/// Only the scored positions go through the output projection, with an fp32 log-softmax.
/// </summary>
internal sealed class CandidateRanker
{
    private readonly LanguageModel _model;
    private readonly int _pad;

    /// <param name="promptBatchSize">Prompts prefilled together; the expanded cache holds promptBatchSize × C rows.</param>
    /// <param name="maxLogitElements">Upper bound on rows × vocab of one fp32 logits chunk (bounds peak memory).</param>
    public CandidateRanker(LanguageModel model, int promptBatchSize = 4, int? padTokenId = null, long maxLogitElements = 16L << 20)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (promptBatchSize < 1) throw new ArgumentOutOfRangeException(nameof(promptBatchSize), "must be >= 1");
        if (maxLogitElements < model.Config.VocabSize) throw new ArgumentOutOfRangeException(nameof(maxLogitElements), "must hold at least one row of logits");
        _model = model;
        PromptBatchSize = promptBatchSize;
        MaxLogitElements = maxLogitElements;
        _pad = padTokenId ?? model.Config.PadTokenId ?? 0;
    }

    public int PromptBatchSize { get; }
    public long MaxLogitElements { get; }

    /// <summary>Scores every prompt against the same candidate list.</summary>
    public CandidateScores Score(IReadOnlyList<int[]> prompts, IReadOnlyList<int[]> sharedCandidates) =>
        Score(prompts, Enumerable.Repeat(sharedCandidates, prompts.Count).ToArray());

    /// <summary>Scores prompt i against its own candidates[i] with the shared-prompt-KV path.</summary>
    public CandidateScores Score(IReadOnlyList<int[]> prompts, IReadOnlyList<IReadOnlyList<int[]>> candidates)
    {
        var (sum, lengths, counts) = Prepare(prompts, candidates);
        using var noGrad = no_grad();
        // Batch prompts of similar length together: less left padding, and equal lengths need no mask at all.
        var order = Enumerable.Range(0, prompts.Count).OrderBy(p => prompts[p].Length).ToArray();
        for (int start = 0; start < order.Length; start += PromptBatchSize)
            ScoreBatch(prompts, candidates, order[start..Math.Min(order.Length, start + PromptBatchSize)], sum);
        return new CandidateScores(sum, lengths, counts);
    }

    /// <summary>
    /// The reference path: every (prompt + candidate) through its own full forward, no cache, no sharing.
    /// <paramref name="sequencesPerForward"/> &gt; 1 batches that many right-padded sequences of one prompt together.
    /// </summary>
    public CandidateScores ScoreSeparately(IReadOnlyList<int[]> prompts, IReadOnlyList<IReadOnlyList<int[]>> candidates, int sequencesPerForward = 1)
    {
        if (sequencesPerForward < 1) throw new ArgumentOutOfRangeException(nameof(sequencesPerForward), "must be >= 1");
        var (sum, lengths, counts) = Prepare(prompts, candidates);
        using var noGrad = no_grad();
        for (int p = 0; p < prompts.Count; p++)
            for (int start = 0; start < candidates[p].Count; start += sequencesPerForward)
            {
                int end = Math.Min(candidates[p].Count, start + sequencesPerForward);
                ScoreFull(prompts[p], candidates[p], start, end, p, sum);
            }
        return new CandidateScores(sum, lengths, counts);
    }

    private (float[,] Sum, int[,] Lengths, int[] Counts) Prepare(IReadOnlyList<int[]> prompts, IReadOnlyList<IReadOnlyList<int[]>> candidates)
    {
        ArgumentNullException.ThrowIfNull(prompts);
        ArgumentNullException.ThrowIfNull(candidates);
        if (candidates.Count != prompts.Count)
            throw new ArgumentException($"{candidates.Count} candidate lists for {prompts.Count} prompts", nameof(candidates));
        int vocab = _model.Config.VocabSize, maxPos = _model.Config.MaxPositionEmbeddings;
        int maxC = 0;
        for (int p = 0; p < prompts.Count; p++)
        {
            if (prompts[p] is null || prompts[p].Length == 0) throw new ArgumentException($"prompt {p} is empty", nameof(prompts));
            if (candidates[p] is null || candidates[p].Count == 0) throw new ArgumentException($"prompt {p} has no candidates", nameof(candidates));
            foreach (var t in prompts[p])
                if (t < 0 || t >= vocab) throw new ArgumentException($"prompt {p} holds token {t} outside the vocabulary [0, {vocab})", nameof(prompts));
            for (int c = 0; c < candidates[p].Count; c++)
            {
                var cand = candidates[p][c];
                if (cand is null || cand.Length == 0) throw new ArgumentException($"candidate {c} of prompt {p} is empty", nameof(candidates));
                foreach (var t in cand)
                    if (t < 0 || t >= vocab) throw new ArgumentException($"candidate {c} of prompt {p} holds token {t} outside the vocabulary [0, {vocab})", nameof(candidates));
                if (prompts[p].Length + cand.Length - 1 > maxPos)
                    throw new ArgumentException($"prompt {p} ({prompts[p].Length} tokens) + candidate {c} ({cand.Length} tokens) exceeds max_position_embeddings ({maxPos})", nameof(candidates));
            }
            maxC = Math.Max(maxC, candidates[p].Count);
        }
        var sum = new float[prompts.Count, maxC];
        var lengths = new int[prompts.Count, maxC];
        var counts = new int[prompts.Count];
        for (int p = 0; p < prompts.Count; p++)
        {
            counts[p] = candidates[p].Count;
            for (int c = 0; c < maxC; c++)
            {
                sum[p, c] = float.NegativeInfinity;
                lengths[p, c] = c < counts[p] ? candidates[p][c].Length : 0;
            }
        }
        return (sum, lengths, counts);
    }

    /// <summary>The prompts <paramref name="batch"/>: one prefill, one expanded-cache forward over all their candidates.</summary>
    private void ScoreBatch(IReadOnlyList<int[]> prompts, IReadOnlyList<IReadOnlyList<int[]>> candidates, int[] batch, float[,] sum)
    {
        using var scope = NewDisposeScope();
        using var scores = ContinuationScorer.Score(_model, batch.Select(p => prompts[p]).ToList(),
            batch.Select(p => candidates[p]).ToList(), _pad, MaxLogitElements);
        var values = scores.Sums.cpu().data<float>().ToArray();
        int k = 0;
        foreach (var p in batch)
            for (int c = 0; c < candidates[p].Count; c++)
                sum[p, c] = values[k++];
    }

    /// <summary>Candidates [from, to) of one prompt, each as prompt + candidate through a full forward.</summary>
    private void ScoreFull(int[] prompt, IReadOnlyList<int[]> cands, int from, int to, int promptIndex, float[,] sum)
    {
        using var scope = NewDisposeScope();
        var device = _model.Device;
        int n = to - from, tp = prompt.Length;
        int t = tp + Enumerable.Range(from, n).Max(k => cands[k].Length) - 1;
        var ids = new long[n * t];
        Array.Fill(ids, _pad);
        var positions = new List<long>();
        var tokens = new List<long>();
        var rows = new List<long>();
        for (int i = 0; i < n; i++)
        {
            var cand = cands[from + i];
            for (int j = 0; j < tp; j++) ids[i * t + j] = prompt[j];
            for (int j = 0; j + 1 < cand.Length; j++) ids[i * t + tp + j] = cand[j];
            // Position tp−1+j predicts cand[j]. Right padding needs no mask: causal attention never looks ahead.
            for (int j = 0; j < cand.Length; j++) { positions.Add((long)i * t + tp - 1 + j); tokens.Add(cand[j]); rows.Add(i); }
        }
        var hidden = _model.Hidden(tensor(ids, [n, t], device: device));
        var selected = hidden.reshape(-1, hidden.shape[^1]).index_select(0, tensor(positions.ToArray(), device: device));
        var logProbs = ContinuationScorer.TargetLogProbs(_model, selected, tensor(tokens.ToArray(), device: device), MaxLogitElements);
        var rowScores = zeros(n, ScalarType.Float32, device: device).index_add(0, tensor(rows.ToArray(), device: device), logProbs, 1.0);
        var values = rowScores.cpu().data<float>().ToArray();
        for (int i = 0; i < n; i++) sum[promptIndex, from + i] = values[i];
    }
}
