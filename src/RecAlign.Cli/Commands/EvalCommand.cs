using System.CommandLine;
using System.CommandLine.Parsing;
using System.Text.Json.Nodes;
using RecAlign.Data;
using RecAlign.Data.Formats;
using RecAlign.Evaluation;
using RecAlign.Inference;
using RecAlign.Models;
using RecAlign.Models.Language;
using RecAlign.Models.Language.Generation;
using RecAlign.Prompts;
using RecAlign.Text;
using Spectre.Console;

namespace RecAlign.Cli.Commands;

/// <summary><c>recalign eval</c>: any candidate-prompt JSON file (S-DPO/CausalDPO format) with a model directory.</summary>
internal static class EvalCommand
{
    public static Command Build()
    {
        var model = new Option<string>("--model") { Description = "model directory (config.json, model.safetensors, tokenizer)", Required = true };
        var candidates = new Option<string>("--candidates") { Description = "candidate-prompt JSON (.json or .json.gz)" };
        var dataset = new Option<string?>("--dataset") { Description = "instead of --candidates: a canonical dataset (data prepare), split leave-one-out, every next item ranked against the whole catalog with the history masked (RecBole's full sort: HR/NDCG/MRR@1,5,10,20)" };
        var split = new Option<string>("--split") { Description = "with --dataset: test (each user's last item) or validation (second to last)", DefaultValueFactory = _ => "test" };
        split.AcceptOnlyFromAmong("test", "validation");
        var mode = new Option<string>("--mode")
        {
            Description = "rank (likelihood of every candidate), generate (answer matched to a candidate) or catalog (free answer grounded to the whole catalog: hr1, valid_ratio, HR/NDCG@K)",
            DefaultValueFactory = _ => "rank",
        };
        mode.AcceptOnlyFromAmong("rank", "generate", "catalog");
        var catalogFile = new Option<string?>("--catalog")
        {
            Description = "catalog mode: the ranking universe answers are grounded to, an item list (id::title as id2name.txt / ood_id2name.txt, or u.item); " +
                "default: the titles of the candidate file",
        };
        var output = new Option<string?>("--out") { Description = "write the result JSON here (metrics plus what was evaluated)" };
        var template = CommonOptions.Template();
        var limit = new Option<int?>("--limit") { Description = "evaluate only the first N prompts (N > 0)" };
        var batch = new Option<int>("--batch-size") { Description = "prompts scored or generated at once (> 0; larger is faster and uses more memory)", DefaultValueFactory = _ => 8 };
        var beams = new Option<int>("--beams") { Description = "beam width in generate and catalog mode (1 = greedy)", DefaultValueFactory = _ => 1 };
        var constrained = new Option<bool>("--constrained") { Description = "generate mode: restrict answers to the candidate titles" };
        var normalised = new Option<bool>("--length-normalised") { Description = "rank mode: mean log-prob per token instead of the sum" };
        var fromHistory = new Option<bool>("--from-history") { Description = "rank mode, a model with item tokens: rank each list by the next-item distribution after its history alone (the pretraining format, as a sequential model ranks), not by the prompt" };
        var groups = new Option<string>("--groups")
        {
            Description = "with --dataset: item groups for the item-side fairness figures (MGU/DGU@K, coverage, Gini): popularity (equal-size groups by training interaction count), genre, or none",
            DefaultValueFactory = _ => "popularity",
        };
        groups.AcceptOnlyFromAmong("popularity", "genre", "none");
        var popularityGroups = new Option<int>("--popularity-groups") { Description = "with --groups popularity: how many groups", DefaultValueFactory = _ => 5 };
        CommonOptions.Positive(popularityGroups);
        var table = new Option<string?>("--table") { Description = "instead of --candidates: a sequence table (seq,len_seq,next CSV, as LLaRA/S-DPO/DreamRec write them), every row's next item ranked against the whole catalog" };
        var tableItems = new Option<string?>("--items") { Description = "with --table: its item list (default: id2name.txt / u.item / data_statis.csv beside it)" };
        var keepEmpty = new Option<bool>("--keep-empty-histories") { Description = "with --table: score rows with an empty history too (DreamRec's protocol), which are dropped by default" };
        var ks = new Option<string?>("--ks") { Description = "with --dataset or --table: the cut-offs K of HR/NDCG/MRR@K, comma-separated (default 1,5,10,20; DreamRec reports 10,20,50)" };
        var maskHistory = new Option<bool>("--mask-history") { Description = "with --dataset or --table: remove the user's history items from the ranking (RecBole's full sort)", DefaultValueFactory = _ => true };
        var modelSet = new Option<string[]>("--model-set")
        {
            Description = "replace a field of the model's config.json for this evaluation, key=value (repeatable), e.g. DreamRec's sampler=ddim sampling_steps=20 guidance_weight=2 sample_dropout=true",
            AllowMultipleArgumentsPerToken = false,
        };
        var itemText = CommonOptions.ItemTextOption("how the prompts write items: title, token or title_token (default: token for a model with item tokens, whose items the file's are mapped onto by title; title otherwise)");
        var threads = CommonOptions.Threads();
        var device = CommonOptions.Device();
        CommonOptions.Positive(limit);
        CommonOptions.Positive(batch);
        CommonOptions.Positive(beams);
        var command = new Command("eval", "evaluate a model on a candidate-prompt file: hr1, valid_ratio (and HR/NDCG/MRR@K in rank and catalog mode)")
        {
            model, candidates, dataset, split, mode, catalogFile, output, template, limit, batch, beams, constrained, normalised, fromHistory, itemText, threads, device,
            groups, popularityGroups, table, tableItems, keepEmpty, ks, maskHistory, modelSet,
        };
        command.SetAction(parse =>
        {
            if (parse.GetValue(output) is { } o) // before the (long) evaluation
                RecAlign.IO.OutputGuard.CheckFile("--out", o, [("the --candidates file", parse.GetValue(candidates)), ("the --catalog file", parse.GetValue(catalogFile)), ("the --template file", parse.GetValue(template))]);
            var settings = ModelSettings(parse.GetValue(modelSet));
            var cutOffs = Ks(parse.GetValue(ks));
            if (parse.GetValue(table) is { } t)
            {
                if (parse.GetValue(dataset) is not null || parse.GetValue(candidates) is not null) throw new ArgumentException("give one of --candidates, --dataset or --table");
                return RunTable(parse, model, t, parse.GetValue(tableItems), parse.GetValue(keepEmpty), cutOffs, parse.GetValue(maskHistory), settings, output, limit, threads, device);
            }
            if (parse.GetValue(tableItems) is not null || parse.GetValue(keepEmpty)) throw new ArgumentException("--items and --keep-empty-histories go with --table");
            if (parse.GetValue(dataset) is null && cutOffs is not null)
                throw new ArgumentException("--ks goes with --dataset or --table");
            return parse.GetValue(dataset) is { } d
            ? RunDataset(parse, model, d, parse.GetValue(split)!, parse.GetValue(candidates), output, limit, threads, device, parse.GetValue(groups)!, parse.GetValue(popularityGroups), cutOffs, parse.GetValue(maskHistory), settings)
            : Run(parse, model, candidates, mode, catalogFile, output, template, limit, batch, beams, constrained, normalised, fromHistory, itemText, threads, device, settings);
        });
        return command;
    }

    /// <summary><c>--model-set key=value</c> pairs.</summary>
    private static Dictionary<string, string> ModelSettings(string[]? pairs)
    {
        var settings = new Dictionary<string, string>();
        foreach (var pair in pairs ?? [])
        {
            int eq = pair.IndexOf('=');
            if (eq <= 0) throw new ArgumentException($"--model-set {pair}: expected key=value, e.g. sampler=ddim");
            settings[pair[..eq].Trim()] = pair[(eq + 1)..].Trim();
        }
        return settings;
    }

    /// <summary><c>--ks 10,20,50</c>: distinct positive cut-offs in order; null when not given.</summary>
    private static List<int>? Ks(string? text)
    {
        if (text is null) return null;
        var ks = new List<int>();
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            ks.Add(int.TryParse(part, out int k) && k > 0 ? k : throw new ArgumentException($"--ks {text}: '{part}' is not a positive integer"));
        if (ks.Count == 0) throw new ArgumentException("--ks: give at least one cut-off, e.g. 10,20,50");
        return ks.Distinct().Order().ToList();
    }

    /// <summary><c>eval --table</c>: full-catalog ranking of a sequence table's rows (DreamRec's and RecBole's protocol).</summary>
    private static int RunTable(ParseResult parse, Option<string> model, string tablePath, string? itemList, bool keepEmpty, List<int>? ks, bool maskHistory,
        Dictionary<string, string> settings, Option<string?> output, Option<int?> limit, Option<int?> threads, Option<string> device)
    {
        CommonOptions.ApplyThreads(parse.GetValue(threads));
        var modelDir = parse.GetValue(model)!;
        ModelDirectory.RequireModelDirectory(modelDir);
        var items = itemList ?? Data.Loaders.SequenceTableLoader.ItemListFor(tablePath);
        var loaded = Data.Loaders.SequenceTableLoader.Load(tablePath, items, new Data.Loaders.LoadOptions { KeepEmptyHistories = keepEmpty });
        IReadOnlyList<SequenceExample> examples = loaded.Examples;
        if (parse.GetValue(limit) is { } n) examples = examples.Take(n).ToList();
        using var recommender = Recommenders.Load(modelDir, CommonOptions.ParseDevice(parse.GetValue(device)), settings);
        var own = recommender.Catalog ?? throw new ArgumentException($"{modelDir} holds a {recommender.Name} model, which ranks candidate lists only; --table ranks the whole catalog");
        var mapped = InCatalog(examples, loaded.Catalog, own, universe: null);
        var sw = System.Diagnostics.Stopwatch.StartNew();
        var result = RecommenderEvaluator.Catalog(recommender, mapped, ks, excludeHistory: maskHistory);
        double seconds = sw.Elapsed.TotalSeconds;
        result = result.WithEvaluated(new JsonObject
        {
            ["model"] = Path.GetFullPath(modelDir), ["model_type"] = recommender.Name, ["table"] = Path.GetFullPath(tablePath),
            ["items"] = Path.GetFullPath(items), ["mode"] = "catalog", ["catalog_items"] = own.Count, ["exclude_history"] = maskHistory,
            ["keep_empty_histories"] = keepEmpty, ["tie_break"] = "pessimistic", ["limit"] = parse.GetValue(limit), ["examples"] = mapped.Count,
            ["model_settings"] = settings.Count == 0 ? null : new JsonObject(settings.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))),
            ["seconds"] = Math.Round(seconds, 3), ["users_per_second"] = Math.Round(mapped.Count / Math.Max(seconds, 1e-9), 1),
        });
        Print(result, parse.GetValue(output));
        return 0;
    }

    /// <summary><c>eval --dataset</c>: full-catalog ranking of a canonical dataset's leave-one-out split.</summary>
    private static int RunDataset(ParseResult parse, Option<string> model, string datasetDir, string splitName, string? candidates,
        Option<string?> output, Option<int?> limit, Option<int?> threads, Option<string> device, string groupKind = "popularity", int popularityGroups = 5,
        List<int>? ks = null, bool maskHistory = true, Dictionary<string, string>? settings = null)
    {
        if (candidates is not null) throw new ArgumentException("give either --candidates FILE or --dataset DIR, not both");
        CommonOptions.ApplyThreads(parse.GetValue(threads));
        var modelDir = parse.GetValue(model)!;
        ModelDirectory.RequireModelDirectory(modelDir);
        var data = Data.Storage.DatasetStore.Load(datasetDir);
        var split = Data.Splits.Splitter.Split(data, new Data.Splits.SplitConfig { Method = Data.Splits.SplitMethod.LeaveOneOut });
        IReadOnlyList<SequenceExample> examples = splitName == "test" ? split.Test : split.Validation;
        if (parse.GetValue(limit) is { } n) examples = examples.Take(n).ToList();
        using var recommender = Recommenders.Load(modelDir, CommonOptions.ParseDevice(parse.GetValue(device)), settings);
        var own = recommender.Catalog ?? throw new ArgumentException($"{modelDir} holds a {recommender.Name} model, which ranks candidate lists only; --dataset ranks the whole catalog");
        var mapped = InCatalog(examples, data.Catalog, own, universe: null);
        // Groups are formed on the dataset (popularity from the training part of the split), then carried to the model's ids.
        var groups = groupKind == "none" ? null
            : ItemGroups.For(groupKind == "genre" ? ItemGrouping.Genre : ItemGrouping.Popularity, data.Catalog,
                Pipelines.Stages.PretrainCorpus.Histories(data, holdOutLast: 2), popularityGroups).Reindexed(data.Catalog.MapTo(own), own.Count);
        var result = RecommenderEvaluator.Catalog(recommender, mapped, ks, excludeHistory: maskHistory, groups: groups).WithEvaluated(new JsonObject
        {
            ["model"] = Path.GetFullPath(modelDir), ["model_type"] = recommender.Name, ["dataset"] = Path.GetFullPath(datasetDir),
            ["split"] = $"leave_one_out/{splitName}", ["mode"] = "catalog", ["catalog_items"] = own.Count, ["exclude_history"] = maskHistory,
            ["tie_break"] = "pessimistic", ["limit"] = parse.GetValue(limit), ["examples"] = mapped.Count,
            ["item_groups"] = groups?.ToString(),
        });
        Print(result, parse.GetValue(output));
        return 0;
    }

    private static void Print(EvaluationResult result, string? path)
    {
        var table = new Table().AddColumns("metric", "value");
        table.AddRow("n", result.N.ToString());
        foreach (var (k, v) in result.Metrics) table.AddRow(Markup.Escape(k), v.ToString("F4"));
        AnsiConsole.Write(table);
        if (path is null) return;
        result.WriteJson(path);
        Console.WriteLine($"wrote {path}");
    }

    /// <summary>Next-item examples given in <paramref name="source"/>'s ids as ids of a recommender's own catalog (matched
    /// by title; history items it lacks are dropped). Every target must be in it and, when given, in
    /// <paramref name="universe"/> too: a target outside the ranking can never be hit.</summary>
    private static List<SequenceExample> InCatalog(IEnumerable<SequenceExample> examples, ItemCatalog source, ItemCatalog own, ItemCatalog? universe)
    {
        var map = source.MapTo(own);
        var list = examples.ToList();
        var missing = list.Where(e => map[e.Target] < 0 || (universe is not null && !universe.TryGetByTitle(source.Title(e.Target), out _)))
            .Select(e => source.Title(e.Target)).Distinct().ToList();
        if (missing.Count > 0)
            throw new ArgumentException($"{missing.Count} target titles are not in the model's catalog of {own.Count} items (e.g. {string.Join(", ", missing.Take(3).Select(t => $"'{t}'"))}; was it trained on these items?)");
        return list.Select(e => new SequenceExample(e.User, e.History.Select(h => map[h]).Where(h => h >= 0).ToArray(), map[e.Target], e.TargetTimestamp)).ToList();
    }

    private static int Run(ParseResult parse, Option<string> model, Option<string> candidates, Option<string> mode, Option<string?> catalogFile,
        Option<string?> output, Option<string> template, Option<int?> limit, Option<int> batch, Option<int> beams, Option<bool> constrained,
        Option<bool> normalised, Option<bool> fromHistory, Option<ItemText?> itemText, Option<int?> threads, Option<string> device, Dictionary<string, string> settings)
    {
        CommonOptions.ApplyThreads(parse.GetValue(threads));
        var modeName = parse.GetValue(mode)!;
        var catalogPath = parse.GetValue(catalogFile);
        if (catalogPath is not null && modeName != "catalog")
            throw new ArgumentException($"--catalog applies to --mode catalog only (got --mode {modeName})");
        var modelDir = parse.GetValue(model)!;
        ModelDirectory.RequireModelDirectory(modelDir);
        var candidatePath = parse.GetValue(candidates) ?? throw new ArgumentException("give --candidates FILE (a candidate-prompt JSON) or --dataset DIR (full-catalog ranking)");
        if (!File.Exists(candidatePath)) throw new ArgumentException($"--candidates {candidatePath}: file not found");

        // With --catalog, the candidate file's titles map into that catalog (ids 0..U-1 stay the universe's; titles it
        // lacks, e.g. history items, are appended for the prompts only) and answers are grounded to the universe alone.
        ItemCatalog? universe = catalogPath is null ? null : CatalogGrounder.ReadCatalog(catalogPath);
        var file = CandidatePromptJson.Read(candidatePath, universe);
        foreach (var w in file.Warnings.Take(5)) Console.Error.WriteLine($"warning: {w}");
        if (file.Warnings.Count > 5) Console.Error.WriteLine($"warning: ... and {file.Warnings.Count - 5} more like these in {candidatePath}");
        var examples = parse.GetValue(limit) is { } n ? file.Examples.Take(n).ToList() : file.Examples;
        var templateName = parse.GetValue(template)!;
        // A model with item tokens reads its own catalog's tokens: the file's items are mapped onto it by title.
        var itemMode = parse.GetValue(itemText) ?? (ItemTokenizer.Exists(modelDir) ? ItemText.Token : ItemText.Title);
        var promptCatalog = file.Catalog;
        var promptExamples = examples;
        if (itemMode != ItemText.Title)
        {
            if (!ItemTokenizer.Exists(modelDir)) throw new ArgumentException($"--item-text {itemMode}: {modelDir} has no item tokens ({ItemTokenizer.FileName})");
            promptCatalog = CatalogJsonl.Read(Path.Combine(modelDir, CatalogJsonl.FileName));
            promptExamples = CandidateExamples.InCatalog(examples, file.Catalog, promptCatalog, candidatePath);
        }
        var builder = new PromptBuilder(promptCatalog, PromptTemplates.NamedOrFile(templateName), new PromptConfig { ItemText = itemMode });
        var questions = CandidateQuestions.From(builder, promptCatalog, promptExamples);
        var groundTo = universe ?? file.Catalog;
        if (modeName == "catalog")
        {
            CandidateEvaluator.TargetsInCatalog(questions, groundTo); // fail before loading the model
            Console.WriteLine($"catalog mode: grounding answers to {groundTo.Count} items of " +
                (catalogPath is null ? $"{Path.GetFileName(candidatePath)} (its titles; pass --catalog FILE for another universe)" : catalogPath));
        }
        int batchSize = parse.GetValue(batch);
        using var recommender = Recommenders.Load(modelDir, CommonOptions.ParseDevice(parse.GetValue(device)), settings);
        {
            if (recommender is LanguageModelRecommender text)
            {
                text.LengthNormalised = parse.GetValue(normalised);
                if (parse.GetValue(fromHistory))
                {
                    if (text.Catalog is null) throw new ArgumentException($"--from-history: {modelDir} has no item tokens; a title LM ranks from its prompt");
                    if (modeName != "rank") throw new ArgumentException($"--from-history applies to --mode rank (got --mode {modeName})");
                    text.RankFromHistory = true;
                }
                text.BatchSize = batchSize;
            }
            var generation = new GenerationConfig { MaxNewTokens = 32, NumBeams = parse.GetValue(beams) };
            var result = (modeName, recommender) switch
            {
                ("rank", _) => RecommenderEvaluator.Candidates(recommender, questions),
                // Generation is a language model's capability; id-based recommenders rank.
                ("generate", LanguageModelRecommender lm) => CandidateEvaluator.Generate(lm.Model, lm.Tokenizer, questions, generation, parse.GetValue(constrained), batchSize),
                ("generate", _) => throw new ArgumentException($"--mode generate needs a language model; {modelDir} holds a {recommender.Name} model, which ranks (use --mode rank or catalog)"),
                ("catalog", { Catalog: { } own }) => RecommenderEvaluator.Catalog(recommender,
                    InCatalog(examples.Select(e => new SequenceExample(e.User, e.History, e.Target, 0)), file.Catalog, own, groundTo)),
                ("catalog", LanguageModelRecommender lm) => CandidateEvaluator.GroundedCatalog(lm.Model, lm.Tokenizer, questions, new CatalogGrounder(groundTo), groundTo, generation, batchSize),
                _ => throw new ArgumentException($"--mode must be rank, generate or catalog (got '{modeName}')"),
            };
            var evaluated = new JsonObject
            {
                ["model"] = Path.GetFullPath(modelDir),
                ["candidates"] = Path.GetFullPath(candidatePath),
                ["mode"] = modeName,
                ["template"] = templateName,
                ["limit"] = parse.GetValue(limit),
                ["questions"] = questions.Count,
                ["questions_in_file"] = file.Examples.Count,
                ["batch_size"] = batchSize,
            };
            if (modeName != "rank") evaluated["beams"] = parse.GetValue(beams);
            if (modeName == "generate") evaluated["constrained"] = parse.GetValue(constrained);
            if (modeName == "rank" && recommender is LanguageModelRecommender) evaluated["length_normalised"] = parse.GetValue(normalised);
            if (modeName == "rank" && recommender is LanguageModelRecommender { RankFromHistory: true }) evaluated["from_history"] = true;
            evaluated["model_type"] = recommender.Name;
            if (modeName == "catalog" && recommender.Catalog is { } ranked)
            {
                evaluated["catalog"] = Path.GetFullPath(modelDir);
                evaluated["catalog_items"] = ranked.Count;
                evaluated["exclude_history"] = true;
            }
            else if (modeName == "catalog")
            {
                evaluated["catalog"] = catalogPath is null ? null : Path.GetFullPath(catalogPath);
                evaluated["catalog_items"] = groundTo.Count;
            }
            Print(result.WithEvaluated(evaluated), parse.GetValue(output));
        }
        return 0;
    }
}
