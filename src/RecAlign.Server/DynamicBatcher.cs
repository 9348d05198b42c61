using System.Diagnostics;
using System.Threading.Channels;
using RecAlign.Models;
using RecAlign.Prompts;
using static TorchSharp.torch;

namespace RecAlign.Server;

/// <summary>How requests for one model are gathered into forwards (Triton's dynamic batcher, TorchServe's batch_size /
/// max_batch_delay).</summary>
public sealed record BatchingOptions
{
    /// <summary>Requests scored in one forward at most; 1 turns batching off.</summary>
    public int MaxBatchSize { get; init; } = 32;
    /// <summary>How long the first request of a batch waits for others to join it.</summary>
    public double MaxWaitMs { get; init; } = 2;
    /// <summary>Requests waiting per model; one more is answered 503 with Retry-After instead of queueing.</summary>
    public int QueueCapacity { get; init; } = 512;

    public void Validate()
    {
        if (MaxBatchSize is < 1 or > 4096) throw new ArgumentException($"--max-batch-size must be in [1, 4096] (got {MaxBatchSize})");
        if (!(MaxWaitMs >= 0 && MaxWaitMs <= 10_000)) throw new ArgumentException($"--max-wait-ms must be in [0, 10000] (got {MaxWaitMs})");
        if (QueueCapacity is < 1 or > 1_000_000) throw new ArgumentException($"--queue-capacity must be in [1, 1000000] (got {QueueCapacity})");
    }
}

/// <summary>A ranking: positions into the request's candidates (or catalog ids), best first, with their scores.</summary>
public sealed record Ranking(int[] Indices, float[] Scores);

/// <summary>The queue is full or the server is stopping: the request was not accepted (HTTP 503).</summary>
public sealed class QueueFullException(string message) : Exception(message);

/// <summary>
/// Gathers concurrent requests for one model into one forward: the first request waits at most
/// <see cref="BatchingOptions.MaxWaitMs"/> for others, up to <see cref="BatchingOptions.MaxBatchSize"/>; the queue is
/// bounded; a request whose client went away before its batch ran is dropped. Candidate-list and catalog requests of a
/// batch go through one <see cref="IRecommender.ScoreCandidates"/> and one <see cref="IRecommender.ScoreCatalog"/> call.
/// A batch that fails is retried request by request, so one bad request fails alone.
/// </summary>
public sealed class DynamicBatcher
{
    private abstract class Job(int k, CancellationToken cancel)
    {
        public int K { get; } = k;
        public CancellationToken Cancel { get; } = cancel;
        public TaskCompletionSource<Ranking> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private sealed class CandidateJob(CandidateQuestion question, int k, CancellationToken cancel) : Job(k, cancel)
    {
        public CandidateQuestion Question { get; } = question;
    }

    private sealed class CatalogJob(int[] history, int k, bool excludeHistory, CancellationToken cancel) : Job(k, cancel)
    {
        public int[] History { get; } = history;
        public bool ExcludeHistory { get; } = excludeHistory;
    }

    private readonly Channel<Job> _queue;
    private readonly IRecommender _model;
    private readonly BatchingOptions _options;
    private readonly ServerMetrics _metrics;
    private readonly string _name;
    private readonly Func<int>? _arriving;
    private int _depth;
    private volatile bool _completed;

    /// <param name="arriving">Requests known to be on their way (received, not yet queued): while there are none, a
    /// batch starts at once instead of waiting <see cref="BatchingOptions.MaxWaitMs"/> for company that is not coming,
    /// so a lone request pays no batching delay. Null: always wait.</param>
    public DynamicBatcher(string name, IRecommender model, BatchingOptions options, ServerMetrics metrics, Func<int>? arriving = null)
    {
        options.Validate();
        _arriving = arriving;
        _name = name;
        _model = model;
        _options = options;
        _metrics = metrics;
        _queue = Channel.CreateBounded<Job>(new BoundedChannelOptions(options.QueueCapacity)
        {
            FullMode = BoundedChannelFullMode.Wait, // TryWrite then fails instead of blocking: the caller answers 503
            SingleReader = true,
        });
        Completion = Task.Run(RunAsync);
    }

    /// <summary>Ends when the queue was completed and every accepted request answered.</summary>
    public Task Completion { get; }

    /// <summary>Requests waiting for a batch.</summary>
    public int QueueDepth => Volatile.Read(ref _depth);

    /// <summary>Ranks <paramref name="question"/>'s candidates; the top <paramref name="k"/>.</summary>
    public Task<Ranking> RankCandidates(CandidateQuestion question, int k, CancellationToken cancel) => Enqueue(new CandidateJob(question, k, cancel));

    /// <summary>Ranks the model's catalog after <paramref name="history"/> (catalog ids); the top <paramref name="k"/>.</summary>
    public Task<Ranking> RankCatalog(int[] history, int k, bool excludeHistory, CancellationToken cancel) => Enqueue(new CatalogJob(history, k, excludeHistory, cancel));

    /// <summary>Stops accepting requests; those already queued are still answered (graceful shutdown).</summary>
    public void Complete()
    {
        _completed = true;
        _queue.Writer.TryComplete();
    }

    private Task<Ranking> Enqueue(Job job)
    {
        Interlocked.Increment(ref _depth);
        if (!_queue.Writer.TryWrite(job))
        {
            Interlocked.Decrement(ref _depth);
            throw new QueueFullException(_completed
                ? "the server is shutting down"
                : $"model '{_name}' has {_options.QueueCapacity} requests waiting; retry shortly");
        }
        _metrics.QueueDepth.WithLabels(_name).Set(QueueDepth);
        return job.Result.Task;
    }

    private async Task RunAsync()
    {
        var reader = _queue.Reader;
        var batch = new List<Job>(_options.MaxBatchSize);
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            batch.Clear();
            if (!reader.TryRead(out var first)) continue;
            batch.Add(first);
            var waited = Stopwatch.StartNew();
            while (batch.Count < _options.MaxBatchSize)
            {
                if (reader.TryRead(out var next)) { batch.Add(next); continue; }
                var left = TimeSpan.FromMilliseconds(_options.MaxWaitMs) - waited.Elapsed;
                if (left <= TimeSpan.Zero || _arriving?.Invoke() == 0) break;
                using var timeout = new CancellationTokenSource(left);
                try
                {
                    if (!await reader.WaitToReadAsync(timeout.Token).ConfigureAwait(false)) break;
                }
                catch (OperationCanceledException) { break; }
            }
            Interlocked.Add(ref _depth, -batch.Count);
            _metrics.QueueDepth.WithLabels(_name).Set(QueueDepth);
            Execute(batch);
        }
    }

    private void Execute(List<Job> batch)
    {
        var live = new List<Job>(batch.Count);
        foreach (var job in batch)
        {
            if (job.Cancel.IsCancellationRequested)
            {
                job.Result.TrySetCanceled(job.Cancel);
                _metrics.Dropped.WithLabels(_name).Inc();
            }
            else live.Add(job);
        }
        if (live.Count == 0) return;
        _metrics.BatchSize.WithLabels(_name).Observe(live.Count);
        Run(live.OfType<CandidateJob>().ToList(), ScoreCandidates);
        Run(live.OfType<CatalogJob>().ToList(), ScoreCatalog);
    }

    private static void Run<T>(List<T> jobs, Func<List<T>, Ranking[]> score) where T : Job
    {
        if (jobs.Count == 0) return;
        try
        {
            var rankings = score(jobs);
            for (int i = 0; i < jobs.Count; i++) jobs[i].Result.TrySetResult(rankings[i]);
        }
        catch (Exception) when (jobs.Count > 1)
        {
            foreach (var job in jobs) Run([job], score); // one bad request must not fail its batch-mates
        }
        catch (Exception e)
        {
            jobs[0].Result.TrySetException(e);
        }
    }

    private Ranking[] ScoreCandidates(List<CandidateJob> jobs)
    {
        using var scope = NewDisposeScope();
        var scores = _model.ScoreCandidates(jobs.Select(j => j.Question).ToList()).to_type(ScalarType.Float32).cpu();
        var values = scores.data<float>().ToArray();
        int c = (int)scores.shape[1];
        return jobs.Select((job, i) => Top(values.AsSpan(i * c, job.Question.Candidates.Count), job.K)).ToArray();
    }

    private Ranking[] ScoreCatalog(List<CatalogJob> jobs)
    {
        using var scope = NewDisposeScope();
        var histories = jobs.Select(j => (IReadOnlyList<int>)j.History).ToList();
        var all = _model.ScoreCatalog(histories).to_type(ScalarType.Float32);
        var result = new Ranking[jobs.Count];
        // Masked and unmasked requests differ only in the mask: one topk per group.
        foreach (var group in jobs.Select((job, i) => (job, i)).GroupBy(p => p.job.ExcludeHistory))
        {
            var rows = group.ToList();
            var part = all.index_select(0, tensor(rows.Select(r => (long)r.i).ToArray()));
            var (ids, top) = RecommenderExtensions.TopK(part, rows.Select(r => histories[r.i]).ToList(), rows.Max(r => r.job.K), group.Key);
            for (int r = 0; r < rows.Count; r++)
            {
                int n = Math.Min(rows[r].job.K, ids.GetLength(1));
                var keep = new List<int>(n);
                var s = new List<float>(n);
                for (int j = 0; j < n; j++)
                {
                    if (float.IsNegativeInfinity(top[r, j])) break; // k past the items left once the history is masked
                    keep.Add((int)ids[r, j]);
                    s.Add(top[r, j]);
                }
                result[rows[r].i] = new Ranking([.. keep], [.. s]);
            }
        }
        return result;
    }

    /// <summary>The best <paramref name="k"/> positions of one row, ties broken by position (stable, reproducible).</summary>
    private static Ranking Top(ReadOnlySpan<float> scores, int k)
    {
        var order = new int[scores.Length];
        for (int i = 0; i < order.Length; i++) order[i] = i;
        var copy = scores.ToArray();
        Array.Sort(order, (a, b) => copy[b].CompareTo(copy[a]) is var d && d != 0 ? d : a.CompareTo(b));
        int n = Math.Min(k, order.Length);
        return new Ranking(order[..n], order[..n].Select(i => copy[i]).ToArray());
    }
}
