using RecAlign.Numerics;
using TorchSharp;
using static TorchSharp.torch;

namespace RecAlign.Models.Language.Generation;

/// <summary>
/// Batched autoregressive decoding over token ids: prompts are left-padded and prefilled once into a
/// <see cref="KvCache"/>, then every step feeds one token per row. Greedy, sampling (temperature, top-k, top-p, seeded)
/// and beam search (HF scoring, length penalty, early stopping), with optional per-prompt <see cref="TokenTrie"/>
/// constraints applied as a vectorised [rows, V] mask. Stops at EOS, max_new_tokens, a stop string or a trie leaf.
/// </summary>
public static class Generator
{
    /// <summary>Generates for every prompt. <paramref name="constraints"/> (one per prompt; null entries are free)
    /// restrict outputs to the trie's sequences; <paramref name="decode"/> maps generated ids to text for stop strings
    /// and <see cref="GeneratedSequence.Text"/>. <paramref name="softTokens"/> (one entry per prompt, null for none) are
    /// vectors that replace the embeddings at given prompt positions (<see cref="InjectedEmbeddings"/>): they enter
    /// only while the prompt is prefilled, and decoding then continues from the cache as usual.</summary>
    public static GenerationResult Generate(LanguageModel model, IReadOnlyList<int[]> prompts, GenerationConfig config,
        IReadOnlyList<TokenTrie?>? constraints = null, Func<IReadOnlyList<int>, string>? decode = null, IReadOnlyList<SoftTokens?>? softTokens = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(prompts);
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        var run = new Run(model, prompts, config, constraints, decode, softTokens);
        return config.NumBeams > 1 ? run.Beam() : run.GreedyOrSample();
    }

    /// <summary>Beam search whatever num_beams is (Generate runs greedy for one beam; tests check the two agree).</summary>
    internal static GenerationResult BeamSearch(LanguageModel model, IReadOnlyList<int[]> prompts, GenerationConfig config,
        IReadOnlyList<TokenTrie?>? constraints = null, Func<IReadOnlyList<int>, string>? decode = null)
    {
        config.Validate();
        return new Run(model, prompts, config, constraints, decode).Beam();
    }

    /// <summary>Every prompt constrained by the same trie.</summary>
    public static GenerationResult Generate(LanguageModel model, IReadOnlyList<int[]> prompts, GenerationConfig config,
        TokenTrie constraint, Func<IReadOnlyList<int>, string>? decode = null) =>
        Generate(model, prompts, config, Enumerable.Repeat<TokenTrie?>(constraint, prompts.Count).ToArray(), decode);

    /// <summary>Validated inputs and the pieces both decoding loops share.</summary>
    private sealed class Run
    {
        private readonly LanguageModel _model;
        private readonly IReadOnlyList<int[]> _prompts;
        private readonly GenerationConfig _config;
        private readonly IReadOnlyList<TokenTrie?>? _constraints;
        private readonly Func<IReadOnlyList<int>, string>? _decode;
        private readonly IReadOnlyList<SoftTokens?>? _soft;
        private readonly HashSet<int> _eos;
        private readonly int _pad;
        private readonly int _vocab;

        public Run(LanguageModel model, IReadOnlyList<int[]> prompts, GenerationConfig config,
            IReadOnlyList<TokenTrie?>? constraints, Func<IReadOnlyList<int>, string>? decode, IReadOnlyList<SoftTokens?>? softTokens = null)
        {
            _model = model;
            _soft = softTokens;
            if (softTokens is not null && softTokens.Count != prompts.Count)
                throw new ArgumentException($"{softTokens.Count} soft-token entries for {prompts.Count} prompts; give one per prompt (null for none)", nameof(softTokens));
            _prompts = prompts;
            _config = config;
            _constraints = constraints;
            _decode = decode;
            _vocab = model.Config.VocabSize;
            if (prompts.Count == 0) throw new ArgumentException("no prompts to generate from", nameof(prompts));
            for (int p = 0; p < prompts.Count; p++)
            {
                if (prompts[p] is null || prompts[p].Length == 0) throw new ArgumentException($"prompt {p} is empty", nameof(prompts));
                foreach (var t in prompts[p])
                    if (t < 0 || t >= _vocab) throw new ArgumentException($"prompt {p} holds token {t} outside the vocabulary [0, {_vocab})", nameof(prompts));
                int last = prompts[p].Length + config.MaxNewTokens - 1;
                if (last > model.Config.MaxPositionEmbeddings)
                    throw new ArgumentException($"prompt {p} ({prompts[p].Length} tokens) + max_new_tokens ({config.MaxNewTokens}) exceeds max_position_embeddings ({model.Config.MaxPositionEmbeddings})", nameof(prompts));
            }
            if (constraints is not null && constraints.Count != prompts.Count)
                throw new ArgumentException($"{constraints.Count} constraint tries for {prompts.Count} prompts; give one per prompt (null for none)", nameof(constraints));
            if (config.StopStrings.Count > 0 && decode is null)
                throw new ArgumentException("stop_strings need a decode callback", nameof(decode));
            IReadOnlyList<int> eos = config.EosTokenId.Count > 0 ? config.EosTokenId
                : model.Config.EosTokenId is { } e ? [e] : [];
            _eos = eos.ToHashSet();
            _pad = config.PadTokenId ?? model.Config.PadTokenId ?? (eos.Count > 0 ? eos[0] : 0);
        }

        private TokenTrie? TrieOf(int prompt) => _constraints?[prompt];

        /// <summary>Left-pads the prompts, prefills the cache and returns fp32 logits of each prompt's last token [B, V].</summary>
        private Tensor Prefill(KvCache cache)
        {
            int b = _prompts.Count;
            var (ids, mask, t) = ContinuationScorer.LeftPad(_prompts, _pad);
            using var scope = NewDisposeScope();
            var device = _model.Device;
            var injected = _soft is null ? null
                : InjectedEmbeddings.ForRows(_soft, _prompts.Select(p => t - p.Length).ToArray(), b, t, device);
            var hidden = _model.Hidden(tensor(ids, [b, t], device: device), tensor(mask, [b, t], device: device), cache, injected);
            return _model.Logits(hidden.select(1, t - 1)).to(ScalarType.Float32).DetachFromDisposeScope();
        }

        /// <summary>Feeds one token per row and returns the fp32 next-token logits [R, V].</summary>
        private Tensor Step(KvCache cache, long[] tokens)
        {
            using var scope = NewDisposeScope();
            var ids = tensor(tokens, [tokens.Length, 1], device: _model.Device);
            var hidden = _model.Hidden(ids, cache: cache);
            return _model.Logits(hidden.select(1, 0)).to(ScalarType.Float32).DetachFromDisposeScope();
        }

        /// <summary>
        /// Bool [R, V], true where a row may emit a token: the children of the row's trie node, or every token for
        /// rows without a trie (or marked free). Built from (row, token) index lists, never by looping over the vocab.
        /// Null when no row is constrained.
        /// </summary>
        private Tensor? AllowedMask(Func<int, TokenTrie?> trieOfRow, int[] nodes, Func<int, bool> free)
        {
            int rows = nodes.Length;
            var rowIdx = new List<long>();
            var tokIdx = new List<long>();
            var freeRows = new List<long>();
            for (int r = 0; r < rows; r++)
            {
                var trie = trieOfRow(r);
                if (trie is null || free(r)) { freeRows.Add(r); continue; }
                foreach (var tok in trie.Allowed(nodes[r]))
                {
                    if (tok >= _vocab) throw new ArgumentException($"constraint trie holds token {tok} outside the vocabulary [0, {_vocab})");
                    rowIdx.Add(r);
                    tokIdx.Add(tok);
                }
            }
            if (freeRows.Count == rows) return null;
            var device = _model.Device;
            var allowed = zeros(rows, _vocab, ScalarType.Bool, device: device);
            if (rowIdx.Count > 0)
                allowed.index_put_(tensor(true, device: device), tensor(rowIdx.ToArray(), device: device), tensor(tokIdx.ToArray(), device: device));
            if (freeRows.Count > 0)
                allowed.index_fill_(0, tensor(freeRows.ToArray(), device: device), true);
            return allowed;
        }

        private bool HitsStop(List<int> tokens, out string? text)
        {
            text = null;
            if (_decode is null) return false;
            text = _decode(tokens);
            if (_config.StopStrings.Count == 0) return false;
            int cut = -1;
            foreach (var s in _config.StopStrings)
            {
                int i = text.IndexOf(s, StringComparison.Ordinal);
                if (i >= 0 && (cut < 0 || i < cut)) cut = i;
            }
            if (cut < 0) return false;
            text = text[..cut];
            return true;
        }

        private string? FinalText(IReadOnlyList<int> tokens, FinishReason reason, string? stopText)
        {
            if (_decode is null) return null;
            if (reason == FinishReason.StopString) return stopText;
            var body = reason == FinishReason.Eos && tokens.Count > 0 ? tokens.Take(tokens.Count - 1).ToArray() : tokens;
            return _decode(body);
        }

        // ---------------------------------------------------------------- greedy and sampling

        public GenerationResult GreedyOrSample()
        {
            using var noGrad = no_grad();
            int b = _prompts.Count, n = _config.NumReturnSequences, rows = b * n;
            bool sample = _config.DoSample;
            using var torchGen = sample ? new torch.Generator((ulong)_config.Seed, _model.Device) : null;

            var tokens = Enumerable.Range(0, rows).Select(_ => new List<int>()).ToArray();
            var lps = Enumerable.Range(0, rows).Select(_ => new List<float>()).ToArray();
            var finished = new bool[rows];
            var reasons = new FinishReason[rows];
            var stopTexts = new string?[rows];
            var nodes = new int[rows];
            TokenTrie? RowTrie(int r) => TrieOf(r / n);

            using var prompted = _model.NewCache();
            var logits = Prefill(prompted);
            KvCache cache = prompted;
            KvCache? expanded = null;
            if (n > 1)
            {
                expanded = prompted.RepeatInterleave(n);
                cache = expanded;
                var rep = logits.repeat_interleave(n, 0).DetachFromDisposeScope();
                logits.Dispose();
                logits = rep;
            }
            try
            {
                for (int step = 0; step < _config.MaxNewTokens; step++)
                {
                    long[] next;
                    float[] chosenLp;
                    using (var scope = NewDisposeScope())
                    {
                        var logProbs = logits.log_softmax(-1);
                        var scores = logits;
                        var allowed = AllowedMask(RowTrie, nodes, r => finished[r]);
                        if (allowed is not null) scores = scores.MaskedFill(allowed.logical_not(), float.NegativeInfinity);
                        Tensor nextT;
                        if (!sample) nextT = scores.argmax(-1);
                        else
                        {
                            scores = ProcessForSampling(scores);
                            nextT = scores.softmax(-1).multinomial(1, generator: torchGen).squeeze(1);
                        }
                        next = nextT.cpu().data<long>().ToArray();
                        chosenLp = logProbs.gather(1, nextT.unsqueeze(1)).squeeze(1).cpu().data<float>().ToArray();
                    }

                    bool allDone = true;
                    for (int r = 0; r < rows; r++)
                    {
                        if (finished[r]) { next[r] = _pad; continue; }
                        int tok = (int)next[r];
                        tokens[r].Add(tok);
                        lps[r].Add(chosenLp[r]);
                        if (RowTrie(r) is { } trie) nodes[r] = trie.Next(nodes[r], tok);
                        if (_eos.Contains(tok)) Finish(r, FinishReason.Eos);
                        else if (RowTrie(r) is { } t2 && t2.IsLeaf(nodes[r])) Finish(r, FinishReason.Constraint);
                        else if (_config.StopStrings.Count > 0 && HitsStop(tokens[r], out var text)) { Finish(r, FinishReason.StopString); stopTexts[r] = text; }
                        else if (tokens[r].Count >= _config.MaxNewTokens) Finish(r, FinishReason.MaxNewTokens);
                        allDone &= finished[r];
                    }
                    if (allDone) break;
                    var nextLogits = Step(cache, next);
                    logits.Dispose();
                    logits = nextLogits;
                }
            }
            finally
            {
                logits.Dispose();
                expanded?.Dispose();
            }

            var result = new IReadOnlyList<GeneratedSequence>[b];
            for (int p = 0; p < b; p++)
            {
                var list = new List<GeneratedSequence>(n);
                for (int r = p * n; r < (p + 1) * n; r++)
                {
                    var lp = lps[r].ToArray();
                    list.Add(new GeneratedSequence(tokens[r].ToArray(), lp, lp.Sum(x => (double)x), reasons[r], FinalText(tokens[r], reasons[r], stopTexts[r])));
                }
                result[p] = list;
            }
            return new GenerationResult(result);

            void Finish(int r, FinishReason reason) { finished[r] = true; reasons[r] = reason; }
        }

        /// <summary>HF's sampling warpers in HF's order: temperature, then top-k, then top-p (nucleus).</summary>
        private Tensor ProcessForSampling(Tensor scores)
        {
            if (_config.Temperature != 1.0) scores = scores / _config.Temperature;
            if (_config.TopK > 0 && _config.TopK < scores.shape[1])
            {
                var (topValues, _) = scores.topk(_config.TopK, dim: -1);
                var kth = topValues.narrow(1, _config.TopK - 1, 1);
                scores = scores.MaskedFill(scores < kth, float.NegativeInfinity);
            }
            if (_config.TopP < 1.0)
            {
                var (sorted, order) = scores.sort(-1, descending: true);
                var probs = sorted.softmax(-1);
                // Drop a token once the tokens ranked above it already reach top_p; the best token always stays.
                var before = probs.cumsum(-1) - probs;
                var dropSorted = before >= _config.TopP;
                var drop = zeros_like(dropSorted).scatter(-1, order, dropSorted);
                scores = scores.MaskedFill(drop, float.NegativeInfinity);
            }
            return scores;
        }

        // ---------------------------------------------------------------- beam search

        private sealed class Hypotheses(int capacity)
        {
            public readonly List<(double Score, int[] Tokens, float[] LogProbs, FinishReason Reason, string? StopText)> Items = [];
            public double Worst => Items.Count == 0 ? double.PositiveInfinity : Items.Min(h => h.Score);

            public void Add(double score, int[] tokens, float[] logProbs, FinishReason reason, string? stopText)
            {
                if (Items.Count >= capacity && score <= Worst) return;
                Items.Add((score, tokens, logProbs, reason, stopText));
                if (Items.Count > capacity)
                {
                    int worst = 0;
                    for (int i = 1; i < Items.Count; i++) if (Items[i].Score < Items[worst].Score) worst = i;
                    Items.RemoveAt(worst);
                }
            }
        }

        private double Normalise(double sumLogProb, int length) => sumLogProb / Math.Pow(length, _config.LengthPenalty);

        /// <summary>HF BeamHypotheses.is_done: can any running beam still beat the worst finished hypothesis?</summary>
        private bool IsDone(Hypotheses hyps, double bestRunning, int length, int beams)
        {
            if (hyps.Items.Count < beams) return false;
            if (double.IsNegativeInfinity(bestRunning)) return true; // no live beam left
            double highest = _config.EarlyStopping switch
            {
                EarlyStopping.True => double.NegativeInfinity,
                EarlyStopping.Never when _config.LengthPenalty > 0 => Normalise(bestRunning, _config.MaxNewTokens),
                _ => Normalise(bestRunning, length),
            };
            return hyps.Worst >= highest;
        }

        public GenerationResult Beam()
        {
            using var noGrad = no_grad();
            int b = _prompts.Count, nb = _config.NumBeams, rows = b * nb;
            int candidates = (int)Math.Min(Math.Max(2, 1 + _eos.Count) * nb, (long)nb * _vocab);

            var tokens = Enumerable.Range(0, rows).Select(_ => new List<int>()).ToArray();
            var lps = Enumerable.Range(0, rows).Select(_ => new List<float>()).ToArray();
            var nodes = new int[rows];
            var beamScores = new float[rows];
            for (int r = 0; r < rows; r++) beamScores[r] = r % nb == 0 ? 0f : float.NegativeInfinity; // beams start identical
            var hyps = Enumerable.Range(0, b).Select(_ => new Hypotheses(nb)).ToArray();
            var done = new bool[b];
            TokenTrie? RowTrie(int r) => TrieOf(r / nb);

            using var prompted = _model.NewCache();
            var first = Prefill(prompted);
            using var cache = prompted.RepeatInterleave(nb);
            var logits = first.repeat_interleave(nb, 0).DetachFromDisposeScope();
            first.Dispose();
            try
            {
                for (int step = 0; step < _config.MaxNewTokens; step++)
                {
                    int length = step + 1;
                    float[] vals, tokLp;
                    long[] idx;
                    using (var scope = NewDisposeScope())
                    {
                        var logProbs = logits.log_softmax(-1);
                        var scores = logProbs;
                        var allowed = AllowedMask(RowTrie, nodes, r => done[r / nb]);
                        if (allowed is not null) scores = scores.MaskedFill(allowed.logical_not(), float.NegativeInfinity);
                        scores = scores + tensor(beamScores, device: _model.Device).unsqueeze(1);
                        var (topVals, topIdx) = scores.view(b, (long)nb * _vocab).topk(candidates, dim: 1, largest: true, sorted: true);
                        vals = topVals.cpu().data<float>().ToArray();
                        idx = topIdx.cpu().data<long>().ToArray();
                        tokLp = logProbs.view(b, (long)nb * _vocab).gather(1, topIdx).cpu().data<float>().ToArray();
                    }

                    var source = new long[rows];
                    var nextTokens = new long[rows];
                    var nextScores = new float[rows];
                    var nextTokenLists = new List<int>[rows];
                    var nextLpLists = new List<float>[rows];
                    var nextNodes = new int[rows];
                    for (int p = 0; p < b; p++)
                    {
                        int filled = 0;
                        if (!done[p])
                        {
                            for (int j = 0; j < candidates && filled < nb; j++)
                            {
                                float score = vals[p * candidates + j];
                                if (float.IsNegativeInfinity(score)) break; // sorted: the rest are impossible too
                                long flat = idx[p * candidates + j];
                                int srcRow = p * nb + (int)(flat / _vocab), tok = (int)(flat % _vocab);
                                float lp = tokLp[p * candidates + j];
                                int node = RowTrie(srcRow) is { } trie ? trie.Next(nodes[srcRow], tok) : TokenTrie.None;
                                if (_eos.Contains(tok))
                                {
                                    // HF: an EOS outside the top num_beams candidates does not finish a hypothesis.
                                    if (j < nb) hyps[p].Add(Normalise(score, length), [.. tokens[srcRow], tok], [.. lps[srcRow], lp], FinishReason.Eos, null);
                                    continue;
                                }
                                var extended = new List<int>(tokens[srcRow]) { tok };
                                if (RowTrie(srcRow) is { } t2 && t2.IsLeaf(node))
                                {
                                    if (j < nb) hyps[p].Add(Normalise(score, length), [.. extended], [.. lps[srcRow], lp], FinishReason.Constraint, null);
                                    continue;
                                }
                                if (_config.StopStrings.Count > 0 && HitsStop(extended, out var stopText))
                                {
                                    if (j < nb) hyps[p].Add(Normalise(score, length), [.. extended], [.. lps[srcRow], lp], FinishReason.StopString, stopText);
                                    continue;
                                }
                                int row = p * nb + filled++;
                                source[row] = srcRow;
                                nextTokens[row] = tok;
                                nextScores[row] = score;
                                nextTokenLists[row] = extended;
                                nextLpLists[row] = new List<float>(lps[srcRow]) { lp };
                                nextNodes[row] = node;
                            }
                        }
                        // Rows left over (prompt finished, or fewer live candidates than beams) become dead beams.
                        for (int row = p * nb + filled; row < (p + 1) * nb; row++)
                        {
                            source[row] = row;
                            nextTokens[row] = _pad;
                            nextScores[row] = float.NegativeInfinity;
                            nextTokenLists[row] = tokens[row];
                            nextLpLists[row] = lps[row];
                            nextNodes[row] = TokenTrie.None;
                        }
                        if (!done[p])
                        {
                            double best = vals[p * candidates]; // HF checks the best candidate score of this step
                            done[p] = IsDone(hyps[p], best, length, nb) || filled == 0;
                        }
                    }
                    tokens = nextTokenLists;
                    lps = nextLpLists;
                    nodes = nextNodes;
                    beamScores = nextScores;
                    if (done.All(d => d)) break;
                    if (!IsIdentity(source))
                    {
                        // tensor(..., device) makes an intermediate that only a scope catches.
                        using var scope = NewDisposeScope();
                        cache.Reorder(tensor(source, device: _model.Device));
                    }
                    var nextLogits = Step(cache, nextTokens);
                    logits.Dispose();
                    logits = nextLogits;
                }
            }
            finally
            {
                logits.Dispose();
            }

            // Prompts still running at max_new_tokens: their live beams join the hypotheses (HF finalize).
            for (int p = 0; p < b; p++)
            {
                if (done[p]) continue;
                for (int row = p * nb; row < (p + 1) * nb; row++)
                    if (!float.IsNegativeInfinity(beamScores[row]))
                        hyps[p].Add(Normalise(beamScores[row], Math.Max(1, tokens[row].Count)), [.. tokens[row]], [.. lps[row]], FinishReason.MaxNewTokens, null);
            }
            var result = new IReadOnlyList<GeneratedSequence>[b];
            for (int p = 0; p < b; p++)
            {
                result[p] = hyps[p].Items.OrderByDescending(h => h.Score).Take(_config.NumReturnSequences)
                    .Select(h => new GeneratedSequence(h.Tokens, h.LogProbs, h.Score, h.Reason, FinalText(h.Tokens, h.Reason, h.StopText)))
                    .ToArray();
            }
            return new GenerationResult(result);
        }

        private static bool IsIdentity(long[] index)
        {
            for (int i = 0; i < index.Length; i++) if (index[i] != i) return false;
            return true;
        }
    }
}
