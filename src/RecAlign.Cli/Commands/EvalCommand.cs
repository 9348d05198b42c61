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
        var candidates = new Option<string[]>("--candidates")
        {
            Description = "candidate-prompt JSON (.json or .json.gz); repeat as NAME=FILE to evaluate several sets (e.g. ID=ml-val.json OOD=ml-ood_test.json) side by side",
            AllowMultipleArgumentsPerToken = false,
        };
        var dataset = new Option<string?>("--dataset") { Description = "instead of --candidates: a canonical dataset (data prepare), split leave-one-out, every next item ranked against the whole catalog with the history masked (RecBole's full sort: HR/NDCG/MRR@1,5,10,20)" };
        var split = new Option<string>("--split") { Description = "with --dataset: test (each user's last item) or validation (second to last)", DefaultValueFactory = _ => "test" };
        split.AcceptOnlyFromAmong("test", "validation");
        var splits = new Option<string?>("--splits")
        {
            Description = "with --dataset: split settings to evaluate side by side, comma-separated: leave_one_out (default), temporal, user_ratio, " +
                "temporal_shift, popularity_shift, attribute_shift, exposure_shift (docs/data/ood-splits.md; each with its default config)",
        };
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
        var output = new Option<string?>("--out") { Description = "write the result JSON here (metrics plus what was evaluated); with several settings, one JSON with a section per setting and a markdown table beside it (.md)" };
        var grounding = new Option<string?>("--grounding")
        {
            Description = "catalog mode, a language model: how a free answer is grounded once no title matches it exactly: minilm (sentence-embedding cosine, " +
                "the default; TF-IDF with a warning if ONNX Runtime cannot run here), tfidf (character 3-grams), lm (the model's own hidden states) or exact (exact titles only)",
        };
        grounding.AcceptOnlyFromAmong("minilm", "tfidf", "lm", "exact");
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
            model, candidates, dataset, split, splits, mode, catalogFile, grounding, output, template, limit, batch, beams, constrained, normalised, fromHistory, itemText, threads, device,
            groups, popularityGroups, table, tableItems, keepEmpty, ks, maskHistory, modelSet,
        };
        command.SetAction(parse =>
        {
            if (parse.GetValue(output) is { } o) // before the (long) evaluation
            {
                var inputs = CandidateSets(parse.GetValue(candidates)).Select(c => ("the --candidates file", (string?)c.Path))
                    .Concat([("the --catalog file", parse.GetValue(catalogFile)), ("the --template file", parse.GetValue(template))]).ToList();
                RecAlign.IO.OutputGuard.CheckFile("--out", o, inputs);
                RecAlign.IO.OutputGuard.CheckFile("--out (its .md table)", SettingsComparison.TablePath(o), inputs);
                if (inputs.Count > 3 || SplitMethods(parse.GetValue(splits)) is { Count: > 1 }) // several settings: a table beside the JSON
                    SettingsComparison.CheckTablePath(SettingsComparison.TablePath(o));
            }
            var settings = ModelSettings(parse.GetValue(modelSet));
            var cutOffs = Ks(parse.GetValue(ks));
            if (parse.GetValue(table) is { } t)
            {
                if (parse.GetValue(dataset) is not null || parse.GetValue(candidates) is { Length: > 0 }) throw new ArgumentException("give one of --candidates, --dataset or --table");
                return RunTable(parse, model, t, parse.GetValue(tableItems), parse.GetValue(keepEmpty), cutOffs, parse.GetValue(maskHistory), settings, output, limit, threads, device);
            }
            if (parse.GetValue(tableItems) is not null || parse.GetValue(keepEmpty)) throw new ArgumentException("--items and --keep-empty-histories go with --table");
            if (parse.GetValue(dataset) is null && cutOffs is not null)
                throw new ArgumentException("--ks goes with --dataset or --table");
            if (parse.GetValue(dataset) is null && parse.GetValue(splits) is not null)
                throw new ArgumentException("--splits goes with --dataset");
            return parse.GetValue(dataset) is { } d
            ? RunDataset(parse, model, d, parse.GetValue(split)!, SplitMethods(parse.GetValue(splits)), parse.GetValue(candidates), output, limit, threads, device, parse.GetValue(groups)!, parse.GetValue(popularityGroups), cutOffs, parse.GetValue(maskHistory), settings)
            : Run(parse, model, CandidateSets(parse.GetValue(candidates)), mode, catalogFile, parse.GetValue(grounding), output, template, limit, batch, beams, constrained, normalised, fromHistory, itemText, threads, device, settings);
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

    /// <summary><c>--candidates FILE</c> or <c>NAME=FILE</c> (repeatable) as named sets: an unnamed file is named by its
    /// file name without <c>.json</c>/<c>.json.gz</c>; names must differ.</summary>
    private static List<(string Name, string Path)> CandidateSets(string[]? values)
    {
        var sets = new List<(string Name, string Path)>();
        foreach (var value in values ?? [])
        {
            int eq = value.IndexOf('=');
            bool named = eq > 0 && !File.Exists(value) && value[..eq].All(c => char.IsLetterOrDigit(c) || c is '_' or '-' or '.');
            var path = named ? value[(eq + 1)..] : value;
            if (path.Length == 0) throw new ArgumentException($"--candidates {value}: no file after '='");
            var name = named ? value[..eq] : Path.GetFileName(path) is var f && f.EndsWith(".json.gz", StringComparison.OrdinalIgnoreCase) ? f[..^8]
                : Path.GetFileNameWithoutExtension(path);
            if (sets.Any(s => s.Name == name)) throw new ArgumentException($"--candidates: the setting name '{name}' is given twice (name them: --candidates NAME=FILE)");
            sets.Add((name, path));
        }
        return sets;
    }

    /// <summary><c>--splits a,b</c>: split methods by their snake_case names (null: leave-one-out alone).</summary>
    private static List<Data.Splits.SplitMethod>? SplitMethods(string? text)
    {
        if (text is null) return null;
        var names = Enum.GetValues<Data.Splits.SplitMethod>().ToDictionary(m => System.Text.Json.JsonNamingPolicy.SnakeCaseLower.ConvertName(m.ToString()), m => m);
        var methods = new List<Data.Splits.SplitMethod>();
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            if (!names.TryGetValue(part, out var m)) throw new ArgumentException($"--splits {text}: unknown setting '{part}' (accepted: {string.Join(", ", names.Keys)})");
            if (methods.Contains(m)) throw new ArgumentException($"--splits {text}: '{part}' is given twice");
            methods.Add(m);
        }
        if (methods.Count == 0) throw new ArgumentException("--splits: give at least one setting, e.g. leave_one_out,temporal_shift");
        return methods;
    }

    private static string SnakeName(Data.Splits.SplitMethod method) => System.Text.Json.JsonNamingPolicy.SnakeCaseLower.ConvertName(method.ToString());

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

    /// <summary><c>eval --dataset</c>: full-catalog ranking of a canonical dataset's test (or validation) targets under
    /// each split setting (leave-one-out alone by default), one evaluation per setting on the one loaded model.</summary>
    private static int RunDataset(ParseResult parse, Option<string> model, string datasetDir, string splitName, List<Data.Splits.SplitMethod>? methods, string[]? candidates,
        Option<string?> output, Option<int?> limit, Option<int?> threads, Option<string> device, string groupKind = "popularity", int popularityGroups = 5,
        List<int>? ks = null, bool maskHistory = true, Dictionary<string, string>? settings = null)
    {
        if (candidates is { Length: > 0 }) throw new ArgumentException("give either --candidates FILE or --dataset DIR, not both");
        CommonOptions.ApplyThreads(parse.GetValue(threads));
        var modelDir = parse.GetValue(model)!;
        ModelDirectory.RequireModelDirectory(modelDir);
        var data = Data.Storage.DatasetStore.Load(datasetDir);
        methods ??= [Data.Splits.SplitMethod.LeaveOneOut];
        // Every split first (an attribute shift on a dataset without genres fails here), then the model, once.
        var splitExamples = methods.Select(m =>
        {
            var split = Data.Splits.Splitter.Split(data, new Data.Splits.SplitConfig { Method = m });
            IReadOnlyList<SequenceExample> examples = splitName == "test" ? split.Test : split.Validation;
            if (parse.GetValue(limit) is { } n) examples = examples.Take(n).ToList();
            if (examples.Count == 0) throw new ArgumentException($"--dataset {datasetDir}: the {SnakeName(m)} split has no {splitName} examples");
            return (Method: m, Examples: examples);
        }).ToList();
        using var recommender = Recommenders.Load(modelDir, CommonOptions.ParseDevice(parse.GetValue(device)), settings);
        var own = recommender.Catalog ?? throw new ArgumentException($"{modelDir} holds a {recommender.Name} model, which ranks candidate lists only; --dataset ranks the whole catalog");
        // Groups are formed on the dataset (popularity from the training part of the split), then carried to the model's ids.
        var groups = groupKind == "none" ? null
            : ItemGroups.For(groupKind == "genre" ? ItemGrouping.Genre : ItemGrouping.Popularity, data.Catalog,
                Pipelines.Stages.PretrainCorpus.Histories(data, holdOutLast: 2), popularityGroups).Reindexed(data.Catalog.MapTo(own), own.Count);
        var common = new JsonObject
        {
            ["model"] = Path.GetFullPath(modelDir), ["model_type"] = recommender.Name, ["dataset"] = Path.GetFullPath(datasetDir),
            ["mode"] = "catalog", ["catalog_items"] = own.Count, ["exclude_history"] = maskHistory,
            ["tie_break"] = "pessimistic", ["limit"] = parse.GetValue(limit), ["item_groups"] = groups?.ToString(),
        };
        var results = new List<(string Name, EvaluationResult Result)>();
        foreach (var (method, examples) in splitExamples)
        {
            var mapped = InCatalog(examples, data.Catalog, own, universe: null);
            var evaluated = (JsonObject)common.DeepClone();
            evaluated["split"] = $"{SnakeName(method)}/{splitName}";
            evaluated["examples"] = mapped.Count;
            results.Add((SnakeName(method), RecommenderEvaluator.Catalog(recommender, mapped, ks, excludeHistory: maskHistory, groups: groups).WithEvaluated(evaluated)));
        }
        if (methods.Contains(Data.Splits.SplitMethod.ExposureShift))
            Console.Error.WriteLine("note: exposure_shift's test targets are leave-one-out's (its shift is in sampled candidate lists), so its full-catalog row equals leave_one_out's");
        PrintAll(results, common, parse.GetValue(output));
        return 0;
    }

    /// <summary>One setting: its table and JSON as before; several: side by side (<see cref="SettingsComparison"/>).</summary>
    private static void PrintAll(List<(string Name, EvaluationResult Result)> results, JsonObject common, string? path)
    {
        if (results.Count == 1)
        {
            Print(results[0].Result, path);
            return;
        }
        var columns = SettingsComparison.Columns(results);
        var table = new Table().AddColumns(["setting", "n", .. columns.Select(Markup.Escape)]);
        foreach (var (name, result) in results)
            table.AddRow([Markup.Escape(name), result.N.ToString(), .. columns.Select(c => result[c].ToString("F4"))]);
        AnsiConsole.Write(table);
        if (path is null) return;
        var md = SettingsComparison.Write(results, common, path);
        Console.WriteLine($"wrote {path} and {md}");
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

    /// <summary>One candidate file made ready for evaluation: its prompts and, for catalog mode, its targets in the universe.</summary>
    private sealed record CandidateSet(string Name, string Path, CandidatePromptFile File, IReadOnlyList<CandidateExample> Examples,
        IReadOnlyList<CandidateQuestion> Questions, ItemCatalog GroundTo, CandidateEvaluator.CatalogTargets? Targets);

    private static int Run(ParseResult parse, Option<string> model, List<(string Name, string Path)> candidateSets, Option<string> mode, Option<string?> catalogFile,
        string? groundingName, Option<string?> output, Option<string> template, Option<int?> limit, Option<int> batch, Option<int> beams, Option<bool> constrained,
        Option<bool> normalised, Option<bool> fromHistory, Option<ItemText?> itemText, Option<int?> threads, Option<string> device, Dictionary<string, string> settings)
    {
        CommonOptions.ApplyThreads(parse.GetValue(threads));
        var modeName = parse.GetValue(mode)!;
        var catalogPath = parse.GetValue(catalogFile);
        if (catalogPath is not null && modeName != "catalog")
            throw new ArgumentException($"--catalog applies to --mode catalog only (got --mode {modeName})");
        if (groundingName is not null && modeName != "catalog")
            throw new ArgumentException($"--grounding applies to --mode catalog only (got --mode {modeName})");
        var modelDir = parse.GetValue(model)!;
        ModelDirectory.RequireModelDirectory(modelDir);
        if (candidateSets.Count == 0) throw new ArgumentException("give --candidates FILE (a candidate-prompt JSON) or --dataset DIR (full-catalog ranking)");
        var templateName = parse.GetValue(template)!;
        // A model with item tokens reads its own catalog's tokens: the file's items are mapped onto it by title.
        var itemMode = parse.GetValue(itemText) ?? (ItemTokenizer.Exists(modelDir) ? ItemText.Token : ItemText.Title);
        if (itemMode != ItemText.Title && !ItemTokenizer.Exists(modelDir))
            throw new ArgumentException($"--item-text {itemMode}: {modelDir} has no item tokens ({ItemTokenizer.FileName})");
        // With --catalog, the candidate files' titles map into that catalog (ids 0..U-1 stay the universe's; titles it
        // lacks, e.g. history items, are appended for the prompts only) and answers are grounded to the universe alone.
        ItemCatalog? universe = catalogPath is null ? null : CatalogGrounder.ReadCatalog(catalogPath);
        // Every file is read and checked before the (slow) model load.
        var sets = candidateSets.Select(c => PrepareSet(c.Name, c.Path, universe, parse.GetValue(limit), itemMode, modelDir, templateName, modeName, catalogPath)).ToList();

        int batchSize = parse.GetValue(batch);
        using var recommender = Recommenders.Load(modelDir, CommonOptions.ParseDevice(parse.GetValue(device)), settings);
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
        // Grounders are built once per universe (catalog embeddings computed once) and shared by the sets grounded to it.
        var grounders = new Dictionary<ItemCatalog, (CatalogGrounder Grounder, ITitleSimilarity Similarity, Grounding Used, string? Fallback)>(ReferenceEqualityComparer.Instance);
        var grounding = groundingName switch { "tfidf" => Grounding.TfIdf, "lm" => Grounding.Lm, "exact" => Grounding.Exact, _ => Grounding.MiniLm };
        try
        {
            var results = new List<(string Name, EvaluationResult Result)>();
            foreach (var set in sets)
            {
                JsonObject? groundingRecord = null;
                var result = (modeName, recommender) switch
                {
                    ("rank", _) => RecommenderEvaluator.Candidates(recommender, set.Questions),
                    // Generation is a language model's capability; id-based recommenders rank.
                    ("generate", LanguageModelRecommender lm) => CandidateEvaluator.Generate(lm.Model, lm.Tokenizer, set.Questions, generation, parse.GetValue(constrained), batchSize),
                    ("generate", _) => throw new ArgumentException($"--mode generate needs a language model; {modelDir} holds a {recommender.Name} model, which ranks (use --mode rank or catalog)"),
                    ("catalog", { Catalog: { } own }) => RecommenderEvaluator.Catalog(recommender,
                        InCatalog(set.Examples.Select(e => new SequenceExample(e.User, e.History, e.Target, 0)), set.File.Catalog, own, set.GroundTo)),
                    ("catalog", LanguageModelRecommender lm) => Grounded(lm, set, out groundingRecord),
                    _ => throw new ArgumentException($"--mode must be rank, generate or catalog (got '{modeName}')"),
                };
                var evaluated = new JsonObject
                {
                    ["model"] = Path.GetFullPath(modelDir),
                    ["candidates"] = Path.GetFullPath(set.Path),
                    ["mode"] = modeName,
                    ["template"] = templateName,
                    ["limit"] = parse.GetValue(limit),
                    ["questions"] = set.Questions.Count,
                    ["questions_in_file"] = set.File.Examples.Count,
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
                    evaluated["catalog_items"] = set.GroundTo.Count;
                    evaluated["targets_not_in_catalog"] = set.Targets?.Missing.Count ?? 0;
                    evaluated["grounding"] = groundingRecord;
                }
                results.Add((set.Name, result.WithEvaluated(evaluated)));
            }
            var common = new JsonObject { ["model"] = Path.GetFullPath(modelDir), ["model_type"] = recommender.Name, ["mode"] = modeName };
            PrintAll(results, common, parse.GetValue(output));
        }
        finally
        {
            foreach (var g in grounders.Values) (g.Similarity as IDisposable)?.Dispose();
        }
        return 0;

        EvaluationResult Grounded(LanguageModelRecommender lm, CandidateSet set, out JsonObject record)
        {
            if (!grounders.TryGetValue(set.GroundTo, out var g))
            {
                var sw = System.Diagnostics.Stopwatch.StartNew();
                var titles = set.GroundTo.Items.Select(i => i.Title).ToArray();
                var similarity = TitleSimilarities.Create(grounding, titles, out var used, out var fallback, required: groundingName is not null,
                    threads: TorchSharp.torch.get_num_threads(), languageModel: grounding == Grounding.Lm ? new LanguageModelEmbedder(lm.Model, lm.Tokenizer) : null);
                if (fallback is not null)
                    Console.Error.WriteLine($"warning: MiniLM grounding cannot run here ({fallback}); grounding by character 3-gram TF-IDF instead");
                g = (new CatalogGrounder(set.GroundTo, similarity), similarity, used, fallback);
                grounders[set.GroundTo] = g;
                Console.WriteLine($"grounding: {NameOf(used)} over {titles.Length} titles, indexed in {sw.Elapsed.TotalSeconds:F1}s");
            }
            record = new JsonObject
            {
                ["similarity"] = NameOf(g.Used),
                ["model"] = g.Used == Grounding.MiniLm ? MiniLmEmbedder.ModelName : g.Used == Grounding.Lm ? "the evaluated model" : null,
                ["fallback_reason"] = g.Fallback,
                ["rule"] = "exact normalised title first, then the most similar catalog titles; the whole answer, uncut",
            };
            return CandidateEvaluator.GroundedCatalog(lm.Model, lm.Tokenizer, set.Questions, g.Grounder, set.GroundTo, generation, batchSize);
        }
    }

    private static string NameOf(Grounding grounding) => grounding.ToString().ToLowerInvariant();

    /// <summary>Reads one candidate file and builds its prompts; in catalog mode, maps its targets into the universe
    /// (a missing target is a warning: it counts as a miss).</summary>
    private static CandidateSet PrepareSet(string name, string candidatePath, ItemCatalog? universe, int? limit, ItemText itemMode, string modelDir,
        string templateName, string modeName, string? catalogPath)
    {
        if (!File.Exists(candidatePath)) throw new ArgumentException($"--candidates {candidatePath}: file not found");
        var file = CandidatePromptJson.Read(candidatePath, universe);
        foreach (var w in file.Warnings.Take(5)) Console.Error.WriteLine($"warning: {w}");
        if (file.Warnings.Count > 5) Console.Error.WriteLine($"warning: ... and {file.Warnings.Count - 5} more like these in {candidatePath}");
        var examples = limit is { } n ? file.Examples.Take(n).ToList() : file.Examples;
        var promptCatalog = file.Catalog;
        var promptExamples = examples;
        if (itemMode != ItemText.Title)
        {
            promptCatalog = CatalogJsonl.Read(Path.Combine(modelDir, CatalogJsonl.FileName));
            promptExamples = CandidateExamples.InCatalog(examples, file.Catalog, promptCatalog, candidatePath);
        }
        var builder = new PromptBuilder(promptCatalog, PromptTemplates.NamedOrFile(templateName), new PromptConfig { ItemText = itemMode });
        var questions = CandidateQuestions.From(builder, promptCatalog, promptExamples);
        var groundTo = universe ?? file.Catalog;
        CandidateEvaluator.CatalogTargets? targets = null;
        if (modeName == "catalog")
        {
            targets = CandidateEvaluator.TargetsInCatalog(questions, groundTo);
            if (targets.Warning(questions.Count, groundTo.Count) is { } warning) Console.Error.WriteLine($"warning: {candidatePath}: {warning}");
            Console.WriteLine($"catalog mode ({name}): grounding answers to {groundTo.Count} items of " +
                (catalogPath is null ? $"{Path.GetFileName(candidatePath)} (its titles; pass --catalog FILE for another universe)" : catalogPath));
        }
        return new CandidateSet(name, candidatePath, file, examples, questions, groundTo, targets);
    }
}
