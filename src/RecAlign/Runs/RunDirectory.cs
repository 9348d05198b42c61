using RecAlign.IO;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using RecAlign.Configuration;

namespace RecAlign.Runs;

/// <summary>One line of <c>metrics.jsonl</c>: a step, the stage that logged it, its numeric values, and when.</summary>
public sealed record MetricsRecord(long Step, string? Stage, IReadOnlyDictionary<string, double> Values, DateTimeOffset? Time);

/// <summary>
/// The one folder layout every command writes: <c>&lt;runs_dir&gt;/&lt;yyyyMMdd-HHmmss&gt;-&lt;kind&gt;-&lt;shortid&gt;/</c>
/// with <c>config.json</c> (the config as the user gave it), <c>resolved_config.json</c> (every field, defaults
/// included), <c>inputs.json</c> (a stage command's data files and folders, which <c>--resume</c> checks), <c>log.txt</c>, <c>metrics.jsonl</c> (one object per logged step: <c>{"step":..,"stage":..,
/// "time":..,"loss":..,...}</c>), <c>checkpoints/</c>, <c>plots/</c>, <c>report.md</c> and <c>summary.json</c>.
/// Whole files are written atomically; the log and the metrics are appended and flushed line by line, so a reader
/// (or a crash) sees whole lines. The run id is the folder name.
/// </summary>
public sealed class RunDirectory : IDisposable
{
    public const string ConfigFile = "config.json";
    public const string ResolvedConfigFile = "resolved_config.json";
    /// <summary>A command's inputs that are not config fields (data files, model and output folders), so a resumed
    /// run can be checked against them.</summary>
    public const string InputsFile = "inputs.json";
    /// <summary>Held (an exclusive OS file lock) by the process running the run; the OS releases it when that process
    /// ends, however it ends, so a "running" run whose lock is free was killed.</summary>
    public const string LockFile = "run.lock";
    public const string LogFile = "log.txt";
    public const string MetricsFile = "metrics.jsonl";
    public const string SummaryFile = "summary.json";
    public const string ReportFile = "report.md";
    /// <summary>Item-side fairness of every evaluated row: groups, every K, per-group shares, re-ranker tuning.</summary>
    public const string FairnessFile = "fairness.json";
    public const string CheckpointsFolder = "checkpoints";
    public const string PlotsFolder = "plots";
    private const string TimeFormat = "yyyyMMdd-HHmmss";

    /// <summary>Environment variable that overrides <see cref="DefaultRunsDir"/>.</summary>
    public const string RunsDirVariable = "RECALIGN_RUNS_DIR";

    /// <summary>Where runs go when a command is not told: <c>$RECALIGN_RUNS_DIR</c>, else <c>runs</c> under the current directory.</summary>
    public static string DefaultRunsDir =>
        Environment.GetEnvironmentVariable(RunsDirVariable) is { Length: > 0 } d ? d : "runs";

    private static int _counter;
    private readonly Lock _gate = new();
    private StreamWriter? _metrics;
    private StreamWriter? _log;

    private RunDirectory(string path, string id, string kind, DateTimeOffset created)
    {
        Path = path;
        Id = id;
        Kind = kind;
        Created = created;
    }

    /// <summary>Absolute path of the run folder.</summary>
    public string Path { get; }
    /// <summary>The folder name, <c>yyyyMMdd-HHmmss-kind-shortid</c>.</summary>
    public string Id { get; }
    public string Kind { get; }
    /// <summary>Creation time (UTC, second resolution: from the folder name).</summary>
    public DateTimeOffset Created { get; }
    public string CheckpointsPath => System.IO.Path.Combine(Path, CheckpointsFolder);
    public string PlotsPath => System.IO.Path.Combine(Path, PlotsFolder);
    public string MetricsPath => System.IO.Path.Combine(Path, MetricsFile);
    public string SummaryPath => System.IO.Path.Combine(Path, SummaryFile);
    public string ReportPath => System.IO.Path.Combine(Path, ReportFile);
    public string FairnessPath => System.IO.Path.Combine(Path, FairnessFile);
    public string LogPath => System.IO.Path.Combine(Path, LogFile);

    /// <summary>
    /// Creates a new run folder under <paramref name="runsDir"/>. <paramref name="resolvedConfig"/> is the fully
    /// resolved config (a record, serialised as ConfigLoader does, or a <see cref="JsonNode"/>);
    /// <paramref name="givenConfig"/> is what the user supplied (file content and overrides), defaulting to the
    /// resolved one. <paramref name="now"/> exists for tests.
    /// </summary>
    public static RunDirectory Create(string runsDir, string kind, object resolvedConfig, JsonNode? givenConfig = null, DateTimeOffset? now = null)
    {
        if (string.IsNullOrWhiteSpace(kind) || kind.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_')))
            throw new ArgumentException($"run kind '{kind}' must be non-empty ASCII letters, digits, '-' or '_'", nameof(kind));
        var created = now ?? DateTimeOffset.UtcNow;
        created = new DateTimeOffset(created.UtcDateTime.Ticks - created.UtcDateTime.Ticks % TimeSpan.TicksPerSecond, TimeSpan.Zero);
        var resolved = ToNode(resolvedConfig);
        var resolvedJson = resolved.ToJsonString(ConfigLoader.Json);
        Directory.CreateDirectory(runsDir);
        for (int attempt = 0; ; attempt++)
        {
            // The short id hashes what distinguishes this run (config, time, process, a counter), so it needs no
            // random source; a clash with an existing folder just moves on to the next counter value.
            var seed = $"{kind}\n{resolvedJson}\n{created:O}\n{Environment.ProcessId}\n{Interlocked.Increment(ref _counter)}\n{attempt}";
            var shortId = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(seed)))[..6];
            var id = $"{created.UtcDateTime.ToString(TimeFormat, CultureInfo.InvariantCulture)}-{kind}-{shortId}";
            var path = System.IO.Path.GetFullPath(System.IO.Path.Combine(runsDir, id));
            if (Directory.Exists(path)) continue;
            // Built aside and renamed in: a process killed here leaves a hidden ".{id}.creating-{pid}" folder, never a
            // run folder without its config.
            var tmp = System.IO.Path.Combine(runsDir, $".{id}.creating-{Environment.ProcessId}");
            Directory.CreateDirectory(System.IO.Path.Combine(tmp, CheckpointsFolder));
            Directory.CreateDirectory(System.IO.Path.Combine(tmp, PlotsFolder));
            AtomicFile.WriteAllText(System.IO.Path.Combine(tmp, ResolvedConfigFile), resolvedJson + "\n");
            AtomicFile.WriteAllText(System.IO.Path.Combine(tmp, ConfigFile), (givenConfig ?? resolved).ToJsonString(ConfigLoader.Json) + "\n");
            try { Directory.Move(tmp, path); }
            catch (IOException) when (attempt < 100)
            {
                try { Directory.Delete(tmp, recursive: true); } catch (IOException) { }
                continue;
            }
            var run = new RunDirectory(path, id, kind, created);
            run.Log($"created run {id} ({kind})");
            return run;
        }
    }

    /// <summary>
    /// The config as the user gave it, for <c>config.json</c>: <c>{"file": path, "config": {file content as JSON},
    /// "overrides": ["key=value", ...]}</c>. JSON and YAML files are read; <c>file</c>/<c>config</c> are null without a file.
    /// </summary>
    public static JsonObject GivenConfig(string? configPath, IEnumerable<string>? overrides = null)
    {
        JsonNode? content = null;
        if (configPath is not null)
        {
            if (!File.Exists(configPath)) throw new FileNotFoundException($"config file not found: {configPath}", configPath);
            var text = File.ReadAllText(configPath);
            try
            {
                content = configPath.EndsWith(".yaml", StringComparison.OrdinalIgnoreCase) || configPath.EndsWith(".yml", StringComparison.OrdinalIgnoreCase)
                    ? YamlToJson(new YamlDotNet.Serialization.DeserializerBuilder().Build().Deserialize<object?>(text))
                    : JsonNode.Parse(text, documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
            }
            catch (Exception e) when (e is JsonException or YamlDotNet.Core.YamlException)
            {
                throw new FormatException($"{configPath}: cannot parse config: {e.Message}", e);
            }
        }
        return new JsonObject
        {
            ["file"] = configPath,
            ["config"] = content,
            ["overrides"] = new JsonArray((overrides ?? []).Select(o => (JsonNode?)JsonValue.Create(o)).ToArray()),
        };
    }

    private static JsonNode? YamlToJson(object? o) => o switch
    {
        null => null,
        IDictionary<object, object?> d => new JsonObject(d.Select(kv => KeyValuePair.Create(kv.Key.ToString()!, YamlToJson(kv.Value)))),
        IList<object?> l => new JsonArray(l.Select(YamlToJson).ToArray()),
        string s when bool.TryParse(s, out var b) => JsonValue.Create(b),
        string s when long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var l) => JsonValue.Create(l),
        string s when double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) => JsonValue.Create(d),
        "null" or "~" => null,
        _ => JsonValue.Create(o.ToString()),
    };

    /// <summary>Opens an existing run folder; its name must follow the layout's pattern.</summary>
    public static RunDirectory Open(string path)
    {
        var full = System.IO.Path.GetFullPath(path.TrimEnd('/', '\\'));
        if (!Directory.Exists(full)) throw new DirectoryNotFoundException($"run folder not found: {full}");
        var id = System.IO.Path.GetFileName(full);
        if (!TryParseId(id, out var created, out var kind))
            throw new FormatException($"{full}: not a run folder (expected a name like yyyyMMdd-HHmmss-kind-shortid)");
        return new RunDirectory(full, id, kind, created);
    }

    /// <summary>Splits a run id into its creation time and kind.</summary>
    public static bool TryParseId(string id, out DateTimeOffset created, out string kind)
    {
        created = default;
        kind = "";
        int last = id.LastIndexOf('-');
        if (id.Length < TimeFormat.Length + 4 || last <= TimeFormat.Length + 1 || id[TimeFormat.Length] != '-') return false;
        if (!DateTime.TryParseExact(id[..TimeFormat.Length], TimeFormat, CultureInfo.InvariantCulture,
                DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var t)) return false;
        created = new DateTimeOffset(t, TimeSpan.Zero);
        kind = id[(TimeFormat.Length + 1)..last];
        return kind.Length > 0;
    }

    /// <summary>Appends one step's metrics to <c>metrics.jsonl</c> and flushes it. Non-finite values are written as
    /// the strings "NaN"/"Infinity" (JSON has no such numbers) and read back as doubles.</summary>
    public void LogMetrics(long step, IReadOnlyDictionary<string, double> values, string? stage = null)
    {
        using var buffer = new MemoryStream();
        // Relaxed escaping: these files are read by people and tools, never embedded in HTML.
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteNumber("step", step);
            if (stage is not null) w.WriteString("stage", stage);
            w.WriteString("time", DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture));
            foreach (var (k, v) in values)
            {
                if (k is "step" or "stage" or "time") throw new ArgumentException($"metric name '{k}' is reserved", nameof(values));
                if (double.IsFinite(v)) w.WriteNumber(k, v);
                else w.WriteString(k, v.ToString(CultureInfo.InvariantCulture));
            }
            w.WriteEndObject();
        }
        var line = Encoding.UTF8.GetString(buffer.ToArray());
        lock (_gate)
        {
            _metrics ??= OpenAppend(MetricsPath);
            _metrics.Write(line);
            _metrics.Write('\n');
            _metrics.Flush();
        }
    }

    /// <summary>Appends a time-stamped line to <c>log.txt</c> and flushes it.</summary>
    public void Log(string line)
    {
        lock (_gate)
        {
            _log ??= OpenAppend(LogPath);
            _log.Write(DateTimeOffset.UtcNow.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture));
            _log.Write(' ');
            _log.Write(line);
            _log.Write('\n');
            _log.Flush();
        }
    }

    /// <summary>Reads every record of <c>metrics.jsonl</c> (empty when there is none). A last line cut short by a
    /// crash is skipped; any other malformed line is an error naming the file and line.</summary>
    public IReadOnlyList<MetricsRecord> ReadMetrics() => ReadMetrics(MetricsPath);

    /// <inheritdoc cref="ReadMetrics()"/>
    public static IReadOnlyList<MetricsRecord> ReadMetrics(string metricsPath)
    {
        var records = new List<MetricsRecord>();
        if (!File.Exists(metricsPath)) return records;
        string text;
        using (var fs = new FileStream(metricsPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
        using (var reader = new StreamReader(fs, Encoding.UTF8))
            text = reader.ReadToEnd();
        var lines = text.Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            var line = lines[i].TrimEnd('\r');
            if (line.Trim().Length == 0) continue;
            bool unterminated = i == lines.Length - 1; // text after the last '\n': a write in progress or cut by a crash
            JsonObject obj;
            try
            {
                obj = JsonNode.Parse(line) as JsonObject ?? throw new FormatException($"{metricsPath}:{i + 1}: expected a JSON object");
            }
            catch (JsonException e)
            {
                if (unterminated) break;
                throw new FormatException($"{metricsPath}:{i + 1}: invalid JSON: {e.Message}", e);
            }
            long step;
            if (obj["step"] is JsonValue sv && sv.TryGetValue<double>(out var ds) && ds == Math.Floor(ds)) step = (long)ds;
            else throw new FormatException($"{metricsPath}:{i + 1}: field 'step' is missing or not an integer");
            string? stage = obj["stage"] is JsonValue st && st.TryGetValue<string>(out var s) ? s : null;
            DateTimeOffset? time = obj["time"] is JsonValue tv && tv.TryGetValue<string>(out var ts)
                && DateTimeOffset.TryParse(ts, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t) ? t : null;
            var values = new Dictionary<string, double>();
            foreach (var (k, v) in obj)
            {
                if (k is "step" or "stage" or "time" || v is not JsonValue jv) continue;
                if (jv.TryGetValue<double>(out var d)) values[k] = d;
                else if (jv.TryGetValue<string>(out var str) && double.TryParse(str, NumberStyles.Float, CultureInfo.InvariantCulture, out d)) values[k] = d;
                // other non-numeric fields (notes, flags) are not metrics: skipped
            }
            records.Add(new MetricsRecord(step, stage, values, time));
        }
        return records;
    }

    /// <summary>Writes <c>summary.json</c> atomically (records serialise in snake_case, as configs do).</summary>
    public void WriteSummary(RunSummary summary) =>
        AtomicFile.WriteAllText(SummaryPath, JsonSerializer.Serialize(summary, SummaryJson) + "\n");

    /// <summary><c>summary.json</c>, or null when not written yet; <see cref="FormatException"/> naming the file when
    /// it is not a summary. Keys this version does not know are skipped, so older runs still read.</summary>
    public RunSummary? ReadSummary()
    {
        if (!File.Exists(SummaryPath)) return null;
        try { return JsonSerializer.Deserialize<RunSummary>(File.ReadAllText(SummaryPath), SummaryJson); }
        catch (JsonException e) { throw new FormatException($"{SummaryPath}: not a RecAlign summary ({JsonErrors.Reason(e)})", e); }
    }

    private static readonly JsonSerializerOptions SummaryJson = new(ConfigLoader.Json)
    {
        UnmappedMemberHandling = System.Text.Json.Serialization.JsonUnmappedMemberHandling.Skip,
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
    };

    public JsonObject? ReadConfig() => ReadObject(System.IO.Path.Combine(Path, ConfigFile));

    public JsonObject? ReadResolvedConfig() => ReadObject(System.IO.Path.Combine(Path, ResolvedConfigFile));

    /// <summary>Writes <c>inputs.json</c>: the command's inputs that are not config fields (paths, loss name...).</summary>
    public void WriteInputs(IReadOnlyDictionary<string, string?> inputs)
    {
        var node = new JsonObject();
        foreach (var (k, v) in inputs.OrderBy(kv => kv.Key, StringComparer.Ordinal)) node[k] = v;
        AtomicFile.WriteAllText(System.IO.Path.Combine(Path, InputsFile), node.ToJsonString(ConfigLoader.Json) + "\n");
    }

    public JsonObject? ReadInputs() => ReadObject(System.IO.Path.Combine(Path, InputsFile));

    /// <summary>Takes the run's lock (<see cref="LockFile"/>) for this process until the returned stream is disposed;
    /// an <see cref="IOException"/> when another process holds it.</summary>
    public FileStream AcquireLock()
    {
        var path = System.IO.Path.Combine(Path, LockFile);
        try
        {
            return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e) when (e is not FileNotFoundException and not DirectoryNotFoundException)
        {
            throw new IOException($"run {Path} is open in another process (it holds {LockFile})", e);
        }
    }

    /// <summary>Whether a live process holds the run folder's lock (false for runs from before the lock existed).</summary>
    public static bool IsHeld(string runPath)
    {
        var path = System.IO.Path.Combine(runPath, LockFile);
        if (!File.Exists(path)) return false;
        try
        {
            using var probe = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
            return false;
        }
        catch (FileNotFoundException) { return false; }
        catch (IOException) { return true; }
    }

    /// <summary>A config as <c>resolved_config.json</c> stores it (a record serialised as ConfigLoader does).</summary>
    public static JsonNode ConfigNode(object config) => ToNode(config);

    /// <summary>Writes any other whole file in the run folder atomically, e.g. <c>eval.json</c>.</summary>
    public string WriteFile(string relativePath, string text)
    {
        var full = System.IO.Path.GetFullPath(System.IO.Path.Combine(Path, relativePath));
        if (!full.StartsWith(Path + System.IO.Path.DirectorySeparatorChar, StringComparison.Ordinal))
            throw new ArgumentException($"'{relativePath}' is outside the run folder", nameof(relativePath));
        AtomicFile.WriteAllText(full, text);
        return full;
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _metrics?.Dispose();
            _log?.Dispose();
            _metrics = null;
            _log = null;
        }
    }

    public override string ToString() => Id;

    internal static JsonObject? ReadObject(string path)
    {
        if (!File.Exists(path)) return null;
        try
        {
            return JsonNode.Parse(File.ReadAllText(path), documentOptions: new JsonDocumentOptions { AllowTrailingCommas = true }) as JsonObject
                ?? throw new FormatException($"{path}: expected a JSON object");
        }
        catch (JsonException e)
        {
            throw new FormatException($"{path}: invalid JSON at line {e.LineNumber + 1}: {IO.JsonErrors.Reason(e)}", e);
        }
    }

    private static JsonNode ToNode(object value) => value switch
    {
        JsonNode n => n.DeepClone(),
        string s => JsonNode.Parse(s) ?? throw new ArgumentException("config JSON text is null"),
        _ => JsonSerializer.SerializeToNode(value, value.GetType(), ConfigLoader.Json) ?? throw new ArgumentException("config serialised to null"),
    };

    private static StreamWriter OpenAppend(string path) =>
        new(new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete), new UTF8Encoding(false));
}
