using System.Diagnostics;
using System.Net;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Prometheus;

namespace RecAlign.Server;

/// <summary>Everything <c>recalign serve</c> is configured with.</summary>
public sealed record ServerOptions
{
    /// <summary>Addresses to listen on; loopback by default. Any other address needs <see cref="ApiKey"/>.</summary>
    public IReadOnlyList<string> Urls { get; init; } = ["http://127.0.0.1:8080"];
    /// <summary>When set, every API request must carry it (<c>Authorization: Bearer KEY</c> or <c>X-API-Key: KEY</c>).</summary>
    public string? ApiKey { get; init; }
    public BatchingOptions Batching { get; init; } = new();
    public RequestLimits Limits { get; init; } = new();
    /// <summary>How long a stopping server keeps answering the requests it accepted.</summary>
    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>Log lines below this level are dropped (Kestrel's own, and one line per failed request).</summary>
    public LogLevel LogLevel { get; init; } = LogLevel.Warning;

    public void Validate()
    {
        Batching.Validate();
        Limits.Validate();
        if (Urls.Count == 0) throw new ArgumentException("at least one --urls address is needed");
        foreach (var url in Urls)
        {
            if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme != "http")
                throw new ArgumentException($"--urls '{url}': expected http://HOST:PORT (TLS belongs to a reverse proxy in front)");
            if (!IsLoopback(uri.Host) && string.IsNullOrEmpty(ApiKey))
                throw new ArgumentException($"--urls '{url}' listens beyond this machine: give --api-key (or RECALIGN_API_KEY) so every request must carry it");
        }
        if (ApiKey is { Length: < 16 }) throw new ArgumentException("--api-key must be at least 16 characters");
    }

    private static bool IsLoopback(string host) =>
        host.Equals("localhost", StringComparison.OrdinalIgnoreCase) || (IPAddress.TryParse(host.Trim('[', ']'), out var ip) && IPAddress.IsLoopback(ip));
}

/// <summary>
/// The HTTP host over the library: a thin shell that parses requests, asks a <see cref="ServedModel"/> through its
/// <see cref="DynamicBatcher"/>, and writes the answer. Endpoints are grouped so that other kinds (DeepRec's retrieval
/// and reward endpoints) can be mapped onto the same host.
/// </summary>
public sealed class RecAlignServer : IAsyncDisposable
{
    private readonly Dictionary<string, (ServedModel Model, DynamicBatcher Batcher)> _models;
    private readonly ServerOptions _options;
    private readonly ILogger _log;
    private volatile bool _stopping;
    private int _arriving; // recommend requests received and not yet queued (or answered): what a batch may wait for
    // The web page, embedded in the assembly.
    private static readonly EmbeddedFileProvider Page = new(typeof(RecAlignServer).Assembly, typeof(RecAlignServer).Assembly.GetName().Name + ".wwwroot");

    public WebApplication App { get; }
    public ServerMetrics Metrics { get; } = new();
    public IReadOnlyCollection<ServedModel> Models => _models.Values.Select(m => m.Model).ToList();

    /// <summary>Builds the host over already loaded models (the caller keeps loading errors at start-up, where they belong).</summary>
    public RecAlignServer(IReadOnlyList<ServedModel> models, ServerOptions options)
    {
        options.Validate();
        if (models.Count == 0) throw new ArgumentException("no model to serve: give --model NAME=DIR or --run RUN");
        _options = options;
        _models = new Dictionary<string, (ServedModel, DynamicBatcher)>(StringComparer.Ordinal);
        foreach (var m in models)
            if (!_models.TryAdd(m.Name, (m, new DynamicBatcher(m.Name, m.Recommender, options.Batching, Metrics, () => Volatile.Read(ref _arriving)))))
                throw new ArgumentException($"two models are named '{m.Name}'");

        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ApplicationName = typeof(RecAlignServer).Assembly.GetName().Name });
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss "; });
        builder.Logging.SetMinimumLevel(options.LogLevel);
        builder.WebHost.UseUrls([.. options.Urls]);
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Limits.MaxRequestBodySize = options.Limits.MaxBodyBytes;
            k.Limits.MaxRequestHeadersTotalSize = 32 * 1024;
        });
        builder.Services.Configure<HostOptions>(h => h.ShutdownTimeout = options.ShutdownTimeout);
        // snake_case for every answer and for the OpenAPI document's schemas alike.
        builder.Services.ConfigureHttpJsonOptions(j => j.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower);
        builder.Services.AddProblemDetails();
        builder.Services.AddOpenApi();
        App = builder.Build();
        _log = App.Services.GetRequiredService<ILoggerFactory>().CreateLogger("RecAlign.Server");
        // SIGTERM / Ctrl-C: readiness turns 503 at once; Kestrel stops accepting connections and waits for the requests in
        // flight, whose batches keep running; only once it has drained do the batchers stop.
        App.Lifetime.ApplicationStopping.Register(() => _stopping = true);
        App.Lifetime.ApplicationStopped.Register(CompleteBatchers);
        Map(App);
    }

    /// <summary>The addresses Kestrel listens on once started (port 0 becomes the port it got).</summary>
    public IReadOnlyList<string> Addresses => App.Urls.ToList();

    public Task StartAsync(CancellationToken cancel = default) => App.StartAsync(cancel);

    public Task StopAsync(CancellationToken cancel = default) => App.StopAsync(cancel);

    /// <summary>Completes once the host has stopped (SIGTERM, Ctrl-C or <see cref="StopAsync"/>) and drained.</summary>
    public Task WaitForShutdownAsync() => App.WaitForShutdownAsync();

    private void Map(WebApplication app)
    {
        app.UseExceptionHandler(error => error.Run(ctx =>
            Problem(ctx, 500, "internal error", "the server failed while answering; the request id identifies it in the log")));
        app.Use(RequireApiKey);

        app.UseDefaultFiles(new DefaultFilesOptions { FileProvider = Page });
        app.UseStaticFiles(new StaticFileOptions { FileProvider = Page });

        app.MapGet("/healthz", () => Results.Json(new { status = "ok" }))
            .WithSummary("Liveness: the process answers.");
        app.MapGet("/readyz", () => _stopping
                ? Results.Json(new { status = "stopping" }, statusCode: 503)
                : Results.Json(new { status = "ready", models = _models.Count }))
            .WithSummary("Readiness: every model is loaded and the server is not stopping.");
        app.MapMetrics("/metrics", Metrics.Registry);
        app.MapOpenApi("/openapi/{documentName}.json");

        var v1 = app.MapGroup("/v1");
        v1.MapGet("/models", () => Results.Json(_models.Values.Select(m => Info(m.Model)).ToList()))
            .Produces<List<ModelInfo>>()
            .WithSummary("The served models: name, kind, parameters, catalog size and the run each came from.");
        v1.MapGet("/models/{name}/items", SearchItems)
            .Produces<List<CatalogItem>>()
            .WithSummary("Catalog items whose title contains q (the web page's search).");
        v1.MapPost("/recommend", (Delegate)(Func<HttpContext, Task>)Recommend)
            .Accepts<RecommendRequestBody>("application/json")
            .Produces<RecommendResponse>()
            .ProducesProblem(400).ProducesProblem(413).ProducesProblem(415).ProducesProblem(503).ProducesProblem(500)
            .WithSummary("Rank the given candidates, or the model's catalog, after a history.");
    }

    private static ModelInfo Info(ServedModel m) =>
        new(m.Name, m.Kind, m.Parameters, m.Catalog?.Count, m.Run, m.ItemText.ToString().ToLowerInvariant(), m.Catalog is not null);

    private IResult SearchItems(string name, string? q, int? limit)
    {
        if (!_models.TryGetValue(name, out var m))
            return Results.Problem(statusCode: 404, title: "unknown model", detail: $"no model named '{RecommendRequest.Clip(name, 64)}' (GET /v1/models lists them)");
        int n = limit ?? 20;
        if (n is < 1 or > 200) return Results.Problem(statusCode: 400, title: "bad request", detail: $"limit: {n} is outside [1, 200]");
        if (q is { Length: > 512 }) return Results.Problem(statusCode: 400, title: "bad request", detail: "q: at most 512 characters");
        return Results.Json(m.Model.Search(q ?? "", n).Select(i => new CatalogItem(i.ExternalId, i.Title)).ToList());
    }

    private async Task Recommend(HttpContext ctx)
    {
        var watch = Stopwatch.StartNew();
        string model = "";
        int status = 200;
        int arriving = 1;
        Interlocked.Increment(ref _arriving);
        void Queued()
        {
            if (Interlocked.Exchange(ref arriving, 0) == 1) Interlocked.Decrement(ref _arriving);
        }
        try
        {
            if (ctx.Request.ContentType is not { } type || !type.StartsWith("application/json", StringComparison.OrdinalIgnoreCase))
            {
                status = 415;
                await Problem(ctx, status, "unsupported media type", "send the body as application/json");
                return;
            }
            // Kestrel caps the body at max_body_bytes (413 past it).
            using var buffer = new MemoryStream();
            await ctx.Request.Body.CopyToAsync(buffer, ctx.RequestAborted);
            var bytes = buffer.GetBuffer().AsMemory(0, (int)buffer.Length);
            // System.Text.Json checks UTF-8 only when a string is read: check it all first.
            if (!System.Text.Unicode.Utf8.IsValid(bytes.Span)) throw new ArgumentException("the body is not valid UTF-8");
            RecommendRequest request;
            try
            {
                var body = JsonNode.Parse(bytes.Span, documentOptions: new JsonDocumentOptions { MaxDepth = _options.Limits.MaxDepth, AllowDuplicateProperties = false });
                request = RecommendRequest.Parse(body, _options.Limits);
            }
            catch (JsonException e)
            {
                throw new ArgumentException($"the body is not valid JSON: {IO.JsonErrors.Reason(e)}");
            }
            catch (InvalidOperationException e) // a string escape that is not valid Unicode (a lone surrogate)
            {
                throw new ArgumentException($"the body holds a string that is not valid Unicode: {e.Message}");
            }
            if (!_models.TryGetValue(request.Model, out var served))
                throw new ArgumentException($"model: no model named '{RecommendRequest.Clip(request.Model, 64)}' (served: {string.Join(", ", _models.Keys)})");
            model = request.Model;
            var (m, batcher) = served;
            List<RecommendedItem> items;
            if (request.Candidates is { } candidates)
            {
                var question = m.Question(request.History, candidates);
                Queued(); // before it is queued: a batch must never wait for a request that is already in it
                var ranking = await batcher.RankCandidates(question, request.K, ctx.RequestAborted).WaitAsync(ctx.RequestAborted);
                var catalog = question.Items!.Catalog;
                items = ranking.Indices.Select((c, r) =>
                {
                    var item = catalog[question.Items.Candidates[c]];
                    return new RecommendedItem(m.Catalog is null ? null : item.ExternalId, item.Title, Finite(ranking.Scores[r]), r + 1);
                }).ToList();
            }
            else
            {
                if (m.Catalog is not { } catalog)
                    throw new ArgumentException($"model '{m.Name}' ({m.Kind}) answers in text and has no catalog to rank: send \"candidates\", or serve it with a retriever (--rerank {m.Name}=RETRIEVER)");
                var history = m.Resolve(request.History, "history");
                Queued();
                var ranking = await batcher.RankCatalog(history, request.K, request.ExcludeHistory, ctx.RequestAborted).WaitAsync(ctx.RequestAborted);
                items = ranking.Indices.Select((id, r) => new RecommendedItem(catalog[id].ExternalId, catalog[id].Title, Finite(ranking.Scores[r]), r + 1)).ToList();
            }
            await Results.Json(new RecommendResponse(m.Name, items, Math.Round(watch.Elapsed.TotalMilliseconds, 3))).ExecuteAsync(ctx);
        }
        catch (OperationCanceledException) when (ctx.RequestAborted.IsCancellationRequested)
        {
            status = 499; // the client went away (nginx's code); nothing to answer
        }
        catch (BadHttpRequestException e)
        {
            status = e.StatusCode;
            await Problem(ctx, status, status == 413 ? "payload too large" : "bad request",
                status == 413 ? $"the body is larger than {_options.Limits.MaxBodyBytes} bytes" : e.Message);
        }
        catch (ArgumentException e)
        {
            status = 400;
            await Problem(ctx, status, "bad request", e.Message);
        }
        catch (QueueFullException e)
        {
            status = 503;
            ctx.Response.Headers.RetryAfter = "1";
            await Problem(ctx, status, "service unavailable", e.Message);
        }
        catch (Exception e)
        {
            status = 500;
            _log.LogError(e, "request {RequestId} failed", ctx.TraceIdentifier);
            await Problem(ctx, status, "internal error", "the model failed while answering; the request id identifies it in the server's log");
        }
        finally
        {
            Queued();
            Metrics.Requests.WithLabels("recommend", model, status.ToString(System.Globalization.CultureInfo.InvariantCulture)).Inc();
            Metrics.Latency.WithLabels("recommend", model).Observe(watch.Elapsed.TotalSeconds);
        }
    }

    private static float? Finite(float x) => float.IsFinite(x) ? x : null;

    /// <summary>An RFC 9457 problem document carrying the request id.</summary>
    private static async Task Problem(HttpContext ctx, int status, string title, string detail)
    {
        if (ctx.Response.HasStarted) return;
        ctx.Response.StatusCode = status;
        await Results.Problem(statusCode: status, title: title, detail: detail,
            extensions: new Dictionary<string, object?> { ["request_id"] = ctx.TraceIdentifier }).ExecuteAsync(ctx);
    }

    private async Task RequireApiKey(HttpContext ctx, RequestDelegate next)
    {
        // The page's static files carry no data; everything else needs the key when one is set.
        if (_options.ApiKey is not { } key || IsPageFile(ctx.Request.Path))
        {
            await next(ctx);
            return;
        }
        string? given = ctx.Request.Headers["X-API-Key"].FirstOrDefault();
        var auth = ctx.Request.Headers.Authorization.FirstOrDefault();
        if (given is null && auth is not null && auth.StartsWith("Bearer ", StringComparison.Ordinal)) given = auth["Bearer ".Length..];
        if (given is null || !CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(given), Encoding.UTF8.GetBytes(key)))
        {
            ctx.Response.Headers.WWWAuthenticate = "Bearer";
            await Problem(ctx, 401, "unauthorized", "this server needs an API key: send Authorization: Bearer KEY or X-API-Key: KEY");
            return;
        }
        await next(ctx);
    }

    private static bool IsPageFile(PathString path) =>
        path == "/" || (path.HasValue && Page.GetFileInfo(path.Value!).Exists);

    private void CompleteBatchers()
    {
        foreach (var (_, batcher) in _models.Values) batcher.Complete();
    }

    public async ValueTask DisposeAsync()
    {
        await App.DisposeAsync();
        CompleteBatchers();
        await Task.WhenAll(_models.Values.Select(m => m.Batcher.Completion));
        foreach (var (m, _) in _models.Values) m.Dispose();
    }
}
