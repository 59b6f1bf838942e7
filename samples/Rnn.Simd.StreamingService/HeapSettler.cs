namespace Rnn.Simd.StreamingService;

/// <summary>
/// Collects the heap once, fully, when streams have stopped arriving (no stream opened for
/// <see cref="QuietSeconds"/> s after some were), so what a ramp of connections leaves for the rest of their lives
/// (Kestrel's and gRPC's per-call objects, the slots) reaches generation 2 in one collection there, rather than
/// through the first background gen2 collection some time later while the streams are being served.
/// </summary>
/// <remarks>
/// Measured (perf/results/serving.md): without it, a run's first gen1 collection, 20 to 30 s after 512 streams had
/// connected, promoted their objects into a generation 2 that the start-up collections had left almost empty, and the
/// next collection was a gen2 one; after that, none. With it, that one collection happens in the ramp's wake, once per
/// ramp, and costs one blocking full collection (milliseconds for a heap of tens of MB).
/// </remarks>
public sealed class HeapSettler : IDisposable
{
    /// <summary>Seconds without a new stream after which the heap is settled.</summary>
    public const int QuietSeconds = 3;

    private readonly ServiceMetrics _metrics;
    private readonly Timer _timer;
    private long _lastOpened, _settledAt;
    private int _quiet;

    /// <summary>Starts watching <paramref name="metrics"/>' opened streams once a second.</summary>
    public HeapSettler(ServiceMetrics metrics)
    {
        _metrics = metrics;
        _timer = new Timer(_ => Tick(), null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
    }

    /// <summary>Full collections made so far.</summary>
    public int Settles { get; private set; }

    /// <summary>Stops watching.</summary>
    public void Dispose() => _timer.Dispose();

    private void Tick()
    {
        long opened = _metrics.StreamsOpened;
        if (opened != _lastOpened)
        {
            _lastOpened = opened;
            _quiet = 0;
            return;
        }

        if (++_quiet >= QuietSeconds && opened != _settledAt && _metrics.LiveStreams > 0)
        {
            _settledAt = opened;
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
            Settles++;
        }
    }
}
