using System.CommandLine;
using RecAlign.Alignment;
using RecAlign.Configuration;
using RecAlign.Data;
using RecAlign.Data.Formats;
using RecAlign.Data.Loaders;
using RecAlign.Data.Splits;
using RecAlign.Models.Sequential;
using RecAlign.Data.Storage;
using RecAlign.Inference;
using RecAlign.Models.Language;
using RecAlign.Prompts;
using RecAlign.Runs;
using RecAlign.Text;
using RecAlign.Pipelines.Stages;

namespace RecAlign.Cli.Commands;

/// <summary><c>pretrain</c>, <c>sft</c> and <c>align</c>: each stage on its own, with a run directory, registry row,
/// config file + <c>--set</c> overrides and <c>--resume</c>.</summary>
internal static class TrainCommands
{
    public static IEnumerable<Command> Build() => [Pretrain(), Sft(), Align(), TrainSequential(), Interpret()];

    private sealed record Common(Option<string> RunsDir, Option<string?> Config, Option<string[]> Set, Option<long?> Seed,
        Option<int?> Threads, Option<string?> Resume, Option<string> Out, Option<bool> Overwrite, Option<string> Device);

    private static Common AddCommon(Command c)
    {
        var common = new Common(
            CommonOptions.RunsDir(),
            CommonOptions.Config(), CommonOptions.Set(),
            new Option<long?>("--seed") { Description = "training seed (training.seed)" },
            CommonOptions.Threads(),
            new Option<string?>("--resume") { Description = "continue an interrupted run: its run directory" },
            new Option<string>("--out") { Description = "output model directory (new or empty; an existing model directory only with --overwrite)", Required = true },
            CommonOptions.Overwrite("model directory"),
            CommonOptions.Device());
        foreach (var o in new Option[] { common.RunsDir, common.Config, common.Set, common.Seed, common.Threads, common.Resume, common.Out, common.Overwrite, common.Device })
            c.Options.Add(o);
        return common;
    }

    /// <param name="flags">Overrides a command's own options stand for (<c>task=residual</c>): they win over --config and --set.</param>
    private static T Resolve<T>(ParseResult parse, Common common, T defaults, IEnumerable<string>? flags = null) where T : IStageConfig
    {
        CommonOptions.ApplyThreads(parse.GetValue(common.Threads));
        var overrides = (parse.GetValue(common.Set) ?? []).Concat(flags ?? []).ToList();
        if (parse.GetValue(common.Seed) is { } seed) overrides.Add($"training.seed={seed}");
        var config = ConfigLoader.Load(defaults, parse.GetValue(common.Config), overrides);
        config.Validate(); // bad values (a loss, β, batch size...) fail before a run folder exists
        return config;
    }

    /// <summary>Runs a stage inside a run directory registered in the registry; marks it completed, failed or (on a
    /// signal) interrupted. Everything that can be checked is checked before the run folder exists; a resumed run
    /// must be called with the config and <paramref name="inputs"/> that started it.</summary>
    private static int InRun(ParseResult parse, Common common, string kind, object config,
        IReadOnlyDictionary<string, string?> inputs, Func<StageContext, StageResult> body, RecAlign.IO.OutputKind? outputKind = null)
    {
        var device = CommonOptions.ParseDevice(parse.GetValue(common.Device));
        var resume = parse.GetValue(common.Resume);
        // Inputs recorded as full paths are files and folders the output must not replace.
        var runsDir = parse.GetValue(common.RunsDir)!;
        RecAlign.IO.OutputGuard.CheckDirectory("--out", parse.GetValue(common.Out)!, outputKind ?? RecAlign.IO.OutputKind.ModelDirectory,
            parse.GetValue(common.Overwrite),
            inputs.Where(i => i.Key != "out" && i.Value is not null && Path.IsPathRooted(i.Value)).Select(i => ($"the {i.Key} input", i.Value))
                .Append(("the runs folder", runsDir)).Append(("the resumed run", resume)),
            replaceOwn: resume is not null);
        using var session = resume is null
            ? RunSession.Start(runsDir, kind, config, inputs: inputs)
            : RunSession.Resume(resume, kind, config, inputs);
        try
        {
            var result = body(new StageContext(session.Run, Console.Out, device, resume is not null));
            var metrics = new Dictionary<string, double> { ["final_loss"] = result.Training.FinalLoss, ["wall_seconds"] = result.Seconds };
            foreach (var (k, v) in result.Training.BestMetrics ?? new Dictionary<string, double>()) metrics["best_" + k] = v;
            foreach (var (k, v) in result.Metrics ?? new Dictionary<string, double>()) metrics[k] = v;
            session.Complete(new RunSummary
            {
                FinalMetrics = metrics, WallSeconds = result.Seconds, Checkpoint = result.ModelDirectory,
                Stages = [new StageSummary(result.Stage) { WallSeconds = result.Seconds, Steps = result.Training.Steps, Tokens = result.Training.Tokens }],
            });
            Console.WriteLine($"{kind}: model written to {result.ModelDirectory}; run {session.Run.Path}");
            return 0;
        }
        catch (Exception e)
        {
            session.Fail(e);
            throw;
        }
    }

    /// <summary>A stage's inputs as <c>inputs.json</c> records them: full paths, so a resume from elsewhere compares
    /// the same files.</summary>
    private static Dictionary<string, string?> Inputs(params (string Name, string? Value, bool IsPath)[] inputs) =>
        inputs.ToDictionary(i => i.Name, i => i.IsPath && i.Value is not null ? Path.GetFullPath(i.Value) : i.Value);

    private static Option<string?> Validation() => new("--validation") { Description = "candidate-prompt JSON for validation HR@1 (early stopping, best checkpoint)" };

    private static List<CandidateQuestion> Questions(string? path, string template)
    {
        if (path is null) return [];
        var file = CandidatePromptJson.Read(path);
        return CandidateQuestions.From(new PromptBuilder(file.Catalog, PromptTemplates.NamedOrFile(template)), file.Catalog, file.Examples);
    }

    private static List<PromptExample> SftExamples(string path, string template)
    {
        if (path.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".jsonl.gz", StringComparison.OrdinalIgnoreCase)) return TrlJsonl.ReadSft(path);
        var file = CandidatePromptJson.Read(path);
        return new PromptBuilder(file.Catalog, PromptTemplates.NamedOrFile(template)).Build(file.Examples);
    }

    /// <summary><c>train sasrec|gru4rec|caser|bprmf|bert4rec|dreamrec</c>: a sequential recommender on sequence tables or a
    /// canonical dataset (leave-one-out split), with the same run directory, registry, config and resume as every stage.</summary>
    private static Command TrainSequential()
    {
        var c = new Command("train", "train a sequential recommender (SASRec, GRU4Rec, Caser, BPR-MF, BERT4Rec with RecBole's defaults; DreamRec with its released ones)");
        foreach (var (name, recbole) in SequentialModelConfig.Models)
        {
            var defaults = SequentialTrainConfig.For(name);
            var m = defaults.Model;
            var sub = new Command(name, $"{recbole}: " + name switch
            {
                "sasrec" => $"{m.NLayers} layers, {m.NHeads} heads, hidden {m.HiddenSize}, inner {m.InnerSize}, {m.HiddenAct}, dropout {m.HiddenDropoutProb}",
                "gru4rec" => $"embedding {m.EmbeddingSize}, hidden {m.HiddenSize}, {m.NLayers} layer, dropout {m.DropoutProb}",
                "caser" => $"embedding {m.EmbeddingSize}, window L = {m.MaxSeqLength}, nv = {m.Nv}, nh = {m.Nh} per height, dropout {m.DropoutProb}",
                "bert4rec" => $"{m.NLayers} layers, {m.NHeads} heads, hidden {m.HiddenSize}, inner {m.InnerSize}, bidirectional, cloze mask ratio {m.MaskRatio}",
                "dreamrec" => $"guided diffusion: a {m.NLayers}-block encoder (hidden {m.HiddenSize}, dropout {m.HiddenDropoutProb}) guides an {m.DiffuserType} denoiser; T = {m.Timesteps} {m.BetaSche}, " +
                    $"w = {m.GuidanceWeight}, guidance dropout {m.CfgDropoutProb}; sampler {m.Sampler} (ddim: --set model.sampler=ddim --set model.sampling_steps=N)",
                _ => $"embedding {m.EmbeddingSize}, user factor = mean of the history's factors",
            } + $"; loss {m.LossType}, max_seq_length {m.MaxSeqLength}; Adam {defaults.Training.Optimizer.LearningRate}, batch {defaults.Training.BatchSize}, " +
              $"up to {defaults.Training.Epochs} epochs, best by validation {defaults.Training.MetricForBestModel} (full catalog) every {defaults.EvalEveryEpochs} epoch(s), patience {defaults.Training.EarlyStoppingPatience}");
            var train = new Option<string?>("--train") { Description = "training sequence table (LLaRA/S-DPO CSV: seq,len_seq,next)" };
            var validation = new Option<string?>("--validation") { Description = "validation sequence table (picks the best epoch)" };
            var items = new Option<string?>("--items") { Description = "item list for the tables (default: id2name.txt / u.item / data_statis.csv beside --train)" };
            var dataset = new Option<string?>("--dataset") { Description = "canonical dataset directory (recalign data prepare): leave-one-out split, validation = each user's second-to-last item" };
            var keepEmpty = new Option<bool>("--keep-empty-histories") { Description = "tables: keep rows with an empty history (the padding-only first prefix), which are dropped by default; DreamRec's protocol trains and scores them" };
            foreach (var o in new Option[] { train, validation, items, dataset, keepEmpty }) sub.Options.Add(o);
            var common = AddCommon(sub);
            sub.SetAction(parse =>
            {
                var config = Resolve(parse, common, defaults);
                var (t, v, d) = (parse.GetValue(train), parse.GetValue(validation), parse.GetValue(dataset));
                if ((t is null) == (d is null)) throw new ArgumentException($"train {name}: give either --train T.csv (with --validation V.csv) or --dataset DIR");
                if (d is not null && (v is not null || parse.GetValue(items) is not null || parse.GetValue(keepEmpty)))
                    throw new ArgumentException($"train {name}: --validation, --items and --keep-empty-histories go with --train tables, not --dataset (which is split leave-one-out)");
                ItemCatalog catalog;
                IReadOnlyList<SequenceExample> trainExamples, validationExamples;
                if (t is not null)
                {
                    var itemsFile = parse.GetValue(items) ?? SequenceTableLoader.ItemListFor(t);
                    var load = new LoadOptions { KeepEmptyHistories = parse.GetValue(keepEmpty) };
                    var table = SequenceTableLoader.Load(t, itemsFile, load);
                    (catalog, trainExamples) = (table.Catalog, table.Examples);
                    validationExamples = v is null ? [] : SequenceTableLoader.Load(v, itemsFile, load).Examples;
                }
                else
                {
                    var data = DatasetStore.Load(d!);
                    var split = Splitter.Split(data, new SplitConfig { Method = SplitMethod.LeaveOneOut });
                    (catalog, trainExamples, validationExamples) = (data.Catalog, split.Train, split.Validation);
                }
                var inputs = Inputs(("model", name, false), ("train", t, true), ("validation", v, true), ("items", parse.GetValue(items), true),
                    ("dataset", d, true), ("keep_empty_histories", parse.GetValue(keepEmpty) ? "true" : null, false), ("out", parse.GetValue(common.Out), true));
                return InRun(parse, common, $"train-{name}", config, inputs, ctx =>
                    StageRunner.TrainSequential(catalog, trainExamples, validationExamples, config, parse.GetValue(common.Out)!, ctx));
            });
            c.Subcommands.Add(sub);
        }
        return c;
    }

    /// <summary><c>interpret</c>: RecInterpreter, an adapter that lets a frozen LM read a frozen sequential recommender's
    /// hidden states, trained and evaluated on sequence tables or a canonical dataset.</summary>
    private static Command Interpret()
    {
        var c = new Command("interpret", "RecInterpreter: train an adapter that turns a frozen SASRec/GRU4Rec's hidden states into a soft token a frozen LM (or, with --lora, its LoRA adapters) reads, " +
            "then report how many history titles it recovers per validation user and how often it names the item added between two states");
        var lm = new Option<string>("--lm") { Description = "language model directory (frozen; --lora trains adapters on it)", Required = true };
        var recommender = new Option<string>("--recommender") { Description = "sequential recommender directory with per-position states (recalign train sasrec|gru4rec ... --out DIR; frozen)", Required = true };
        var dataset = new Option<string?>("--dataset") { Description = "canonical dataset directory: leave-one-out split, every training prefix a history, validation = each user's second-to-last item" };
        var train = new Option<string?>("--train") { Description = "training sequence table (LLaRA/S-DPO CSV: seq,len_seq,next)" };
        var validation = new Option<string?>("--validation") { Description = "validation sequence table (the users evaluated)" };
        var items = new Option<string?>("--items") { Description = "item list for the tables (default: id2name.txt / u.item / data_statis.csv beside --train)" };
        var task = new Option<string?>("--task") { Description = "recovery (history titles from one state), residual (the item added between two states) or both (default; config task)" };
        task.AcceptOnlyFromAmong("recovery", "residual", "both");
        var random = new Option<bool>("--random-states") { Description = "the floor: train and evaluate the same adapter on random vectors instead of the recommender's states" };
        var lora = new Option<bool>("--lora") { Description = "train LoRA adapters on the LM with the state adapter (PEFT defaults; tune with --set lora.rank=16 ...): for an LM too small to read a new input vector frozen" };
        foreach (var o in new Option[] { lm, recommender, dataset, train, validation, items, task, random, lora }) c.Options.Add(o);
        var common = AddCommon(c);
        c.SetAction(parse =>
        {
            var flags = new List<string>();
            if (parse.GetValue(task) is { } t) flags.Add($"task={t}");
            if (parse.GetValue(random)) flags.Add("random_states=true");
            var config = Resolve(parse, common, parse.GetValue(lora) ? new InterpretConfig { Lora = new LoraConfig() } : new InterpretConfig(), flags);
            var (lmDir, recDir) = (parse.GetValue(lm)!, parse.GetValue(recommender)!);
            ModelDirectory.RequireModelDirectory(lmDir);
            if (!SequentialModelDirectory.IsSequentialModel(recDir))
                throw new ArgumentException($"interpret --recommender: {Path.GetFullPath(recDir)} is not a sequential recommender's model directory (recalign train sasrec|gru4rec ... --out DIR)");
            var (tr, v, d) = (parse.GetValue(train), parse.GetValue(validation), parse.GetValue(dataset));
            if ((tr is null) == (d is null)) throw new ArgumentException("interpret: give either --train T.csv --validation V.csv or --dataset DIR");
            if (d is not null && (v is not null || parse.GetValue(items) is not null))
                throw new ArgumentException("interpret: --validation and --items go with --train tables, not --dataset (which is split leave-one-out)");
            if (tr is not null && v is null) throw new ArgumentException("interpret --train: give --validation V.csv too (the users the interpreter is evaluated on)");
            ItemCatalog catalog;
            IReadOnlyList<SequenceExample> trainExamples, validationExamples;
            if (tr is not null)
            {
                var itemsFile = parse.GetValue(items) ?? SequenceTableLoader.ItemListFor(tr);
                var table = SequenceTableLoader.Load(tr, itemsFile);
                (catalog, trainExamples) = (table.Catalog, table.Examples);
                validationExamples = SequenceTableLoader.Load(v!, itemsFile).Examples;
            }
            else
            {
                var data = DatasetStore.Load(d!);
                var split = Splitter.Split(data, new SplitConfig { Method = SplitMethod.LeaveOneOut });
                (catalog, trainExamples, validationExamples) = (data.Catalog, split.Train, split.Validation);
            }
            var inputs = Inputs(("lm", lmDir, true), ("recommender", recDir, true), ("train", tr, true), ("validation", v, true),
                ("items", parse.GetValue(items), true), ("dataset", d, true), ("out", parse.GetValue(common.Out), true));
            return InRun(parse, common, "interpret", config, inputs, ctx =>
                StageRunner.Interpret(lmDir, recDir, catalog, trainExamples, validationExamples, config, parse.GetValue(common.Out)!, ctx),
                RecAlign.IO.OutputKind.Interpreter);
        });
        return c;
    }

    private static Command Pretrain()
    {
        var c = new Command("pretrain", "train a from-scratch LM on a dataset's catalog text and training histories (or a text file)");
        var dataset = new Option<string?>("--dataset") { Description = "canonical dataset directory (recalign data prepare)" };
        var corpus = new Option<string?>("--corpus") { Description = "plain-text corpus, one document per line" };
        var itemText = CommonOptions.ItemTextOption("with --dataset: items as titles (each user's history one text; the default), or one dedicated token per item (token, title_token): every leave-one-out training prefix as a window of item tokens, the best epoch kept on the validation users");
        c.Options.Add(dataset);
        c.Options.Add(corpus);
        c.Options.Add(itemText);
        var common = AddCommon(c);
        c.SetAction(parse =>
        {
            var config = Resolve(parse, common, new PretrainConfig());
            var (d, f) = (parse.GetValue(dataset), parse.GetValue(corpus));
            if ((d is null) == (f is null)) throw new ArgumentException("pretrain: give either --dataset DIR or --corpus FILE (one of them)");
            var mode = parse.GetValue(itemText) ?? ItemText.Title;
            if (mode != ItemText.Title && d is null) throw new ArgumentException("pretrain: --item-text token/title_token needs --dataset (the catalog the tokens name)");
            var data = d is null ? null : DatasetStore.Load(d);
            // Item tokens: every leave-one-out training prefix as a window (the pipeline's default), the best epoch picked
            // on the validation users' next items; titles: each user's history as one text.
            var split = data is null || mode == ItemText.Title ? null : Splitter.Split(data, new SplitConfig { Method = SplitMethod.LeaveOneOut });
            int window = new PromptConfig().MaxHistory;
            List<string> texts = data is null
                ? File.Exists(f) ? File.ReadLines(f!).Where(l => l.Length > 0).ToList() : throw new FileNotFoundException($"--corpus {Path.GetFullPath(f!)}: file not found", f)
                : PretrainCorpus.Render(split is null ? PretrainCorpus.Histories(data) : PretrainCorpus.Windows(split.Train, window), data.Catalog, mode);
            if (texts.Count == 0) throw new ArgumentException($"pretrain: {Path.GetFullPath(d ?? f!)} holds no text to train on");
            ITokenizer tokenizer = data is null || mode == ItemText.Title ? CompactVocabularyTokenizer.Build(texts)
                : new ItemTokenizer(CompactVocabularyTokenizer.Build(PretrainCorpus.Render(PretrainCorpus.Histories(data), data.Catalog, ItemText.Title)), data.Catalog) { HistoryWindow = window, HistoryTitles = mode == ItemText.TitleToken };
            var inputs = Inputs(("dataset", d, true), ("corpus", f, true), ("item_text", mode.ToString(), false), ("out", parse.GetValue(common.Out), true));
            return InRun(parse, common, "pretrain", config, inputs, ctx => StageRunner.Pretrain(texts, tokenizer, config, parse.GetValue(common.Out)!, ctx, split?.Validation));
        });
        return c;
    }

    private static Command Sft()
    {
        var c = new Command("sft", "supervised fine-tuning on prompts → target titles (TRL prompt/completion JSONL or candidate-prompt JSON)");
        var model = new Option<string>("--model") { Description = "starting model directory", Required = true };
        var train = new Option<string>("--train") { Description = "training data (.jsonl TRL prompt/completion, or candidate-prompt .json/.json.gz)", Required = true };
        var lora = new Option<bool>("--lora") { Description = "train LoRA adapters (PEFT defaults; tune with --set lora.rank=16 ...)" };
        var validation = Validation();
        var template = CommonOptions.Template();
        var itemText = CommonOptions.ItemTextOption("with a candidate JSON: write items as titles (default), or as item tokens (token, title_token): " +
            "a model without them gets one token per item of the file's catalog, a model with them reads its own (the file's items mapped by title)");
        var hybrid = new Option<string?>("--hybrid") { Description = "LLaRA's hybrid prompts: a sequential recommender's model directory (recalign train sasrec ...) whose item embeddings, through a trained projector, replace the item tokens' embeddings (needs --item-text token or title_token)" };
        var hybridSchedule = new Option<RecAlign.Training.HybridSchedule>("--hybrid-schedule")
        {
            Description = "which training batches use the hybrid embeddings: curriculum (probability rising 0→1 over the run), direct, two_stage",
            DefaultValueFactory = _ => RecAlign.Training.HybridSchedule.Curriculum,
            CustomParser = r => Enum.TryParse<RecAlign.Training.HybridSchedule>(r.Tokens[0].Value.Replace("_", ""), ignoreCase: true, out var v) && Enum.IsDefined(v) ? v
                : throw new ArgumentException($"--hybrid-schedule: '{r.Tokens[0].Value}' is not one of curriculum, direct, two_stage"),
        };
        var hybridCombine = new Option<HybridCombine>("--hybrid-combine")
        {
            Description = "how the projected embedding meets the item token's row: replace (LLaRA) or add (to it, from zero: the learned item token and the recommender's embedding both)",
            DefaultValueFactory = _ => HybridCombine.Replace,
            CustomParser = r => CommonOptions.ParseEnum<HybridCombine>(r.Tokens[0].Value, "--hybrid-combine"),
        };
        foreach (var o in new Option[] { model, train, lora, validation, template, itemText, hybrid, hybridSchedule, hybridCombine }) c.Options.Add(o);
        var common = AddCommon(c);
        c.SetAction(parse =>
        {
            var config = Resolve(parse, common, parse.GetValue(lora) ? new SftConfig { Lora = new LoraConfig() } : new SftConfig());
            var modelDir = parse.GetValue(model)!;
            ModelDirectory.RequireModelDirectory(modelDir);
            var mode = parse.GetValue(itemText) ?? ItemText.Title;
            var recDir = parse.GetValue(hybrid);
            if (recDir is not null && mode == ItemText.Title)
                throw new ArgumentException("sft --hybrid: hybrid embeddings replace item tokens; give --item-text token or title_token");
            if (recDir is not null && !SequentialModelDirectory.IsSequentialModel(recDir))
                throw new ArgumentException($"sft --hybrid: {Path.GetFullPath(recDir)} is not a sequential recommender's model directory (recalign train sasrec|gru4rec|caser ... --out DIR)");
            List<PromptExample> data;
            List<CandidateQuestion> questions;
            ItemCatalog? addTokens = null;
            if (mode == ItemText.Title)
            {
                data = SftExamples(parse.GetValue(train)!, parse.GetValue(template)!);
                questions = Questions(parse.GetValue(validation), parse.GetValue(template)!);
            }
            else
            {
                if (parse.GetValue(train)!.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase))
                    throw new ArgumentException($"sft --item-text {mode}: --train must be a candidate JSON (items by id and title), not rendered TRL JSONL");
                var file = CandidatePromptJson.Read(parse.GetValue(train)!);
                bool has = ItemTokenizer.Exists(modelDir);
                var catalog = has ? CatalogJsonl.Read(Path.Combine(modelDir, CatalogJsonl.FileName)) : file.Catalog;
                if (!has) addTokens = catalog;
                var builder = new PromptBuilder(catalog, PromptTemplates.NamedOrFile(parse.GetValue(template)!), new PromptConfig { ItemText = mode });
                data = builder.Build(CandidateExamples.InCatalog(file.Examples, file.Catalog, catalog, parse.GetValue(train)!));
                var v = parse.GetValue(validation) is { } vp ? CandidatePromptJson.Read(vp) : null;
                questions = v is null ? [] : CandidateQuestions.From(builder, catalog, CandidateExamples.InCatalog(v.Examples, v.Catalog, catalog, parse.GetValue(validation)!));
            }
            var inputs = Inputs(("model", modelDir, true), ("train", parse.GetValue(train), true),
                ("validation", parse.GetValue(validation), true), ("template", parse.GetValue(template), false),
                ("item_text", mode.ToString(), false), ("hybrid", recDir, true), ("hybrid_schedule", recDir is null ? null : parse.GetValue(hybridSchedule).ToString(), false),
                ("hybrid_combine", recDir is null ? null : parse.GetValue(hybridCombine).ToString(), false),
                ("out", parse.GetValue(common.Out), true));
            Func<LanguageModel, ITokenizer, HybridItemEmbedder>? embedder = recDir is null ? null
                : (lm, tok) => HybridItemEmbedder.FromRecommenderDirectory(lm, tok, recDir, Path.GetFullPath(recDir), config.Training.Seed + 13, parse.GetValue(hybridCombine));
            return InRun(parse, common, "sft", config, inputs, ctx => StageRunner.Sft(modelDir, data, questions, config, parse.GetValue(common.Out)!, ctx, addTokens,
                hybrid: embedder, hybridSchedule: parse.GetValue(hybridSchedule)));
        });
        return c;
    }

    private static Command Align()
    {
        var c = new Command("align", $"preference alignment ({string.Join(", ", PreferenceLosses.Names)}) from an SFT model on TRL preference JSONL");
        var model = new Option<string>("--model") { Description = "SFT model directory (also the reference)", Required = true };
        var train = new Option<string>("--train") { Description = "TRL preference JSONL: {prompt, chosen, rejected (string or list)}", Required = true };
        var loss = new Option<string?>("--loss") { Description = "loss type (loss.loss_type)" };
        var lora = new Option<bool>("--lora") { Description = "train LoRA adapters; the base serves as a live reference with --set reference=live" };
        var validation = Validation();
        var template = CommonOptions.Template();
        foreach (var o in new Option[] { model, train, loss, lora, validation, template }) c.Options.Add(o);
        var common = AddCommon(c);
        c.SetAction(parse =>
        {
            var defaults = parse.GetValue(lora) ? new AlignConfig { Lora = new LoraConfig() } : new AlignConfig();
            if (parse.GetValue(loss) is { } l) defaults = defaults with { Loss = defaults.Loss with { LossType = l } };
            var config = Resolve(parse, common, defaults);
            ModelDirectory.RequireModelDirectory(parse.GetValue(model)!);
            var data = TrlJsonl.ReadPreferences(parse.GetValue(train)!, sameRejectedCount: true);
            var questions = Questions(parse.GetValue(validation), parse.GetValue(template)!);
            var inputs = Inputs(("model", parse.GetValue(model), true), ("train", parse.GetValue(train), true),
                ("validation", parse.GetValue(validation), true), ("template", parse.GetValue(template), false), ("out", parse.GetValue(common.Out), true));
            return InRun(parse, common, "align", config, inputs, ctx =>
                StageRunner.Align(parse.GetValue(model)!, data, questions, config, parse.GetValue(common.Out)!, ctx, string.Join("+", config.Loss.LossTypes)));
        });
        return c;
    }
}
