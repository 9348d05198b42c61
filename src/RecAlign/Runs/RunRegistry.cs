using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Data.Sqlite;

namespace RecAlign.Runs;

public enum RunStatus { Created, Running, Completed, Failed, Interrupted }

/// <summary>One row of the registry. JSON columns are kept as text; <see cref="FinalMetrics"/> parses them.</summary>
public sealed record RunRecord(string Id, string Kind, DateTimeOffset Created, RunStatus Status, string Dir,
    string? ConfigJson, string? FinalMetricsJson, string? Parent)
{
    public DateTimeOffset? Updated { get; init; }

    public IReadOnlyDictionary<string, double> FinalMetrics
    {
        get
        {
            var result = new Dictionary<string, double>();
            if (FinalMetricsJson is null || JsonNode.Parse(FinalMetricsJson) is not JsonObject obj) return result;
            foreach (var (k, v) in obj)
                if (v is JsonValue jv && jv.TryGetValue<double>(out var d)) result[k] = d;
                else if (v is JsonValue sv && sv.TryGetValue<string>(out var s) && double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out d)) result[k] = d;
            return result;
        }
    }
}

/// <summary>Which runs <see cref="RunRegistry.List"/> returns (all filters optional; newest first).</summary>
public sealed record RunFilter(string? Kind = null, RunStatus? Status = null, string? Parent = null, DateTimeOffset? Since = null, int? Limit = null);

/// <summary>
/// Index of runs in one SQLite file (default <c>&lt;runs_dir&gt;/registry.sqlite</c>): id, kind, created, status,
/// folder, config JSON, final metrics JSON, parent run. WAL journaling lets readers (<c>recalign runs list</c>) work
/// while a trainer writes; writers wait on each other up to the command timeout instead of failing. Each call
/// opens its own short-lived connection, so an instance is safe to share between threads.
/// </summary>
public sealed class RunRegistry
{
    public const string DefaultFileName = "registry.sqlite";
    private readonly string _connectionString;

    public RunRegistry(string path)
    {
        Path = System.IO.Path.GetFullPath(path);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = Path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = false, // no handles left open between calls: run folders and temp dirs can be moved or deleted
            DefaultTimeout = 30,
        }.ToString();
        try { CreateSchema(); }
        catch (SqliteException e) when (e.SqliteErrorCode is 11 or 26) // SQLITE_CORRUPT, SQLITE_NOTADB
        {
            throw new IOException($"{Path}: not a usable run registry ({e.Message.TrimEnd('.')}); move it aside and `recalign runs list` " +
                "builds a new one from the run folders (each run's summary.json says how it ended)", e);
        }
    }

    private void CreateSchema()
    {
        using var c = Open();
        Execute(c, "PRAGMA journal_mode=WAL;");
        Execute(c, """
            CREATE TABLE IF NOT EXISTS runs (
                id TEXT PRIMARY KEY,
                kind TEXT NOT NULL,
                created TEXT NOT NULL,
                status TEXT NOT NULL,
                dir TEXT NOT NULL,
                config TEXT,
                final_metrics TEXT,
                parent TEXT,
                updated TEXT NOT NULL
            );
            CREATE INDEX IF NOT EXISTS runs_created ON runs(created);
            CREATE INDEX IF NOT EXISTS runs_kind ON runs(kind);
            """);
    }

    public string Path { get; }

    public static string DefaultPath(string runsDir) => System.IO.Path.Combine(runsDir, DefaultFileName);

    /// <summary>The registry at <c>&lt;runs_dir&gt;/registry.sqlite</c>, created when missing.</summary>
    public static RunRegistry ForRunsDir(string runsDir) => new(DefaultPath(runsDir));

    /// <summary>Adds a run (or refreshes its kind, folder, config, status and parent when already registered).</summary>
    public void Register(RunDirectory run, RunStatus status = RunStatus.Created, string? parent = null) =>
        Register(new RunRecord(run.Id, run.Kind, run.Created, status, run.Path,
            run.ReadResolvedConfig()?.ToJsonString(), null, parent));

    public void Register(RunRecord record)
    {
        using var c = Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = """
            INSERT INTO runs (id, kind, created, status, dir, config, final_metrics, parent, updated)
            VALUES ($id, $kind, $created, $status, $dir, $config, $metrics, $parent, $now)
            ON CONFLICT(id) DO UPDATE SET kind = excluded.kind, status = excluded.status, dir = excluded.dir,
                config = COALESCE(excluded.config, runs.config), final_metrics = COALESCE(excluded.final_metrics, runs.final_metrics),
                parent = COALESCE(excluded.parent, runs.parent), updated = excluded.updated;
            """;
        cmd.Parameters.AddWithValue("$id", record.Id);
        cmd.Parameters.AddWithValue("$kind", record.Kind);
        cmd.Parameters.AddWithValue("$created", Format(record.Created));
        cmd.Parameters.AddWithValue("$status", StatusName(record.Status));
        cmd.Parameters.AddWithValue("$dir", record.Dir);
        cmd.Parameters.AddWithValue("$config", (object?)record.ConfigJson ?? DBNull.Value);
        cmd.Parameters.AddWithValue("$metrics", (object?)record.FinalMetricsJson ?? DBNull.Value);
        cmd.Parameters.AddWithValue("$parent", (object?)record.Parent ?? DBNull.Value);
        cmd.Parameters.AddWithValue("$now", Format(DateTimeOffset.UtcNow));
        cmd.ExecuteNonQuery();
    }

    public void UpdateStatus(string id, RunStatus status) =>
        UpdateColumn(id, "status", StatusName(status));

    /// <summary>Stores the run's final metrics (replacing earlier ones).</summary>
    public void SetFinalMetrics(string id, IReadOnlyDictionary<string, double> metrics)
    {
        var obj = new JsonObject();
        foreach (var (k, v) in metrics)
            obj[k] = double.IsFinite(v) ? JsonValue.Create(v) : JsonValue.Create(v.ToString(CultureInfo.InvariantCulture));
        UpdateColumn(id, "final_metrics", obj.ToJsonString());
    }

    /// <summary>Runs matching <paramref name="filter"/>, newest first.</summary>
    public IReadOnlyList<RunRecord> List(RunFilter? filter = null)
    {
        filter ??= new RunFilter();
        using var c = Open();
        using var cmd = c.CreateCommand();
        var where = new List<string>();
        if (filter.Kind is not null) { where.Add("kind = $kind"); cmd.Parameters.AddWithValue("$kind", filter.Kind); }
        if (filter.Status is RunStatus s) { where.Add("status = $status"); cmd.Parameters.AddWithValue("$status", StatusName(s)); }
        if (filter.Parent is not null) { where.Add("parent = $parent"); cmd.Parameters.AddWithValue("$parent", filter.Parent); }
        if (filter.Since is DateTimeOffset since) { where.Add("created >= $since"); cmd.Parameters.AddWithValue("$since", Format(since)); }
        cmd.CommandText = "SELECT id, kind, created, status, dir, config, final_metrics, parent, updated FROM runs"
            + (where.Count > 0 ? " WHERE " + string.Join(" AND ", where) : "")
            + " ORDER BY created DESC, id DESC"
            + (filter.Limit is int limit ? " LIMIT " + Math.Max(0, limit).ToString(CultureInfo.InvariantCulture) : "");
        return ReadAll(cmd);
    }

    /// <summary>The run with this id, or the only run whose id starts with it or ends with <c>-&lt;it&gt;</c> (the short
    /// id); throws when none or several match.</summary>
    public RunRecord Get(string idOrPrefix)
    {
        var matches = Find(idOrPrefix);
        return matches.Count switch
        {
            1 => matches[0],
            0 => throw new KeyNotFoundException($"no run '{idOrPrefix}' in {Path}"),
            _ => throw new ArgumentException($"'{idOrPrefix}' matches {matches.Count} runs: {string.Join(", ", matches.Take(10).Select(m => m.Id))}", nameof(idOrPrefix)),
        };
    }

    public RunRecord? TryGet(string idOrPrefix)
    {
        var matches = Find(idOrPrefix);
        return matches.Count == 1 ? matches[0] : null;
    }

    /// <summary>Registers every run folder under <paramref name="runsDir"/> that the registry lacks (status from its
    /// summary's <c>status</c> field when present, else <see cref="RunStatus.Created"/>). Returns how many were added.</summary>
    public int Discover(string runsDir)
    {
        if (!Directory.Exists(runsDir)) return 0;
        var known = List().Select(r => r.Id).ToHashSet(StringComparer.Ordinal);
        int added = 0;
        foreach (var dir in Directory.EnumerateDirectories(runsDir).Order(StringComparer.Ordinal))
        {
            var name = System.IO.Path.GetFileName(dir);
            if (known.Contains(name) || !RunDirectory.TryParseId(name, out _, out _)) continue;
            var run = RunDirectory.Open(dir);
            RunSummary? summary;
            try { summary = run.ReadSummary(); }
            catch (FormatException) { summary = null; } // a broken summary must not stop discovery of the others
            var status = summary?.Status ?? RunStatus.Created;
            string? metrics = summary is null ? null : System.Text.Json.JsonSerializer.Serialize(summary.FinalMetrics);
            Register(new RunRecord(run.Id, run.Kind, run.Created, status, run.Path, run.ReadResolvedConfig()?.ToJsonString(), metrics, null));
            added++;
        }
        return added;
    }

    /// <summary>
    /// Brings registry rows in line with their run folders, whose <c>summary.json</c> is the record of how a run ended
    /// (written atomically, before the registry is told): a process killed between the two leaves the folder
    /// completed or failed and the row running or interrupted, and this repairs it. Returns the ids it changed.
    /// </summary>
    public IReadOnlyList<string> Reconcile()
    {
        var changed = new List<string>();
        foreach (var r in List())
        {
            if (r.Status is RunStatus.Completed or RunStatus.Failed || !Directory.Exists(r.Dir)) continue;
            RunSummary? summary;
            try
            {
                using var run = RunDirectory.Open(r.Dir);
                summary = run.ReadSummary();
            }
            catch (Exception e) when (e is FormatException or IOException or ArgumentException) { continue; } // a broken folder is left for the user
            if (summary?.Status is not (RunStatus.Completed or RunStatus.Failed)) continue;
            if (summary.Status == RunStatus.Completed) SetFinalMetrics(r.Id, summary.FinalMetrics);
            if (UpdateStatusIf(r.Id, r.Status, summary.Status)) changed.Add(r.Id);
        }
        return changed;
    }

    /// <summary>Marks interrupted every "running" run whose folder no live process holds (<see cref="RunDirectory.IsHeld"/>):
    /// a run killed outright (SIGKILL, power loss) has no chance to say so itself. Runs from before the lock existed
    /// have no lock file and are left as they are. Returns the ids it marked.</summary>
    public IReadOnlyList<string> MarkAbandoned()
    {
        Reconcile(); // a run that ended on disk is not abandoned, whatever its row says
        var marked = new List<string>();
        foreach (var r in List(new RunFilter(Status: RunStatus.Running)))
        {
            if (!Directory.Exists(r.Dir) || !File.Exists(System.IO.Path.Combine(r.Dir, RunDirectory.LockFile)) || RunDirectory.IsHeld(r.Dir)) continue;
            // Only if still running: the run may have completed (and let go of its lock) since the list was read.
            if (!UpdateStatusIf(r.Id, RunStatus.Running, RunStatus.Interrupted)) continue;
            using (var run = RunDirectory.Open(r.Dir))
                run.Log($"interrupted (found running with no live process; resume with --resume {run.Path})");
            marked.Add(r.Id);
        }
        return marked;
    }

    /// <summary>Finds a run by folder path, id, id prefix or short id. An existing folder wins; otherwise the registry
    /// is searched after registering unregistered folders under <paramref name="runsDir"/> (when given).</summary>
    public (RunDirectory Run, RunRecord? Record) Resolve(string idOrPath, string? runsDir = null)
    {
        if (Directory.Exists(idOrPath))
        {
            var run = RunDirectory.Open(idOrPath);
            return (run, TryGet(run.Id));
        }
        if (runsDir is not null) Discover(runsDir);
        var record = Get(idOrPath);
        if (!Directory.Exists(record.Dir))
            throw new DirectoryNotFoundException($"run '{record.Id}' is registered at {record.Dir}, which no longer exists");
        return (RunDirectory.Open(record.Dir), record);
    }

    public static string StatusName(RunStatus s) => s.ToString().ToLowerInvariant();

    public static bool TryParseStatus(string text, out RunStatus status) => Enum.TryParse(text, ignoreCase: true, out status) && Enum.IsDefined(status);

    private List<RunRecord> Find(string idOrPrefix)
    {
        if (string.IsNullOrWhiteSpace(idOrPrefix)) throw new ArgumentException("run id is empty", nameof(idOrPrefix));
        using var c = Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT id, kind, created, status, dir, config, final_metrics, parent, updated FROM runs WHERE id = $id";
        cmd.Parameters.AddWithValue("$id", idOrPrefix);
        var exact = ReadAll(cmd);
        if (exact.Count > 0) return exact;
        var escaped = idOrPrefix.Replace("\\", "\\\\").Replace("%", "\\%").Replace("_", "\\_");
        cmd.CommandText = """
            SELECT id, kind, created, status, dir, config, final_metrics, parent, updated FROM runs
            WHERE id LIKE $prefix ESCAPE '\' OR id LIKE $suffix ESCAPE '\' ORDER BY created DESC, id DESC
            """;
        cmd.Parameters.AddWithValue("$prefix", escaped + "%");
        cmd.Parameters.AddWithValue("$suffix", "%-" + escaped);
        return ReadAll(cmd);
    }

    /// <summary>Sets the status only when it is <paramref name="from"/>; whether it did.</summary>
    public bool UpdateStatusIf(string id, RunStatus from, RunStatus to)
    {
        using var c = Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "UPDATE runs SET status = $to, updated = $now WHERE id = $id AND status = $from";
        cmd.Parameters.AddWithValue("$to", StatusName(to));
        cmd.Parameters.AddWithValue("$from", StatusName(from));
        cmd.Parameters.AddWithValue("$now", Format(DateTimeOffset.UtcNow));
        cmd.Parameters.AddWithValue("$id", id);
        return cmd.ExecuteNonQuery() > 0;
    }

    private void UpdateColumn(string id, string column, string value)
    {
        using var c = Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = $"UPDATE runs SET {column} = $value, updated = $now WHERE id = $id";
        cmd.Parameters.AddWithValue("$value", value);
        cmd.Parameters.AddWithValue("$now", Format(DateTimeOffset.UtcNow));
        cmd.Parameters.AddWithValue("$id", id);
        if (cmd.ExecuteNonQuery() == 0) throw new KeyNotFoundException($"no run '{id}' in {Path}");
    }

    private List<RunRecord> ReadAll(SqliteCommand cmd)
    {
        var list = new List<RunRecord>();
        using var r = cmd.ExecuteReader();
        while (r.Read())
        {
            var statusText = r.GetString(3);
            if (!TryParseStatus(statusText, out var status))
                throw new FormatException($"{Path}: run '{r.GetString(0)}' has unknown status '{statusText}'");
            list.Add(new RunRecord(r.GetString(0), r.GetString(1), Parse(r.GetString(2)), status, r.GetString(4),
                r.IsDBNull(5) ? null : r.GetString(5), r.IsDBNull(6) ? null : r.GetString(6), r.IsDBNull(7) ? null : r.GetString(7))
            { Updated = Parse(r.GetString(8)) });
        }
        return list;
    }

    private SqliteConnection Open()
    {
        var c = new SqliteConnection(_connectionString);
        c.Open();
        // In WAL mode NORMAL cannot corrupt the file; it only skips an fsync per commit (a power cut may lose the last one).
        Execute(c, "PRAGMA synchronous=NORMAL;");
        return c;
    }

    private static void Execute(SqliteConnection c, string sql)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }

    // Fixed-width UTC ISO-8601 so text order equals time order in SQL.
    private static string Format(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffffffZ", CultureInfo.InvariantCulture);

    private static DateTimeOffset Parse(string s) =>
        DateTimeOffset.Parse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);
}
