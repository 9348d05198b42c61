using RecAlign.Data;
using RecAlign.Models;
using RecAlign.Prompts;
using RecAlign.Server;
using static TorchSharp.torch;

namespace RecAlign.Tests.Server;

/// <summary>A recommender whose calls can be held at a gate: item j scores −|j − (last history item + 1)|, so the
/// answer to every request is known; a history holding <see cref="Poison"/> throws.</summary>
internal sealed class GatedRecommender(int items = 20) : IRecommender
{
    public const int Poison = 13;
    public ManualResetEventSlim Open { get; } = new(true);
    public List<int> Calls { get; } = [];
    public string Name => "gated";
    public ItemCatalog Catalog { get; } = new(Enumerable.Range(0, items).Select(i => new Item(i, $"e{i}", $"item {i}")));
    ItemCatalog? IRecommender.Catalog => Catalog;
    public int Entered;

    private void Enter(int count, IEnumerable<IReadOnlyList<int>> histories)
    {
        lock (Calls) Calls.Add(count);
        Interlocked.Increment(ref Entered);
        Assert.True(Open.Wait(TimeSpan.FromSeconds(30)), "the test never opened the gate");
        if (histories.Any(h => h.Contains(Poison))) throw new InvalidOperationException("poisoned history");
    }

    public Tensor ScoreCatalog(IReadOnlyList<IReadOnlyList<int>> histories)
    {
        Enter(histories.Count, histories);
        var scores = new float[histories.Count * Catalog.Count];
        for (int b = 0; b < histories.Count; b++)
            for (int j = 0; j < Catalog.Count; j++)
                scores[b * Catalog.Count + j] = -Math.Abs(j - (histories[b][^1] + 1));
        return tensor(scores, [histories.Count, Catalog.Count]);
    }

    public Tensor ScoreCandidates(IReadOnlyList<CandidateQuestion> questions)
    {
        Enter(questions.Count, questions.Select(q => q.Items!.History));
        int c = questions.Max(q => q.Candidates.Count);
        var scores = new float[questions.Count * c];
        Array.Fill(scores, float.NegativeInfinity);
        for (int b = 0; b < questions.Count; b++)
            for (int j = 0; j < questions[b].Items!.Candidates.Count; j++)
                scores[b * c + j] = -Math.Abs(questions[b].Items!.Candidates[j] - (questions[b].Items!.History[^1] + 1));
        return tensor(scores, [questions.Count, c]);
    }

    public void Dispose() { }
}

public sealed class DynamicBatcherTests
{
    private static async Task Until(Func<bool> condition)
    {
        for (int i = 0; i < 3000 && !condition(); i++) await Task.Delay(10);
        Assert.True(condition(), "timed out waiting for the batcher");
    }

    private static (DynamicBatcher Batcher, GatedRecommender Model, ServerMetrics Metrics) Make(int maxBatch = 32, double waitMs = 0, int capacity = 64)
    {
        var model = new GatedRecommender();
        var metrics = new ServerMetrics();
        return (new DynamicBatcher("m", model, new BatchingOptions { MaxBatchSize = maxBatch, MaxWaitMs = waitMs, QueueCapacity = capacity }, metrics), model, metrics);
    }

    [Fact]
    public async Task RequestsThatArriveWhileTheModelIsBusyRunAsOneBatch_EachGettingItsOwnAnswer()
    {
        var (batcher, model, _) = Make();
        model.Open.Reset();
        var first = batcher.RankCatalog([2], 3, excludeHistory: true, default);
        await Until(() => model.Entered == 1);
        var rest = Enumerable.Range(3, 5).Select(h => batcher.RankCatalog([h], 3, excludeHistory: true, default)).ToList();
        await Until(() => batcher.QueueDepth == 5);
        model.Open.Set();
        var answers = await Task.WhenAll(rest.Prepend(first));
        Assert.Equal([1, 5], model.Calls);
        for (int i = 0; i < answers.Length; i++)
        {
            int history = i + 2;
            Assert.Equal(history + 1, answers[i].Indices[0]); // the item after the last one scores best
            Assert.Equal(3, answers[i].Indices.Length);
        }
    }

    [Fact]
    public async Task CatalogRankingMasksTheHistoryUnlessAskedNotTo()
    {
        var (batcher, _, _) = Make();
        var masked = await batcher.RankCatalog([4, 5], 2, excludeHistory: true, default);
        var unmasked = await batcher.RankCatalog([4, 5], 3, excludeHistory: false, default);
        Assert.Equal([6, 7], masked.Indices);   // 5 and 4 are history
        Assert.Equal(6, unmasked.Indices[0]);
        Assert.Equal([5, 7], unmasked.Indices[1..].Order()); // the history item 5 is back
    }

    [Fact]
    public async Task CandidateRankingOrdersTheGivenItems_TiesByPosition()
    {
        var (batcher, model, _) = Make();
        var q = new CandidateQuestion("p", ["a", "b", "c", "d"], 0) { Items = new QuestionItems(model.Catalog, [3], [9, 4, 5, 3]) };
        var r = await batcher.RankCandidates(q, 10, default);
        Assert.Equal([1, 2, 3, 0], r.Indices); // item 4 (score 0), then 5 and 3 (−1, by position), then 9
        Assert.Equal([0f, -1f, -1f, -5f], r.Scores);
    }

    [Fact]
    public async Task AFullQueueRefusesInsteadOfGrowing()
    {
        var (batcher, model, _) = Make(capacity: 2);
        model.Open.Reset();
        var running = batcher.RankCatalog([1], 1, true, default);
        await Until(() => model.Entered == 1);
        var queued = new[] { batcher.RankCatalog([2], 1, true, default), batcher.RankCatalog([3], 1, true, default) };
        var refused = Assert.Throws<QueueFullException>(() => { _ = batcher.RankCatalog([4], 1, true, default); });
        Assert.Contains("2 requests waiting", refused.Message);
        model.Open.Set();
        await Task.WhenAll(queued.Append(running));
        Assert.Equal(3, (await batcher.RankCatalog([2], 1, true, default)).Indices[0]); // accepting again
    }

    [Fact]
    public async Task ARequestWhoseClientLeftIsDroppedFromItsBatch()
    {
        var (batcher, model, metrics) = Make();
        model.Open.Reset();
        var running = batcher.RankCatalog([1], 1, true, default);
        await Until(() => model.Entered == 1);
        using var gone = new CancellationTokenSource();
        var abandoned = batcher.RankCatalog([2], 1, true, gone.Token);
        var kept = batcher.RankCatalog([3], 1, true, default);
        gone.Cancel();
        model.Open.Set();
        await running;
        Assert.Equal(4, (await kept).Indices[0]);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => abandoned);
        Assert.Equal([1, 1], model.Calls);
        Assert.Equal(1, metrics.Dropped.WithLabels("m").Value);
    }

    [Fact]
    public async Task OneFailingRequestFailsAlone()
    {
        var (batcher, model, _) = Make();
        model.Open.Reset();
        var running = batcher.RankCatalog([1], 1, true, default);
        await Until(() => model.Entered == 1);
        var good1 = batcher.RankCatalog([5], 1, true, default);
        var bad = batcher.RankCatalog([GatedRecommender.Poison], 1, true, default);
        var good2 = batcher.RankCatalog([7], 1, true, default);
        model.Open.Set();
        Assert.Equal(6, (await good1).Indices[0]);
        Assert.Equal(8, (await good2).Indices[0]);
        await Assert.ThrowsAsync<InvalidOperationException>(() => bad);
        Assert.Equal([1, 3, 1, 1, 1], model.Calls); // the batch of 3 failed, then each ran alone
    }

    [Fact]
    public async Task CompletingAnswersWhatWasAcceptedAndRefusesTheRest()
    {
        var (batcher, model, _) = Make();
        model.Open.Reset();
        var running = batcher.RankCatalog([1], 1, true, default);
        await Until(() => model.Entered == 1);
        var queued = batcher.RankCatalog([2], 1, true, default);
        batcher.Complete();
        Assert.Contains("shutting down", Assert.Throws<QueueFullException>(() => { _ = batcher.RankCatalog([3], 1, true, default); }).Message);
        model.Open.Set();
        Assert.Equal(2, (await running).Indices[0]);
        Assert.Equal(3, (await queued).Indices[0]);
        await batcher.Completion.WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task ALoneRequestIsNotHeldPastTheMaximumWait_AndBatchSizeOneTurnsBatchingOff()
    {
        var (waiting, model, _) = Make(waitMs: 50);
        Assert.Equal(2, (await waiting.RankCatalog([1], 1, true, default).WaitAsync(TimeSpan.FromSeconds(30))).Indices[0]);
        Assert.Equal([1], model.Calls);

        var (single, slow, _) = Make(maxBatch: 1);
        slow.Open.Reset();
        var all = Enumerable.Range(1, 4).Select(h => single.RankCatalog([h], 1, true, default)).ToList();
        await Until(() => slow.Entered == 1);
        slow.Open.Set();
        await Task.WhenAll(all);
        Assert.Equal([1, 1, 1, 1], slow.Calls);
    }

    [Fact]
    public async Task WithNothingArrivingALoneRequestDoesNotWaitForCompany()
    {
        int arriving = 0;
        var model = new GatedRecommender();
        var batcher = new DynamicBatcher("m", model, new BatchingOptions { MaxWaitMs = 10_000 }, new ServerMetrics(), () => arriving);
        var watch = System.Diagnostics.Stopwatch.StartNew();
        Assert.Equal(2, (await batcher.RankCatalog([1], 1, true, default).WaitAsync(TimeSpan.FromSeconds(30))).Indices[0]);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5), $"a lone request waited {watch.Elapsed} for a batch");
        // With requests on their way, it waits for them (up to the maximum).
        arriving = 1;
        var first = batcher.RankCatalog([3], 1, true, default);
        await Task.Delay(200);
        arriving = 0; // the second is the last one coming
        var second = batcher.RankCatalog([4], 1, true, default);
        await Task.WhenAll(first, second).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal([1, 2], model.Calls);
    }

    [Fact]
    public void OptionsOutOfRangeAreRefused()
    {
        Assert.Throws<ArgumentException>(() => new BatchingOptions { MaxBatchSize = 0 }.Validate());
        Assert.Throws<ArgumentException>(() => new BatchingOptions { MaxWaitMs = -1 }.Validate());
        Assert.Throws<ArgumentException>(() => new BatchingOptions { QueueCapacity = 0 }.Validate());
    }
}
