using System.Text.Json.Nodes;
using RecAlign.Data.Formats;
using RecAlign.Prompts;
using RecAlign.Text;

namespace RecAlign.Bench;

/// <summary>
/// title-tokenization --model DIR --candidates FILE.json [--template music] [--max-prompt-tokens 480] [--out F.json]:
/// how a title LM sees a candidate file — answer lengths in tokens (" title" + EOS, as scored), the first-token
/// bottleneck (how often the answer shares its first token with another candidate of its list, where the summed
/// log-probability must then be decided by later tokens), and prompt lengths against the truncation limit.
/// A diagnosis, not a speed figure: no model is run.
/// </summary>
internal static class TitleTokenizationBench
{
    public static int Run(string[] args)
    {
        var modelDir = BenchOutput.Value(args, "--model") ?? throw new ArgumentException("--model DIR is required");
        var candidatesPath = BenchOutput.Value(args, "--candidates") ?? throw new ArgumentException("--candidates FILE.json is required");
        var template = BenchOutput.Value(args, "--template") ?? "music";
        int maxPrompt = int.Parse(BenchOutput.Value(args, "--max-prompt-tokens") ?? "480");
        var tokenizer = TokenizerLoader.Load(modelDir);
        if (tokenizer is ItemTokenizer items) tokenizer = items.Inner; // titles as the base vocabulary writes them
        var file = CandidatePromptJson.Read(candidatesPath);
        var questions = CandidateQuestions.From(new PromptBuilder(file.Catalog, PromptTemplates.NamedOrFile(template)), file.Catalog, file.Examples);

        var answerTokens = new Dictionary<string, int[]>(StringComparer.Ordinal);
        int[] Answer(string title) => answerTokens.TryGetValue(title, out var t) ? t : answerTokens[title] = PromptTokenization.Response(tokenizer, title);
        var lengths = questions.SelectMany(q => q.Candidates).Select(c => Answer(c).Length).Order().ToArray();
        int shared = 0, sharedCandidates = 0, sharedTwo = 0;
        foreach (var q in questions)
        {
            var target = Answer(q.Candidates[q.TargetIndex]);
            int n = q.Candidates.Where((c, i) => i != q.TargetIndex && Answer(c)[0] == target[0]).Count();
            int n2 = q.Candidates.Where((c, i) => i != q.TargetIndex && Answer(c).Length > 1 && target.Length > 1 && Answer(c)[0] == target[0] && Answer(c)[1] == target[1]).Count();
            if (n > 0) shared++;
            if (n2 > 0) sharedTwo++;
            sharedCandidates += n;
        }
        var catalogFirst = file.Catalog.Items.Select(i => Answer(i.Title)[0]).ToList();
        var prompts = questions.Select(q => PromptTokenization.Prompt(tokenizer, q.Prompt).Length).Order().ToArray();
        double Pct(int k, int n) => Math.Round(100.0 * k / n, 1);
        var result = new JsonObject
        {
            ["bench"] = "title-tokenization", ["model"] = Path.GetFullPath(modelDir), ["candidates"] = Path.GetFullPath(candidatesPath),
            ["questions"] = questions.Count, ["catalog_titles"] = file.Catalog.Count,
            ["answer_tokens_mean"] = Math.Round(lengths.Average(), 2), ["answer_tokens_median"] = lengths[lengths.Length / 2], ["answer_tokens_max"] = lengths[^1],
            ["answers_of_two_tokens_pct"] = Pct(lengths.Count(l => l == 2), lengths.Length),
            ["catalog_distinct_first_tokens"] = catalogFirst.Distinct().Count(),
            ["questions_target_shares_first_token_pct"] = Pct(shared, questions.Count),
            ["other_candidates_sharing_target_first_token_mean"] = Math.Round((double)sharedCandidates / questions.Count, 3),
            ["questions_target_shares_first_two_tokens_pct"] = Pct(sharedTwo, questions.Count),
            ["prompt_tokens_mean"] = Math.Round(prompts.Average(), 1), ["prompt_tokens_max"] = prompts[^1],
            ["prompts_over_limit_pct"] = Pct(prompts.Count(p => p > maxPrompt), prompts.Length), ["max_prompt_tokens"] = maxPrompt,
        };
        BenchOutput.Write(args, "title-tokenization", result,
        [
            ("questions / catalog titles", $"{questions.Count} / {file.Catalog.Count}"),
            ("answer tokens (\" title\" + EOS): mean / median / max", $"{lengths.Average():F2} / {lengths[lengths.Length / 2]} / {lengths[^1]}"),
            ("answers of one title token (+ EOS)", $"{Pct(lengths.Count(l => l == 2), lengths.Length)}%"),
            ("distinct first tokens over the catalog's titles", $"{catalogFirst.Distinct().Count()} of {file.Catalog.Count}"),
            ("questions whose answer shares its first token with another candidate", $"{Pct(shared, questions.Count)}% (mean {(double)sharedCandidates / questions.Count:F2} such candidates)"),
            ("... shares its first two tokens", $"{Pct(sharedTwo, questions.Count)}%"),
            ("prompt tokens: mean / max", $"{prompts.Average():F0} / {prompts[^1]}"),
            ($"prompts over {maxPrompt} tokens (left-truncated)", $"{Pct(prompts.Count(p => p > maxPrompt), prompts.Length)}%"),
        ]);
        return 0;
    }
}
