using System.CommandLine;
using RecAlign.Data.Formats;
using RecAlign.Evaluation;
using RecAlign.Models.Language;
using RecAlign.Models.Language.Generation;
using RecAlign.Prompts;
using Spectre.Console;

namespace RecAlign.Cli.Commands;

/// <summary><c>recalign eval</c>: any candidate-prompt JSON file (S-DPO/CausalDPO format) with a model directory.</summary>
internal static class EvalCommand
{
    public static Command Build()
    {
        var model = new Option<string>("--model") { Description = "model directory (config.json, model.safetensors, tokenizer)", Required = true };
        var candidates = new Option<string>("--candidates") { Description = "candidate-prompt JSON (.json or .json.gz)", Required = true };
        var mode = new Option<string>("--mode") { Description = "rank (likelihood of every candidate) or generate (answer + matching)", DefaultValueFactory = _ => "rank" };
        var output = new Option<string?>("--out") { Description = "write the result JSON here" };
        var template = new Option<string>("--template") { Description = "prompt template set (music, movie, item) or a template file", DefaultValueFactory = _ => "item" };
        var limit = new Option<int?>("--limit") { Description = "evaluate only the first N prompts" };
        var batch = new Option<int>("--batch-size") { DefaultValueFactory = _ => 8 };
        var beams = new Option<int>("--beams") { Description = "beam width in generate mode (1 = greedy)", DefaultValueFactory = _ => 1 };
        var constrained = new Option<bool>("--constrained") { Description = "generate mode: restrict answers to the candidate titles" };
        var normalised = new Option<bool>("--length-normalised") { Description = "rank mode: mean log-prob per token instead of the sum" };
        var threads = CommonOptions.Threads();
        var command = new Command("eval", "evaluate a model on a candidate-prompt file: hr1, valid_ratio (and HR/NDCG/MRR@K in rank mode)")
        {
            model, candidates, mode, output, template, limit, batch, beams, constrained, normalised, threads,
        };
        command.SetAction(parse =>
        {
            CommonOptions.ApplyThreads(parse.GetValue(threads));
            var file = CandidatePromptJson.Read(parse.GetValue(candidates)!);
            foreach (var w in file.Warnings.Take(5)) Console.Error.WriteLine($"warning: {w}");
            var examples = parse.GetValue(limit) is { } n ? file.Examples.Take(n) : file.Examples;
            var builder = new PromptBuilder(file.Catalog, PromptTemplates.NamedOrFile(parse.GetValue(template)!));
            var questions = CandidateQuestions.From(builder, file.Catalog, examples);
            var (lm, tokenizer) = ModelDirectory.Load(parse.GetValue(model)!);
            using (lm)
            {
                var result = parse.GetValue(mode) switch
                {
                    "rank" => CandidateEvaluator.Rank(lm, tokenizer, questions, parse.GetValue(normalised), parse.GetValue(batch)),
                    "generate" => CandidateEvaluator.Generate(lm, tokenizer, questions,
                        new GenerationConfig { MaxNewTokens = 32, NumBeams = parse.GetValue(beams) }, parse.GetValue(constrained), parse.GetValue(batch)),
                    var other => throw new ArgumentException($"--mode must be rank or generate (got '{other}')"),
                };
                var table = new Table().AddColumns("metric", "value");
                table.AddRow("n", result.N.ToString());
                foreach (var (k, v) in result.Metrics) table.AddRow(k, v.ToString("F4"));
                AnsiConsole.Write(table);
                if (parse.GetValue(output) is { } path)
                {
                    result.WriteJson(path);
                    Console.WriteLine($"wrote {path}");
                }
            }
            return 0;
        });
        return command;
    }
}
