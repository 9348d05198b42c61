using RecAlign.Inference;
using RecAlign.Models.Language;
using RecAlign.Models.Language.Generation;
using RecAlign.Text;
using static TorchSharp.torch;

namespace RecAlign.Interpretation;

/// <summary>RecInterpreter's metrics on generated text.</summary>
public static class InterpretationMetrics
{
    /// <summary>How many of the history's distinct titles occur in <paramref name="output"/> as literal, case-sensitive
    /// substrings (the released evaluator's count, with titles matched as text, never as regular expressions: "a+b (c)"
    /// matches only itself).</summary>
    public static int Recovered(string output, IEnumerable<string> historyTitles) =>
        historyTitles.Where(t => t.Length > 0).Distinct(StringComparer.Ordinal).Count(t => output.Contains(t, StringComparison.Ordinal));

    /// <summary>Residual accuracy of one answer: the normalised generation equals the normalised title
    /// (<see cref="AnswerMatcher.Normalize"/>: case, spacing, surrounding quotes and trailing punctuation).</summary>
    public static bool ResidualHit(string output, string title) =>
        AnswerMatcher.Normalize(output) == AnswerMatcher.Normalize(title);
}

/// <summary>One evaluated example: what was generated and how it scored.</summary>
public sealed record InterpretationOutput(InterpretTask Task, int User, string Generated, string Target, int Recovered, int HistoryTitles, bool Hit);

/// <summary>The summary of one task's evaluation (<see cref="InterpretationEvaluator.Summarize"/>).</summary>
public sealed record InterpretationScores(IReadOnlyDictionary<string, double> Metrics, IReadOnlyDictionary<int, int> RecoveredHistogram);

/// <summary>Greedy generation from the frozen LM with the adapter's soft tokens in the prompt (prefilled once, then
/// decoded from the cache as usual), and the metrics over it.</summary>
public static class InterpretationEvaluator
{
    public static List<InterpretationOutput> Run(LanguageModel lm, ITokenizer tokenizer, StateAdapter adapter, IHistoryStates states,
        IReadOnlyList<InterpretationExample> examples, int maxNewTokens, int batchSize = 16)
    {
        var outputs = new List<InterpretationOutput>(examples.Count);
        bool wasTraining = adapter.training;
        adapter.eval();
        try
        {
            using var noGrad = no_grad();
            for (int start = 0; start < examples.Count; start += batchSize)
            {
                using var scope = NewDisposeScope();
                var rows = examples.Skip(start).Take(batchSize).ToList();
                var soft = InterpretationObjective.SoftTokensOf(adapter, states, rows, lm.Device);
                int room = lm.Config.MaxPositionEmbeddings - rows.Max(r => r.Prompt.Length) + 1;
                if (room < 1) throw new ArgumentException($"the interpreter's prompt ({rows.Max(r => r.Prompt.Length)} tokens) leaves no room to generate in the LM's context of {lm.Config.MaxPositionEmbeddings}");
                var config = new GenerationConfig { MaxNewTokens = Math.Min(maxNewTokens, room), EosTokenId = tokenizer.StopIds().ToList(), PadTokenId = tokenizer.PadOrEosId() };
                var result = Models.Language.Generation.Generator.Generate(lm, rows.Select(r => r.Prompt).ToList(), config, decode: ids => tokenizer.Decode(ids), softTokens: soft);
                for (int i = 0; i < rows.Count; i++)
                {
                    var e = rows[i];
                    var text = result.Best(i).Text ?? "";
                    outputs.Add(e.Task == InterpretTask.Recovery
                        ? new InterpretationOutput(e.Task, e.User, text, e.Target, InterpretationMetrics.Recovered(text, e.HistoryTitles), e.HistoryTitles.Distinct(StringComparer.Ordinal).Count(), false)
                        : new InterpretationOutput(e.Task, e.User, text, e.Target, 0, 0, InterpretationMetrics.ResidualHit(text, e.Target)));
                }
            }
        }
        finally { if (wasTraining) adapter.train(); }
        return outputs;
    }

    /// <summary>Recovery: <c>recovered_mean</c> (mean titles recovered per user, the paper's "Ave Recover"),
    /// <c>recovered_fraction</c> (mean share of each history's distinct titles), <c>history_titles_mean</c>, and the
    /// distribution of per-user counts. Residual: <c>residual_accuracy</c>. Each with its example count.</summary>
    public static InterpretationScores Summarize(IReadOnlyList<InterpretationOutput> outputs)
    {
        var metrics = new Dictionary<string, double>();
        var histogram = new SortedDictionary<int, int>();
        var recovery = outputs.Where(o => o.Task == InterpretTask.Recovery).ToList();
        if (recovery.Count > 0)
        {
            metrics["recovered_mean"] = recovery.Average(o => o.Recovered);
            metrics["recovered_fraction"] = recovery.Average(o => o.HistoryTitles == 0 ? 0 : (double)o.Recovered / o.HistoryTitles);
            metrics["history_titles_mean"] = recovery.Average(o => o.HistoryTitles);
            metrics["recovery_examples"] = recovery.Count;
            foreach (var o in recovery) histogram[o.Recovered] = histogram.GetValueOrDefault(o.Recovered) + 1;
        }
        var residual = outputs.Where(o => o.Task == InterpretTask.Residual).ToList();
        if (residual.Count > 0)
        {
            metrics["residual_accuracy"] = residual.Average(o => o.Hit ? 1.0 : 0.0);
            metrics["residual_examples"] = residual.Count;
        }
        return new InterpretationScores(metrics, histogram);
    }
}
