using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using RecAlign.Data;
using RecAlign.Runs;
using RecAlign.Server;

namespace RecAlign.Cli.Commands;

/// <summary><c>recalign serve</c>: loads model directories (or a run's) and answers the HTTP API until SIGTERM / Ctrl-C.</summary>
public static class ServeCommand
{
    public const string ApiKeyVariable = "RECALIGN_API_KEY";

    public static Command Build()
    {
        var cmd = new Command("serve", "serve trained models over HTTP: POST /v1/recommend (dynamic batching), a web page at /, /metrics, /openapi/v1.json");
        var models = new Option<string[]>("--model", "-m") { Description = "NAME=DIR: a model directory to serve under NAME (repeatable)", AllowMultipleArgumentsPerToken = false };
        var run = new Option<string?>("--run") { Description = "serve every model of a run (its models/ folder; run id, prefix or folder)" };
        var runsDir = CommonOptions.RunsDir();
        var urls = new Option<string[]>("--urls") { Description = "address(es) to listen on [default: http://127.0.0.1:8080]; beyond loopback needs --api-key" };
        var apiKey = new Option<string?>("--api-key") { Description = $"a key every API request must carry (Authorization: Bearer KEY or X-API-Key); ${ApiKeyVariable} sets it too" };
        var rerank = new Option<string[]>("--rerank") { Description = "NAME=RETRIEVER[:DEPTH]: NAME ranks the catalog by re-ranking RETRIEVER's top DEPTH (default 50) items (repeatable)" };
        var template = CommonOptions.Template();
        var itemText = CommonOptions.ItemTextOption("how LM prompts write items (default: token for a model with item tokens, else title)");
        var maxBatch = CommonOptions.Positive(new Option<int?>("--max-batch-size") { Description = "requests scored in one forward at most; 1 turns batching off [default: 32]" });
        var maxWait = new Option<double>("--max-wait-ms") { Description = "how long a batch's first request waits for others [default: 2]", DefaultValueFactory = _ => 2 };
        var queue = CommonOptions.Positive(new Option<int?>("--queue-capacity") { Description = "requests waiting per model before 503 + Retry-After [default: 512]" });
        var threads = CommonOptions.Threads();
        var device = CommonOptions.Device();
        foreach (var o in new Option[] { models, run, runsDir, urls, apiKey, rerank, template, itemText, maxBatch, maxWait, queue, threads, device })
            cmd.Options.Add(o);
        cmd.SetAction(async (parse, cancel) =>
        {
            CommonOptions.ApplyThreads(parse.GetValue(threads));
            var options = new ServerOptions
            {
                Urls = (parse.GetValue(urls) ?? []).SelectMany(u => u.Split(';', ',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToArray() is { Length: > 0 } u
                    ? u : ["http://127.0.0.1:8080"],
                ApiKey = parse.GetValue(apiKey) ?? (Environment.GetEnvironmentVariable(ApiKeyVariable) is { Length: > 0 } env ? env : null),
                Batching = new BatchingOptions
                {
                    MaxBatchSize = parse.GetValue(maxBatch) ?? 32,
                    MaxWaitMs = parse.GetValue(maxWait),
                    QueueCapacity = parse.GetValue(queue) ?? 512,
                },
            };
            options.Validate(); // before minutes of loading
            var specs = Specs(parse.GetValue(models) ?? [], parse.GetValue(run), parse.GetValue(runsDir)!, parse.GetValue(template)!, parse.GetValue(itemText));
            var reranks = Reranks(parse.GetValue(rerank) ?? [], specs);
            var torchDevice = CommonOptions.ParseDevice(parse.GetValue(device));
            var loaded = new List<ServedModel>();
            RecAlignServer? server = null;
            try
            {
                foreach (var spec in specs)
                {
                    try { loaded.Add(ServedModel.Load(spec, torchDevice, options.Batching.MaxBatchSize)); }
                    catch (ModelLoadException e) when (e.InnerException is { } inner && CliErrors.IsUserError(inner))
                    {
                        throw new ArgumentException(e.Message, e);
                    }
                }
                var byName = loaded.ToDictionary(m => m.Name, StringComparer.Ordinal);
                foreach (var (name, (retriever, depth)) in reranks)
                    byName[name].UseRetriever(byName[retriever], depth);
                if (parse.GetValue(run) is not null)
                    foreach (var m in loaded.Where(m => m.Catalog is null && !reranks.ContainsKey(m.Name)))
                        if (loaded.FirstOrDefault(r => r.Catalog is not null && !reranks.ContainsKey(r.Name)) is { } retriever)
                        {
                            m.UseRetriever(retriever, 50);
                            Console.WriteLine($"{m.Name}: ranks the catalog by re-ranking {retriever.Name}'s top 50 (--rerank {m.Name}={retriever.Name}:N to change)");
                        }
                server = new RecAlignServer(loaded, options);
                try { await server.StartAsync(cancel); }
                catch (IOException e) { throw new IOException($"--urls {string.Join(" ", options.Urls)}: {e.Message}", e); }
                catch (InvalidOperationException e) when (e.GetType().Name == "AddressInUseException")
                {
                    throw new IOException($"--urls {string.Join(" ", options.Urls)}: the address is in use ({e.Message})", e);
                }
                foreach (var m in loaded)
                    Console.WriteLine($"model {m.Name}: {m.Kind}, {m.Parameters.ToString("N0", CultureInfo.InvariantCulture)} parameters, " +
                        (m.Catalog is { } c ? $"catalog of {c.Count} items" : "no catalog (candidate lists only)") + (m.Run is { } r ? $", run {r}" : ""));
                Console.WriteLine($"serving {loaded.Count} model(s) on {string.Join(" ", server.Addresses)} (web page at /, API at /v1, " +
                    $"batches of up to {options.Batching.MaxBatchSize} within {options.Batching.MaxWaitMs.ToString(CultureInfo.InvariantCulture)} ms); Ctrl-C stops");
                await server.WaitForShutdownAsync();
                Console.WriteLine("stopped: every accepted request was answered");
                return 0;
            }
            finally
            {
                if (server is not null) await server.DisposeAsync();
                else foreach (var m in loaded) m.Dispose();
            }
        });
        return cmd;
    }

    /// <summary>The models to load: each <c>--model NAME=DIR</c>, and every model directory of <c>--run</c>.</summary>
    internal static List<ModelSpec> Specs(IReadOnlyList<string> models, string? run, string runsDir, string template, ItemText? itemText)
    {
        var specs = new List<ModelSpec>();
        foreach (var text in models)
        {
            int eq = text.IndexOf('=');
            if (eq <= 0 || eq == text.Length - 1) throw new ArgumentException($"--model '{text}': expected NAME=DIR");
            var dir = text[(eq + 1)..];
            specs.Add(new ModelSpec(Name(text[..eq], "--model"), dir) { Template = template, ItemText = itemText, Run = RunOf(dir) });
        }
        if (run is not null)
        {
            var (dir, _) = RunsCommands.ResolveRun(run, runsDir, null);
            var folder = Path.Combine(dir.Path, "models");
            var found = Directory.Exists(folder)
                ? Directory.GetDirectories(folder).Where(d => File.Exists(Path.Combine(d, "config.json"))).OrderBy(d => d, StringComparer.Ordinal).ToList()
                : [];
            if (found.Count == 0) throw new ArgumentException($"--run {run}: {folder} holds no model directory");
            // The run's prompt templates, unless --template was given.
            var runTemplate = template;
            if (template == "item" && File.Exists(Path.Combine(dir.Path, RunDirectory.ConfigFile)) &&
                JsonNode.Parse(File.ReadAllText(Path.Combine(dir.Path, RunDirectory.ConfigFile)))?["template"] is JsonValue t && t.TryGetValue<string>(out var name))
                runTemplate = name;
            foreach (var d in found)
                specs.Add(new ModelSpec(Path.GetFileName(d), d) { Run = dir.Id, Template = runTemplate, ItemText = itemText });
        }
        if (specs.Count == 0) throw new ArgumentException("nothing to serve: give --model NAME=DIR (repeatable) or --run RUN");
        var twice = specs.GroupBy(s => s.Name).FirstOrDefault(g => g.Count() > 1);
        if (twice is not null) throw new ArgumentException($"two models are named '{twice.Key}' (name them with --model NAME=DIR)");
        foreach (var s in specs)
            if (!Directory.Exists(s.Directory)) throw new ArgumentException($"--model {s.Name}: {s.Directory} is not a folder");
        return specs;
    }

    /// <summary><c>--rerank NAME=RETRIEVER[:DEPTH]</c>, both names served.</summary>
    internal static Dictionary<string, (string Retriever, int Depth)> Reranks(IReadOnlyList<string> values, IReadOnlyList<ModelSpec> specs)
    {
        var result = new Dictionary<string, (string, int)>(StringComparer.Ordinal);
        var names = specs.Select(s => s.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var text in values)
        {
            int eq = text.IndexOf('=');
            if (eq <= 0) throw new ArgumentException($"--rerank '{text}': expected NAME=RETRIEVER[:DEPTH]");
            var name = text[..eq];
            var rest = text[(eq + 1)..];
            int depth = 50;
            int colon = rest.LastIndexOf(':');
            if (colon >= 0)
            {
                if (!int.TryParse(rest[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out depth) || depth is < 1 or > 10_000)
                    throw new ArgumentException($"--rerank '{text}': DEPTH must be an integer in [1, 10000]");
                rest = rest[..colon];
            }
            foreach (var n in new[] { name, rest })
                if (!names.Contains(n)) throw new ArgumentException($"--rerank '{text}': no served model is named '{n}' (served: {string.Join(", ", names)})");
            if (name == rest) throw new ArgumentException($"--rerank '{text}': a model cannot re-rank its own retrieval");
            if (!result.TryAdd(name, (rest, depth))) throw new ArgumentException($"--rerank: '{name}' is given twice");
        }
        return result;
    }

    /// <summary>The run a model directory belongs to, when it is a run's <c>models/NAME</c> folder.</summary>
    private static string? RunOf(string directory)
    {
        var full = Path.GetFullPath(directory.TrimEnd('/', '\\'));
        var parent = Path.GetDirectoryName(full);
        if (parent is null || Path.GetFileName(parent) != "models") return null;
        var run = Path.GetFileName(Path.GetDirectoryName(parent));
        return run is not null && RunDirectory.TryParseId(run, out _, out _) ? run : null;
    }

    private static string Name(string name, string option)
    {
        if (name.Length > 64 || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
            throw new ArgumentException($"{option}: model name '{name}' must be up to 64 letters, digits, '-', '_' or '.'");
        return name;
    }
}
