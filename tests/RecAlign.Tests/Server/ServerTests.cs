using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using RecAlign.Data;
using RecAlign.Models;
using RecAlign.Models.Language;
using RecAlign.Models.Sequential;
using RecAlign.Server;
using RecAlign.Tests.Data;
using RecAlign.Tests.Models;
using RecAlign.Text;
using static TorchSharp.torch;

namespace RecAlign.Tests.Server;

/// <summary>Three model directories (SASRec, an LM with item tokens, a title LM) and a real Kestrel server over them on
/// a free loopback port, shared by the tests of <see cref="ServerTests"/>.</summary>
public sealed class ServedModelsFixture : IAsyncLifetime
{
    public const int Items = 30;
    private readonly TempDir _dir = new();
    public RecAlignServer Server { get; private set; } = null!;
    public HttpClient Client { get; private set; } = null!;
    public string Root => _dir.Path;
    public static ItemCatalog Catalog { get; } = new(Enumerable.Range(0, Items).Select(i => new Item(i, $"e{i}", $"Song {i:D2}")));

    public static ServerOptions Options(BatchingOptions? batching = null) => new()
    {
        Urls = ["http://127.0.0.1:0"],
        Batching = batching ?? new BatchingOptions { MaxBatchSize = 16, MaxWaitMs = 5 },
        Limits = new RequestLimits { MaxBodyBytes = 16 * 1024, MaxHistory = 50, MaxCandidates = 40, MaxK = 100 },
        LogLevel = Microsoft.Extensions.Logging.LogLevel.None,
    };

    /// <summary>Writes the three model directories under <paramref name="root"/>: sasrec, token_lm, title_lm.</summary>
    public static void WriteModels(string root)
    {
        using (var sasrec = SequentialModel.Create(SequentialModelConfig.For("sasrec") with { NItems = Items, MaxSeqLength = 12 }, seed: 3))
            SequentialModelDirectory.Save(sasrec, Catalog, Path.Combine(root, "sasrec"));
        var words = new[] { "Here is what the user listened to, and the candidates. Answer:" }.Concat(Catalog.Items.Select(i => " " + i.Title)).ToArray();
        var tokens = new ItemTokenizer(CompactVocabularyTokenizer.Build(words), Catalog);
        using (var lm = LanguageModel.Create(LanguageModelTests.TinyConfig() with { VocabSize = tokens.VocabSize, MaxPositionEmbeddings = 256 }, seed: 4))
            ModelDirectory.Save(lm, tokens, Path.Combine(root, "token_lm"));
        var text = CompactVocabularyTokenizer.Build(words);
        using (var lm = LanguageModel.Create(LanguageModelTests.TinyConfig() with { VocabSize = text.VocabSize, MaxPositionEmbeddings = 512 }, seed: 5))
            ModelDirectory.Save(lm, text, Path.Combine(root, "title_lm"));
    }

    public static List<ServedModel> Load(string root, int batch = 16) =>
        new[] { "sasrec", "token_lm", "title_lm" }.Select(n => ServedModel.Load(new ModelSpec(n, Path.Combine(root, n)), batchSize: batch)).ToList();

    public async Task InitializeAsync()
    {
        WriteModels(_dir.Path);
        Server = new RecAlignServer(Load(_dir.Path), Options());
        await Server.StartAsync();
        Client = new HttpClient { BaseAddress = new Uri(Server.Addresses[0]), Timeout = TimeSpan.FromSeconds(60) };
    }

    public async Task DisposeAsync()
    {
        Client.Dispose();
        await Server.StopAsync();
        await Server.DisposeAsync();
        _dir.Dispose();
    }
}

public sealed class ServerTests(ServedModelsFixture fx) : IClassFixture<ServedModelsFixture>
{
    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    private async Task<(HttpStatusCode Status, JsonNode? Body, HttpResponseMessage Response)> Post(string body, HttpClient? client = null)
    {
        var response = await (client ?? fx.Client).PostAsync("/v1/recommend", Json(body));
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length > 0 ? JsonNode.Parse(text) : null, response);
    }

    private ServedModel Model(string name) => fx.Server.Models.Single(m => m.Name == name);

    [Fact]
    public async Task ModelsListsEachModelWithItsKindSizeAndCatalog()
    {
        var models = JsonNode.Parse(await fx.Client.GetStringAsync("/v1/models"))!.AsArray();
        Assert.Equal(["sasrec", "title_lm", "token_lm"], models.Select(m => (string)m!["name"]!).Order());
        var sasrec = models.Single(m => (string)m!["name"]! == "sasrec")!;
        Assert.Equal("SASRec", (string)sasrec["kind"]!);
        Assert.Equal(ServedModelsFixture.Items, (int)sasrec["catalog_size"]!);
        Assert.True((long)sasrec["parameters"]! > 1000);
        var title = models.Single(m => (string)m!["name"]! == "title_lm")!;
        Assert.Null(title["catalog_size"]);
        Assert.False((bool)title["ranks_catalog"]!);
        Assert.Equal("token", (string)models.Single(m => (string)m!["name"]! == "token_lm")!["item_text"]!);
    }

    [Fact]
    public async Task HealthReadinessMetricsOpenApiAndThePageAnswer()
    {
        Assert.Equal("ok", (string)JsonNode.Parse(await fx.Client.GetStringAsync("/healthz"))!["status"]!);
        Assert.Equal("ready", (string)JsonNode.Parse(await fx.Client.GetStringAsync("/readyz"))!["status"]!);
        await Post("""{"model":"sasrec","history":["Song 01"]}""");
        var metrics = await fx.Client.GetStringAsync("/metrics");
        Assert.Contains("recalign_requests_total{endpoint=\"recommend\",model=\"sasrec\",status=\"200\"}", metrics);
        Assert.Contains("recalign_request_duration_seconds_bucket", metrics);
        Assert.Contains("recalign_batch_size_bucket", metrics);
        var openapi = JsonNode.Parse(await fx.Client.GetStringAsync("/openapi/v1.json"))!;
        Assert.NotNull(openapi["paths"]!["/v1/recommend"]!["post"]);
        var page = await fx.Client.GetStringAsync("/");
        Assert.Contains("<script src=\"app.js\">", page);
        Assert.Contains("fetch(", await fx.Client.GetStringAsync("/app.js"));
    }

    [Fact]
    public async Task CatalogRankingIsTheModelsOwnTopK_WithTheHistoryMasked()
    {
        foreach (var name in new[] { "sasrec", "token_lm" })
        {
            var (status, body, _) = await Post($$"""{"model":"{{name}}","history":["Song 03",{"id":"e7"},"song 11"],"k":5}""");
            Assert.Equal(HttpStatusCode.OK, status);
            var items = body!["items"]!.AsArray();
            using var scope = NewDisposeScope();
            var (ids, scores) = Model(name).Recommender.TopK([[3, 7, 11]], 5);
            for (int r = 0; r < 5; r++)
            {
                Assert.Equal($"e{ids[0, r]}", (string)items[r]!["id"]!);
                Assert.Equal(ServedModelsFixture.Catalog.Title((int)ids[0, r]), (string)items[r]!["title"]!);
                Assert.Equal(scores[0, r], (float)items[r]!["score"]!, 4);
                Assert.Equal(r + 1, (int)items[r]!["rank"]!);
            }
            Assert.DoesNotContain(items, i => (string)i!["id"]! is "e3" or "e7" or "e11");
            Assert.Equal(name, (string)body["model"]!);
            Assert.True((double)body["took_ms"]! >= 0);
        }
    }

    [Fact]
    public async Task CandidateRankingOrdersTheGivenItemsByTheModelsScores_ForEveryKindOfModel()
    {
        var candidates = new[] { "Song 05", "Song 17", "Song 22", "Song 09", "Song 28" };
        foreach (var name in new[] { "sasrec", "token_lm", "title_lm" })
        {
            var model = Model(name);
            var question = model.Question([new ItemRef("Song 01", null), new ItemRef("Song 02", null)], candidates.Select(c => new ItemRef(c, null)).ToList());
            float[] expected;
            using (var s = model.Recommender.ScoreCandidates([question])) expected = s.data<float>().ToArray();
            var order = Enumerable.Range(0, candidates.Length).OrderByDescending(i => expected[i]).ThenBy(i => i).ToArray();
            var (status, body, _) = await Post($$"""{"model":"{{name}}","history":["Song 01","Song 02"],"candidates":["Song 05","Song 17","Song 22","Song 09","Song 28"],"k":10}""");
            Assert.Equal(HttpStatusCode.OK, status);
            var items = body!["items"]!.AsArray();
            Assert.Equal(candidates.Length, items.Count); // k above the list: all of it
            Assert.Equal(order.Select(i => candidates[i]), items.Select(i => (string)i!["title"]!));
            Assert.Equal(order.Select(i => expected[i]), items.Select(i => (float)i!["score"]!));
            if (name == "title_lm") Assert.All(items, i => Assert.Null(i!["id"]));
            else Assert.All(items, i => Assert.StartsWith("e", (string)i!["id"]!));
        }
    }

    [Fact]
    public async Task ConcurrentRequestsAreBatched_AndGetTheSameAnswersAsAlone()
    {
        var histories = Enumerable.Range(0, 24).Select(i => new[] { i % 30, (i * 7 + 3) % 30, (i * 11 + 5) % 30 }).ToArray();
        string Body(int[] h) => $$"""{"model":"token_lm","history":[{{string.Join(",", h.Select(x => $"{{\"id\":\"e{x}\"}}"))}}],"k":4}""";
        var alone = new List<string>();
        foreach (var h in histories) alone.Add((await Post(Body(h))).Body!["items"]!.ToJsonString());
        var before = fx.Server.Metrics.BatchSize.WithLabels("token_lm");
        double sum0 = before.Sum, count0 = before.Count;
        var together = await Task.WhenAll(histories.Select(h => Post(Body(h))));
        for (int i = 0; i < histories.Length; i++)
        {
            var a = JsonNode.Parse(alone[i])!.AsArray();
            var b = together[i].Body!["items"]!.AsArray();
            Assert.Equal(a.Select(x => (string)x!["id"]!), b.Select(x => (string)x!["id"]!));
            for (int r = 0; r < a.Count; r++) Assert.Equal((float)a[r]!["score"]!, (float)b[r]!["score"]!, 3);
        }
        double batches = before.Count - count0, requests = before.Sum - sum0;
        Assert.Equal(histories.Length, requests);
        Assert.True(batches < requests, $"{requests} concurrent requests ran in {batches} forwards: nothing was batched");
    }

    [Fact]
    public async Task TheCatalogSearchFindsTitles()
    {
        var found = JsonNode.Parse(await fx.Client.GetStringAsync("/v1/models/sasrec/items?q=song%201&limit=3"))!.AsArray();
        Assert.Equal(3, found.Count);
        Assert.All(found, f => Assert.StartsWith("Song 1", (string)f!["title"]!));
        Assert.Empty(JsonNode.Parse(await fx.Client.GetStringAsync("/v1/models/title_lm/items?q=song"))!.AsArray());
        Assert.Equal(HttpStatusCode.NotFound, (await fx.Client.GetAsync("/v1/models/nope/items?q=a")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await fx.Client.GetAsync("/v1/models/sasrec/items?q=a&limit=100000")).StatusCode);
    }

    /// <summary>Malformed and hostile requests: each a 4xx naming what is wrong, and the server healthy afterwards.</summary>
    public static TheoryData<string, int, string> BadRequests()
    {
        var data = new TheoryData<string, int, string>();
        void Add(string body, string mustName, int status = 400) => data.Add(body, status, mustName);
        Add("", "not valid JSON");
        Add("{", "not valid JSON");
        Add("null", "JSON object");
        Add("[]", "JSON object");
        Add("42", "JSON object");
        Add("\"text\"", "JSON object");
        Add("{}", "model");
        Add("""{"model":null,"history":["Song 01"]}""", "model");
        Add("""{"model":7,"history":["Song 01"]}""", "model");
        Add("""{"model":"","history":["Song 01"]}""", "model");
        Add("""{"model":"nope","history":["Song 01"]}""", "no model named 'nope'");
        Add("""{"model":"sasrec"}""", "history");
        Add("""{"model":"sasrec","history":null}""", "history");
        Add("""{"model":"sasrec","history":"Song 01"}""", "history");
        Add("""{"model":"sasrec","history":{}}""", "history");
        Add("""{"model":"sasrec","history":[]}""", "history");
        Add("""{"model":"sasrec","history":[null]}""", "history[0]");
        Add("""{"model":"sasrec","history":[1]}""", "history[0]");
        Add("""{"model":"sasrec","history":[true]}""", "history[0]");
        Add("""{"model":"sasrec","history":[["Song 01"]]}""", "history[0]");
        Add("""{"model":"sasrec","history":[""]}""", "history[0]");
        Add("""{"model":"sasrec","history":["   "]}""", "history[0]");
        Add("""{"model":"sasrec","history":[{}]}""", "history[0]");
        Add("""{"model":"sasrec","history":[{"id":"e1","title":"Song 01"}]}""", "history[0]");
        Add("""{"model":"sasrec","history":[{"name":"Song 01"}]}""", "history[0]");
        Add("""{"model":"sasrec","history":[{"id":null}]}""", "history[0].id");
        Add("""{"model":"sasrec","history":[{"id":1.5}]}""", "history[0].id");
        Add("""{"model":"sasrec","history":[{"id":""}]}""", "history[0].id");
        Add("""{"model":"sasrec","history":[{"id":[1]}]}""", "history[0].id");
        Add("""{"model":"sasrec","history":[{"title":5}]}""", "history[0].title");
        Add("""{"model":"sasrec","history":["Song 01","No Such Song"]}""", "'No Such Song'");
        Add("""{"model":"sasrec","history":[{"id":"e999"}]}""", "id 'e999'");
        Add("""{"model":"sasrec","history":[{"id":5}]}""", "id '5'");
        Add("""{"model":"sasrec","history":["Song 01"],"candidates":[]}""", "candidates");
        Add("""{"model":"sasrec","history":["Song 01"],"candidates":"Song 02"}""", "candidates");
        Add("""{"model":"sasrec","history":["Song 01"],"candidates":["Song 02","Unknown Thing"]}""", "'Unknown Thing'");
        Add("""{"model":"sasrec","history":["Song 01"],"candidates":["Song 02","Song 02"]}""", "once");
        Add("""{"model":"sasrec","history":["Song 01"],"k":0}""", "k");
        Add("""{"model":"sasrec","history":["Song 01"],"k":-3}""", "k");
        Add("""{"model":"sasrec","history":["Song 01"],"k":1000000000}""", "k");
        Add("""{"model":"sasrec","history":["Song 01"],"k":1e300}""", "k");
        Add("""{"model":"sasrec","history":["Song 01"],"k":2.5}""", "k");
        Add("""{"model":"sasrec","history":["Song 01"],"k":"10"}""", "k");
        Add("""{"model":"sasrec","history":["Song 01"],"k":null}""", "k");
        Add("""{"model":"sasrec","history":["Song 01"],"exclude_history":"yes"}""", "exclude_history");
        Add("""{"model":"sasrec","history":["Song 01"],"candiates":["Song 02"]}""", "unknown field 'candiates'");
        Add("""{"model":"sasrec","history":["Song 01"],"path":"/etc/passwd"}""", "unknown field 'path'");
        Add("""{"model":"../../etc/passwd","history":["Song 01"]}""", "no model named");
        Add("""{"model":"title_lm","history":["Song 01"]}""", "no catalog to rank");
        Add("""{"model":"title_lm","history":[{"id":"e1"}],"candidates":["Song 02"]}""", "name items by title");
        Add("""{"model":"sasrec","history":[""" + string.Join(",", Enumerable.Repeat("\"Song 01\"", 51)) + "]}", "at most 50");
        Add("""{"model":"sasrec","history":["Song 01"],"candidates":[""" + string.Join(",", Enumerable.Range(0, 41).Select(i => $"\"Song {i % 30:D2}\"")) + "]}", "at most 40");
        Add("{\"model\":\"sasrec\",\"history\":[\"" + new string('x', 600) + "\"]}", "600 characters");
        Add(new string('[', 100) + new string(']', 100), "depth");
        Add("""{"model":"sasrec","history":[{"id":{"id":{"id":{"id":{"id":{"id":{"id":{"id":1}}}}}}}}]}""", "depth");
        Add("""{"model":"sasrec","history":["\ud800"]}""", "Unicode");
        Add("""{"model":"sasrec","history":["Song 01"],"k":10,"k":11}""", "k");
        Add("{\"model\":\"sasrec\",\"history\":[\"Song 01\"]} trailing", "not valid JSON");
        Add("{\"model\":\"sasrec\",\"history\":[\"Song 01\"]," + new string(' ', 20_000) + "\"k\":1}", "bytes", 413);
        return data;
    }

    [Theory, MemberData(nameof(BadRequests))]
    public async Task BadRequestsAreAnswered4xxNamingTheFault_AndTheServerStaysHealthy(string body, int status, string mustName)
    {
        var (code, problem, response) = await Post(body);
        Assert.Equal(status, (int)code);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains(mustName, (string)problem!["detail"]!, StringComparison.OrdinalIgnoreCase);
        Assert.False(string.IsNullOrEmpty((string?)problem["request_id"]));
        Assert.Equal(HttpStatusCode.OK, (await fx.Client.GetAsync("/healthz")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Post("""{"model":"sasrec","history":["Song 01"],"k":1}""")).Status);
    }

    [Fact]
    public async Task InvalidUtf8AndWrongContentTypesAreRefused()
    {
        var bytes = new ByteArrayContent([.. "{\"model\":\"sasrec\",\"history\":[\""u8.ToArray(), 0xff, 0xfe, .. "\"]}"u8.ToArray()]);
        bytes.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        var r = await fx.Client.PostAsync("/v1/recommend", bytes);
        Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
        Assert.Contains("UTF-8", await r.Content.ReadAsStringAsync());
        var plain = await fx.Client.PostAsync("/v1/recommend", new StringContent("""{"model":"sasrec","history":["Song 01"]}""", Encoding.UTF8, "text/plain"));
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, plain.StatusCode);
        Assert.Equal(HttpStatusCode.MethodNotAllowed, (await fx.Client.GetAsync("/v1/recommend")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await fx.Client.GetAsync("/etc/passwd")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await fx.Client.GetAsync("/..%2f..%2fetc%2fpasswd")).StatusCode);
    }

    [Fact]
    public async Task AClientThatDisconnectsDoesNotHurtTheServer()
    {
        var body = """{"model":"token_lm","history":["Song 01","Song 02"],"k":5}""";
        var storm = Enumerable.Range(0, 40).Select(async _ =>
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(Random.Shared.Next(0, 5)));
            try { await fx.Client.PostAsync("/v1/recommend", Json(body), cts.Token); } catch (OperationCanceledException) { }
        });
        await Task.WhenAll(storm);
        var (status, result, _) = await Post(body);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(5, result!["items"]!.AsArray().Count);
        Assert.Equal("ready", (string)JsonNode.Parse(await fx.Client.GetStringAsync("/readyz"))!["status"]!);
    }
}

/// <summary>Servers built for one test each: security settings, failures inside a model, shutdown.</summary>
public sealed class ServerLifecycleTests
{
    [Fact]
    public void ListeningBeyondLoopbackNeedsAnApiKey()
    {
        var open = new ServerOptions { Urls = ["http://0.0.0.0:0"] };
        Assert.Contains("--api-key", Assert.Throws<ArgumentException>(open.Validate).Message);
        (open with { ApiKey = "0123456789abcdef0123" }).Validate();
        new ServerOptions { Urls = ["http://localhost:0", "http://[::1]:0"] }.Validate();
        Assert.Throws<ArgumentException>(new ServerOptions { Urls = ["https://127.0.0.1:0"] }.Validate);
        Assert.Throws<ArgumentException>(new ServerOptions { ApiKey = "short" }.Validate);
    }

    [Fact]
    public async Task WithAnApiKeyEveryApiRequestMustCarryIt_ThePageLoadsWithout()
    {
        var key = "0123456789abcdef-key";
        await using var server = new RecAlignServer([ServedModel.Create("gated", new GatedRecommender())], ServedModelsFixture.Options() with { ApiKey = key });
        await server.StartAsync();
        using var client = new HttpClient { BaseAddress = new Uri(server.Addresses[0]) };
        var body = """{"model":"gated","history":["item 3"],"k":1}""";
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.PostAsync("/v1/recommend", new StringContent(body, Encoding.UTF8, "application/json"))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/v1/models")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/metrics")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/")).StatusCode);
        var wrong = new HttpRequestMessage(HttpMethod.Get, "/v1/models");
        wrong.Headers.Add("X-API-Key", key + "x");
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.SendAsync(wrong)).StatusCode);
        var bearer = new HttpRequestMessage(HttpMethod.Post, "/v1/recommend") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        bearer.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        var ok = await client.SendAsync(bearer);
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.Equal("e4", (string)JsonNode.Parse(await ok.Content.ReadAsStringAsync())!["items"]![0]!["id"]!);
    }

    [Fact]
    public async Task AModelThatThrowsAnswers500WithARequestId_AndTheServerKeepsServing()
    {
        await using var server = new RecAlignServer([ServedModel.Create("gated", new GatedRecommender())], ServedModelsFixture.Options());
        await server.StartAsync();
        using var client = new HttpClient { BaseAddress = new Uri(server.Addresses[0]) };
        var bad = await client.PostAsync("/v1/recommend", new StringContent($$"""{"model":"gated","history":["item {{GatedRecommender.Poison}}"]}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.InternalServerError, bad.StatusCode);
        var problem = JsonNode.Parse(await bad.Content.ReadAsStringAsync())!;
        Assert.False(string.IsNullOrEmpty((string?)problem["request_id"]));
        Assert.DoesNotContain("poisoned", problem.ToJsonString()); // no internals in the answer
        var good = await client.PostAsync("/v1/recommend", new StringContent("""{"model":"gated","history":["item 3"]}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, good.StatusCode);
    }

    [Fact]
    public async Task AFullQueueAnswers503WithRetryAfter()
    {
        var model = new GatedRecommender();
        await using var server = new RecAlignServer([ServedModel.Create("gated", model)],
            ServedModelsFixture.Options(new BatchingOptions { MaxBatchSize = 1, MaxWaitMs = 0, QueueCapacity = 1 }));
        await server.StartAsync();
        using var client = new HttpClient { BaseAddress = new Uri(server.Addresses[0]) };
        Task<HttpResponseMessage> Send() => client.PostAsync("/v1/recommend", new StringContent("""{"model":"gated","history":["item 3"]}""", Encoding.UTF8, "application/json"));
        model.Open.Reset();
        var running = Send();
        for (int i = 0; i < 3000 && model.Entered == 0; i++) await Task.Delay(10);
        var queued = Send();
        for (int i = 0; i < 3000 && server.Metrics.QueueDepth.WithLabels("gated").Value < 1; i++) await Task.Delay(10);
        var refused = await Send();
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.Equal("1", refused.Headers.RetryAfter?.ToString());
        model.Open.Set();
        Assert.Equal(HttpStatusCode.OK, (await running).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await queued).StatusCode);
    }

    [Fact]
    public async Task StoppingAnswersEveryRequestInFlight()
    {
        var model = new GatedRecommender();
        var server = new RecAlignServer([ServedModel.Create("gated", model)], ServedModelsFixture.Options());
        await server.StartAsync();
        using var client = new HttpClient { BaseAddress = new Uri(server.Addresses[0]) };
        model.Open.Reset();
        var inFlight = Enumerable.Range(0, 10).Select(i =>
            client.PostAsync("/v1/recommend", new StringContent($$"""{"model":"gated","history":["item {{i}}"],"k":1}""", Encoding.UTF8, "application/json"))).ToList();
        // Every request accepted: in the model's first call or waiting in the queue.
        int Accepted() { lock (model.Calls) return model.Calls.Sum() + (int)server.Metrics.QueueDepth.WithLabels("gated").Value; }
        for (int i = 0; i < 3000 && Accepted() < 10; i++) await Task.Delay(10);
        Assert.Equal(10, Accepted());
        var stopping = server.StopAsync();
        await Task.Delay(50);
        model.Open.Set();
        await stopping;
        var answers = await Task.WhenAll(inFlight);
        Assert.All(answers, a => Assert.Equal(HttpStatusCode.OK, a.StatusCode));
        for (int i = 0; i < 10; i++)
            Assert.Equal($"e{i + 1}", (string)JsonNode.Parse(await answers[i].Content.ReadAsStringAsync())!["items"]![0]!["id"]!);
        await server.DisposeAsync();
    }

    [Fact]
    public async Task ATitleLmRanksTheCatalogByReRankingARetrieversTopItems()
    {
        using var dir = new TempDir();
        ServedModelsFixture.WriteModels(dir.Path);
        var models = ServedModelsFixture.Load(dir.Path);
        var title = models.Single(m => m.Name == "title_lm");
        var sasrec = models.Single(m => m.Name == "sasrec");
        title.UseRetriever(sasrec, depth: 6);
        await using var server = new RecAlignServer(models, ServedModelsFixture.Options());
        await server.StartAsync();
        using var client = new HttpClient { BaseAddress = new Uri(server.Addresses[0]) };
        var body = """{"model":"title_lm","history":["Song 02","Song 09"],"k":6}""";
        var response = await client.PostAsync("/v1/recommend", new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var ranked = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["items"]!.AsArray().Select(i => (string)i!["id"]!).ToList();
        var (top, _) = sasrec.Recommender.TopK([[2, 9]], 6);
        var retrieved = Enumerable.Range(0, 6).Select(j => $"e{top[0, j]}").ToList();
        Assert.Equal(retrieved.Order(), ranked.Order()); // the same six items, in the LM's order
        // The LM's order is its candidate ranking of those six.
        var question = title.Question([new ItemRef("Song 02", null), new ItemRef("Song 09", null)],
            retrieved.Select(id => new ItemRef(null, id)).ToList());
        float[] scores;
        using (var s = title.Recommender.ScoreCandidates([question])) scores = s.data<float>().ToArray();
        Assert.Equal(Enumerable.Range(0, 6).OrderByDescending(i => scores[i]).ThenBy(i => i).Select(i => retrieved[i]), ranked);
    }

    [Fact]
    public void AModelDirectoryThatDoesNotLoadNamesItself()
    {
        using var dir = new TempDir();
        dir.Write("broken/config.json", "{\"model_type\": \"llama\", \"vocab_size\": \"many\"}");
        var e = Assert.Throws<ModelLoadException>(() => ServedModel.Load(new ModelSpec("broken", dir.Sub("broken"))));
        Assert.Contains("'broken'", e.Message);
        Assert.Contains(dir.Sub("broken"), e.Message);
    }
}
