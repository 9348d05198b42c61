using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json.Nodes;

namespace RecAlign.Bench;

/// <summary>
/// serve-load --run RUN_DIR [--models sft,sasrec] [--requests 10000] [--clients 1,4,16,64] [--wait-ms 2] [--candidates N] [--quick] [--out FILE.json]:
/// `recalign serve` (its own process, as deployed) over a run's models on loopback, driven by concurrent clients asking
/// for the top 10 of the catalog after a 10-item history. For each model, batching on (32 per forward within --wait-ms ms)
/// and off (one request per forward): throughput, p50/p95/p99 latency, errors, the server's RSS. Then a client
/// disconnect storm and SIGTERM under load (every accepted request must be answered).
/// </summary>
internal static class ServeLoadBench
{
    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int sig);

    private const int SigTerm = 15;

    private sealed record Level(string Model, bool Batching, int Clients, int Requests, double Seconds, double[] LatencyMs, int Errors, double RssBeforeMb, double RssAfterMb)
    {
        public double Throughput => Requests / Seconds;
        public double P(double q) => LatencyMs.Length == 0 ? double.NaN : LatencyMs[Math.Min(LatencyMs.Length - 1, (int)Math.Ceiling(q * LatencyMs.Length) - 1)];
    }

    public static int Run(string[] args)
    {
        var runDir = BenchOutput.Value(args, "--run") ?? throw new ArgumentException("serve-load needs --run RUN_DIR (a quickstart run: its models/sft and models/sasrec)");
        bool quick = BenchOutput.Flag(args, "--quick");
        int requests = int.Parse(BenchOutput.Value(args, "--requests") ?? (quick ? "1000" : "10000"));
        var clients = (BenchOutput.Value(args, "--clients") ?? "1,4,16,64").Split(',').Select(int.Parse).ToArray();
        var models = (BenchOutput.Value(args, "--models") ?? "sft,sasrec").Split(',');
        var waitMs = BenchOutput.Value(args, "--wait-ms") ?? "2";
        Candidates = int.Parse(BenchOutput.Value(args, "--candidates") ?? "0");
        var levels = new List<Level>();
        var result = new JsonObject { ["bench"] = "serve-load", ["machine"] = BenchOutput.Machine(), ["run"] = Path.GetFullPath(runDir), ["requests_per_level"] = requests, ["max_wait_ms"] = double.Parse(waitMs, System.Globalization.CultureInfo.InvariantCulture),
            ["request"] = Candidates > 0 ? $"rank {Candidates} candidates after a 10-item history" : "top 10 of the catalog after a 10-item history" };

        foreach (var batching in new[] { true, false })
        {
            using var server = Server.Start(runDir, models, batching, waitMs);
            using var http = Client(64);
            var histories = Histories(http, server.Url, models[0], 2000);
            foreach (var model in models)
            {
                Drive(http, server.Url, model, histories, 4, Math.Min(200, requests)); // warm-up
                foreach (int c in clients)
                {
                    double before = server.RssMb();
                    var (seconds, latency, errors) = Drive(http, server.Url, model, histories, c, requests);
                    levels.Add(new Level(model, batching, c, requests, seconds, latency, errors, before, server.RssMb()));
                    var l = levels[^1];
                    Console.WriteLine($"{model}, batching {(batching ? "on" : "off")}, {c} clients: {l.Throughput:F0} req/s, p50 {l.P(0.5):F1} ms, p99 {l.P(0.99):F1} ms, {errors} errors, RSS {before:F0} → {l.RssAfterMb:F0} MB");
                }
            }
            if (batching)
            {
                // Disconnect storm: clients that give up after 0-5 ms, then a normal request.
                double before = server.RssMb();
                int storm = quick ? 500 : 2000;
                Parallel.For(0, storm, new ParallelOptions { MaxDegreeOfParallelism = 32 }, i =>
                {
                    using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(i % 6));
                    try { http.PostAsync(server.Url + "/v1/recommend", Body(models[0], histories[i % histories.Count]), cts.Token).GetAwaiter().GetResult().Dispose(); }
                    catch (Exception e) when (e is OperationCanceledException or HttpRequestException) { }
                });
                var after = http.PostAsync(server.Url + "/v1/recommend", Body(models[0], histories[0])).GetAwaiter().GetResult();
                var ready = http.GetAsync(server.Url + "/readyz").GetAwaiter().GetResult();
                result["disconnect_storm"] = new JsonObject
                {
                    ["abandoned_requests"] = storm, ["status_after"] = (int)after.StatusCode, ["readyz_after"] = (int)ready.StatusCode,
                    ["rss_before_mb"] = before, ["rss_after_mb"] = server.RssMb(),
                };
                Console.WriteLine($"disconnect storm: {storm} abandoned requests, then {(int)after.StatusCode} and readyz {(int)ready.StatusCode}; RSS {before:F0} → {server.RssMb():F0} MB");
            }
        }

        result["sigterm_under_load"] = SigtermUnderLoad(runDir, models[0], quick);
        result["levels"] = new JsonArray(levels.Select(l => (JsonNode)new JsonObject
        {
            ["model"] = l.Model, ["batching"] = l.Batching, ["clients"] = l.Clients, ["requests"] = l.Requests, ["seconds"] = l.Seconds,
            ["requests_per_s"] = l.Throughput, ["p50_ms"] = l.P(0.5), ["p95_ms"] = l.P(0.95), ["p99_ms"] = l.P(0.99), ["errors"] = l.Errors,
            ["rss_before_mb"] = l.RssBeforeMb, ["rss_after_mb"] = l.RssAfterMb,
        }).ToArray());
        var rows = new List<(string, string)>();
        foreach (var l in levels)
            rows.Add(($"{l.Model}, batching {(l.Batching ? "on" : "off")}, {l.Clients} clients",
                $"{l.Throughput:F0} req/s · p50 {l.P(0.5):F1} / p95 {l.P(0.95):F1} / p99 {l.P(0.99):F1} ms · {l.Errors} errors · RSS {l.RssBeforeMb:F0} → {l.RssAfterMb:F0} MB"));
        foreach (var model in models)
            foreach (int c in clients)
            {
                var on = levels.Single(l => l.Model == model && l.Batching && l.Clients == c);
                var off = levels.Single(l => l.Model == model && !l.Batching && l.Clients == c);
                rows.Add(($"{model}, {c} clients: batching on / off", $"{on.Throughput / off.Throughput:F2}x throughput"));
                result[$"speedup_{model}_{c}"] = on.Throughput / off.Throughput;
            }
        var term = result["sigterm_under_load"]!;
        rows.Add(("SIGTERM under load", $"{term["answered_200"]} answered 200, {term["answered_503"]} refused 503, {term["refused_connections"]} connections refused, {term["lost"]} lost; exit {term["exit_code"]}"));
        BenchOutput.Write(args, "serve-load", result, rows);
        return 0;
    }

    /// <summary>16 clients keep sending; SIGTERM after 1.5 s. Every request must end answered (200, or 503 while stopping)
    /// or never accepted (connection refused): a reset or a timeout on an accepted request is a loss.</summary>
    private static JsonObject SigtermUnderLoad(string runDir, string model, bool quick)
    {
        var server = Server.Start(runDir, [model], batching: true, waitMs: "2");
        using var http = Client(16);
        var histories = Histories(http, server.Url, model, 500);
        int ok = 0, unavailable = 0, refused = 0, lost = 0, other = 0;
        var stop = new CancellationTokenSource();
        var lostReasons = new List<string>();
        var workers = Enumerable.Range(0, 16).Select(w => Task.Run(async () =>
        {
            for (int i = w; !stop.IsCancellationRequested; i += 16)
            {
                try
                {
                    using var r = await http.PostAsync(server.Url + "/v1/recommend", Body(model, histories[i % histories.Count]));
                    if (r.StatusCode == HttpStatusCode.OK) Interlocked.Increment(ref ok);
                    else if (r.StatusCode == HttpStatusCode.ServiceUnavailable) Interlocked.Increment(ref unavailable);
                    else Interlocked.Increment(ref other);
                }
                catch (HttpRequestException e) when (e.InnerException is SocketException { SocketErrorCode: SocketError.ConnectionRefused })
                {
                    Interlocked.Increment(ref refused);
                    return; // the server is gone: stop this client
                }
                catch (Exception e)
                {
                    Interlocked.Increment(ref lost);
                    lock (lostReasons) if (lostReasons.Count < 5) lostReasons.Add(e.GetBaseException().Message);
                    return;
                }
            }
        })).ToArray();
        Thread.Sleep(quick ? 800 : 1500);
        kill(server.Process.Id, SigTerm);
        bool exited = server.Process.WaitForExit(60_000);
        stop.Cancel();
        Task.WaitAll(workers, TimeSpan.FromSeconds(60));
        var output = server.Output();
        var result = new JsonObject
        {
            ["answered_200"] = ok, ["answered_503"] = unavailable, ["refused_connections"] = refused, ["lost"] = lost, ["other_status"] = other,
            ["exit_code"] = exited ? server.Process.ExitCode : -1, ["printed_stopped"] = output.Contains("stopped: every accepted request was answered"),
            ["lost_reasons"] = new JsonArray(lostReasons.Select(r => (JsonNode)r).ToArray()),
        };
        Console.WriteLine($"SIGTERM under load: {ok} answered 200, {unavailable} answered 503, {refused} connections refused, {lost} lost, exit {result["exit_code"]}");
        server.Dispose();
        return result;
    }

    private static HttpClient Client(int connections) => new(new SocketsHttpHandler { MaxConnectionsPerServer = connections, PooledConnectionLifetime = TimeSpan.FromMinutes(10) })
    {
        Timeout = TimeSpan.FromSeconds(120),
    };

    private static uint Stable(string s)
    {
        uint h = 2166136261;
        foreach (char ch in s) h = (h ^ ch) * 16777619;
        return h;
    }

    /// <summary>0: catalog requests; N: each request ranks N candidates (drawn from the same seeded pool).</summary>
    private static int Candidates;
    private static string[] _pool = [];

    private static StringContent Body(string model, string[] history)
    {
        string Ids(IEnumerable<string> ids) => string.Join(",", ids.Select(h => $"{{\"id\":\"{h}\"}}"));
        var candidates = Candidates > 0
            ? $",\"candidates\":[{Ids(Enumerable.Range(0, Candidates).Select(j => _pool[(int)((Stable(string.Concat(history)) + 7u * (uint)j) % (uint)_pool.Length)]).Distinct())}]"
            : "";
        return new($"{{\"model\":\"{model}\",\"history\":[{Ids(history)}]{candidates},\"k\":10}}", Encoding.UTF8, "application/json");
    }

    /// <summary>Seeded 10-item histories of catalog ids (from the catalog search endpoint).</summary>
    private static List<string[]> Histories(HttpClient http, string url, string model, int count)
    {
        var items = JsonNode.Parse(http.GetStringAsync($"{url}/v1/models/{model}/items?q=&limit=200").GetAwaiter().GetResult())!.AsArray()
            .Select(i => (string)i!["id"]!).ToArray();
        _pool = items;
        var rng = new Random(7);
        return Enumerable.Range(0, count).Select(_ => Enumerable.Range(0, 10).Select(_ => items[rng.Next(items.Length)]).Distinct().ToArray()).ToList();
    }

    private static (double Seconds, double[] LatencyMs, int Errors) Drive(HttpClient http, string url, string model, List<string[]> histories, int clients, int requests)
    {
        var latency = new double[requests];
        int next = -1, errors = 0;
        var watch = Stopwatch.StartNew();
        var workers = Enumerable.Range(0, clients).Select(_ => Task.Run(async () =>
        {
            for (int i; (i = Interlocked.Increment(ref next)) < requests;)
            {
                var t = Stopwatch.GetTimestamp();
                try
                {
                    using var r = await http.PostAsync(url + "/v1/recommend", Body(model, histories[i % histories.Count]));
                    await r.Content.ReadAsByteArrayAsync();
                    if (r.StatusCode != HttpStatusCode.OK) Interlocked.Increment(ref errors);
                }
                catch (HttpRequestException) { Interlocked.Increment(ref errors); }
                latency[i] = Stopwatch.GetElapsedTime(t).TotalMilliseconds;
            }
        })).ToArray();
        Task.WaitAll(workers);
        double seconds = watch.Elapsed.TotalSeconds;
        Array.Sort(latency);
        return (seconds, latency, errors);
    }

    /// <summary>A <c>recalign serve</c> process on a free loopback port.</summary>
    private sealed class Server : IDisposable
    {
        private readonly StringBuilder _output = new();
        public required Process Process { get; init; }
        public required string Url { get; init; }

        public static Server Start(string runDir, IReadOnlyList<string> models, bool batching, string waitMs)
        {
            int port;
            using (var probe = new TcpListener(IPAddress.Loopback, 0)) { probe.Start(); port = ((IPEndPoint)probe.LocalEndpoint).Port; probe.Stop(); }
            var exe = Path.Combine(AppContext.BaseDirectory, "recalign");
            var info = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var m in models) { info.ArgumentList.Add("--model"); info.ArgumentList.Add($"{m}={Path.Combine(runDir, "models", m)}"); }
            info.ArgumentList.Insert(0, "serve");
            foreach (var a in new[] { "--urls", $"http://127.0.0.1:{port}", "--max-batch-size", batching ? "32" : "1", "--max-wait-ms", batching ? waitMs : "0", "--queue-capacity", "1024" })
                info.ArgumentList.Add(a);
            var process = Process.Start(info)!;
            var server = new Server { Process = process, Url = $"http://127.0.0.1:{port}" };
            process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (server._output) server._output.AppendLine(e.Data); };
            process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (server._output) server._output.AppendLine(e.Data); };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
            for (int i = 0; i < 600; i++)
            {
                if (process.HasExited) throw new InvalidOperationException($"recalign serve exited with {process.ExitCode}: {server.Output()}");
                try { if (http.GetAsync(server.Url + "/readyz").GetAwaiter().GetResult().IsSuccessStatusCode) return server; }
                catch (HttpRequestException) { }
                catch (TaskCanceledException) { }
                Thread.Sleep(100);
            }
            throw new TimeoutException($"recalign serve did not become ready: {server.Output()}");
        }

        public string Output() { lock (_output) return _output.ToString(); }

        /// <summary>The server process's resident set (VmRSS), MB.</summary>
        public double RssMb()
        {
            var line = File.ReadLines($"/proc/{Process.Id}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
            return double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) / 1024;
        }

        public void Dispose()
        {
            if (!Process.HasExited)
            {
                kill(Process.Id, SigTerm);
                if (!Process.WaitForExit(30_000)) Process.Kill(entireProcessTree: true);
            }
            Process.Dispose();
        }
    }
}
