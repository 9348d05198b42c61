using Prometheus;

namespace RecAlign.Server;

/// <summary>The server's Prometheus metrics, in a registry of its own (two servers in one process never share counts).</summary>
public sealed class ServerMetrics
{
    public CollectorRegistry Registry { get; } = Metrics.NewCustomRegistry();
    public Counter Requests { get; }
    public Histogram Latency { get; }
    public Histogram BatchSize { get; }
    public Gauge QueueDepth { get; }
    public Counter Dropped { get; }

    public ServerMetrics()
    {
        var factory = Metrics.WithCustomRegistry(Registry);
        Requests = factory.CreateCounter("recalign_requests_total", "Requests answered, by endpoint, model and HTTP status.",
            new CounterConfiguration { LabelNames = ["endpoint", "model", "status"] });
        Latency = factory.CreateHistogram("recalign_request_duration_seconds", "Time from a request's arrival to its answer.",
            new HistogramConfiguration { LabelNames = ["endpoint", "model"], Buckets = Histogram.ExponentialBuckets(0.0005, 2, 16) });
        BatchSize = factory.CreateHistogram("recalign_batch_size", "Requests scored together in one forward.",
            new HistogramConfiguration { LabelNames = ["model"], Buckets = [1, 2, 4, 8, 16, 32, 64, 128, 256] });
        QueueDepth = factory.CreateGauge("recalign_queue_depth", "Requests waiting for a batch.", new GaugeConfiguration { LabelNames = ["model"] });
        Dropped = factory.CreateCounter("recalign_dropped_requests_total", "Queued requests dropped because their client went away.",
            new CounterConfiguration { LabelNames = ["model"] });
    }
}
