using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using RecAlign.Models;
using RecAlign.Models.Language;
using RecAlign.Server;
using RecAlign.Tests.Data;
using static TorchSharp.torch;

namespace RecAlign.Tests.Server;

/// <summary>A LLaRA model directory (an item-token LM with SASRec's projected item embeddings) served over HTTP answers
/// with the hybrid model's own scores: the server loads the embedder with the weights, as every other caller does.</summary>
public sealed class HybridServingTests
{
    [Fact]
    public async Task AHybridModelDirectoryIsServedWithItsInjectedEmbeddings()
    {
        using var dir = new TempDir();
        ServedModelsFixture.WriteModels(dir.Path);
        var hybridDir = Path.Combine(dir.Path, "hybrid_lm");
        string[] candidateTitles = ["Song 05", "Song 17", "Song 22", "Song 09"];
        var (lm, tok) = ModelDirectory.Load(Path.Combine(dir.Path, "token_lm"));
        using var direct = new LanguageModelRecommender(lm, tok); // the hybrid model as trained, in memory
        lm.AttachHybrid(HybridItemEmbedder.FromRecommenderDirectory(lm, tok, Path.Combine(dir.Path, "sasrec"), "sasrec", seed: 7));
        ModelDirectory.Save(lm, tok, hybridDir);

        await using var server = new RecAlignServer(
            [ServedModel.Load(new ModelSpec("token_lm", Path.Combine(dir.Path, "token_lm"))), ServedModel.Load(new ModelSpec("hybrid_lm", hybridDir))],
            ServedModelsFixture.Options());
        await server.StartAsync();
        using var client = new HttpClient { BaseAddress = new Uri(server.Addresses[0]), Timeout = TimeSpan.FromSeconds(60) };
        async Task<JsonArray> Items(string model, string extra)
        {
            var response = await client.PostAsync("/v1/recommend", new StringContent(
                $$"""{"model":"{{model}}","history":["Song 01","Song 02"]{{extra}}}""", Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            return JsonNode.Parse(await response.Content.ReadAsStringAsync())!["items"]!.AsArray();
        }

        var hybrid = server.Models.Single(m => m.Name == "hybrid_lm");
        Assert.NotNull(((LanguageModelRecommender)hybrid.Recommender).Model.Hybrid);
        float[] inMemory;
        var question = hybrid.Question([new ItemRef("Song 01", null), new ItemRef("Song 02", null)], candidateTitles.Select(c => new ItemRef(c, null)).ToList());
        using (var s = direct.ScoreCandidates([question])) inMemory = s.data<float>().ToArray();
        var candidates = $$""","candidates":[{{string.Join(",", candidateTitles.Select(t => $"\"{t}\""))}}],"k":4""";
        var ranked = await Items("hybrid_lm", candidates);
        var order = Enumerable.Range(0, 4).OrderByDescending(i => inMemory[i]).ThenBy(i => i).ToArray();
        Assert.Equal(order.Select(i => candidateTitles[i]), ranked.Select(i => (string)i!["title"]!));
        Assert.Equal(order.Select(i => inMemory[i]), ranked.Select(i => (float)i!["score"]!));
        var plain = await Items("token_lm", candidates);
        Assert.NotEqual(plain.Select(i => (float)i!["score"]!).Order(), ranked.Select(i => (float)i!["score"]!).Order());

        var top = await Items("hybrid_lm", ""","k":5""");
        using var scope = NewDisposeScope();
        var (ids, scores) = hybrid.Recommender.TopK([[1, 2]], 5);
        for (int r = 0; r < 5; r++)
        {
            Assert.Equal($"e{ids[0, r]}", (string)top[r]!["id"]!);
            Assert.Equal(scores[0, r], (float)top[r]!["score"]!, 4);
        }
        await server.StopAsync();
    }
}
