using System.Diagnostics;
using Grpc.Core;
using Rnn.Simd.Layers;
using Rnn.Simd.Serving;

namespace Rnn.Simd.StreamingService;

/// <summary>
/// The model behind the calls, in one of two modes: every stream's steps through an <see cref="AsyncStreamBatcher"/>
/// (batched), or each stream stepping alone with <see cref="RecurrentNetwork.Step"/> on its own
/// <see cref="RecurrentState"/>, on the thread pool thread that runs its call (per-stream), to compare.
/// </summary>
/// <remarks>
/// Batched mode holds <see cref="ServerOptions.Batchers"/> independent batchers over the one shared network, each with
/// its own loop thread, slots and (with <see cref="ServerOptions.Threads"/> above 1) thread team; a new stream joins the
/// one holding the fewest streams and stays there. Several batchers step batches side by side on several cores, where
/// one batcher's team splits each batch across them (a stream's bits are the same either way).
/// </remarks>
/// <remarks>
/// What the engine's calls allocate on the calling thread (<see cref="GC.GetAllocatedBytesForCurrentThread"/>
/// around them) goes to <see cref="ServiceMetrics.EngineAllocatedBytes"/>; the batcher's loop thread is not
/// visible from here (the library's own tests hold it to 0 B a step).
/// </remarks>
public sealed class StreamEngine : IDisposable
{
    private readonly AsyncStreamBatcher[] _batchers = [];
    private readonly Kernels.Threading.ThreadTeam?[] _teams = [];
    private readonly ServiceMetrics _metrics;
    private readonly int _maxStreams;
    private int _open;

    /// <summary>Builds the engine of <paramref name="options"/>' mode around the loaded network.</summary>
    public StreamEngine(RecurrentNetwork network, ServerOptions options, ServiceMetrics metrics)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(options);
        Network = network;
        _metrics = metrics;
        _maxStreams = options.MaxStreams;
        if (options.Batched)
        {
            _teams = [.. Enumerable.Range(0, options.Batchers).Select(_ => options.Threads > 1 ? new Kernels.Threading.ThreadTeam(options.Threads) : null)];
            _batchers = [.. _teams.Select(team => new AsyncStreamBatcher(network, new AsyncStreamBatcherOptions
            {
                MaxBatch = options.MaxBatch,
                MaxDelay = options.MaxDelay,
                Threads = team,
                BatchStepped = metrics.BatchStepped,
                RunContinuationsAsynchronously = !options.InlineContinuations,
                InitialCapacity = (options.Slots + options.Batchers - 1) / options.Batchers,
            }))];
        }
    }

    /// <summary>The network every stream runs.</summary>
    public RecurrentNetwork Network { get; }

    /// <summary>Stream slots held: the batchers' pools, or (per-stream) the open streams' states.</summary>
    public int Capacity => _batchers.Length > 0 ? _batchers.Sum(b => b.Capacity) : Volatile.Read(ref _open);

    /// <summary>Streams registered with the batchers (batched), or open (per-stream).</summary>
    public int Count => _batchers.Length > 0 ? _batchers.Sum(b => b.Count) : Volatile.Read(ref _open);

    /// <summary>Opens a stream with a zero state.</summary>
    /// <exception cref="RpcException">RESOURCE_EXHAUSTED: the service holds its most streams.</exception>
    public Session Open()
    {
        if (Interlocked.Increment(ref _open) > _maxStreams)
        {
            Interlocked.Decrement(ref _open);
            _metrics.StreamRefused();
            throw new RpcException(new Status(StatusCode.ResourceExhausted, $"The service holds its most streams ({_maxStreams})."));
        }

        try
        {
            Session session;
            if (_batchers.Length == 0)
            {
                session = new Session(this, Network.CreateState());
            }
            else
            {
                AsyncStreamBatcher batcher = _batchers.Length == 1 ? _batchers[0] : _batchers.MinBy(b => b.Count)!;
                session = new Session(this, batcher, batcher.Add());
            }

            _metrics.StreamOpened();
            return session;
        }
        catch
        {
            Interlocked.Decrement(ref _open);
            throw;
        }
    }

    /// <summary>Stops the batchers' loops (steps not started fail).</summary>
    public void Dispose()
    {
        foreach (AsyncStreamBatcher batcher in _batchers)
        {
            batcher.Dispose();
        }

        foreach (Kernels.Threading.ThreadTeam? team in _teams)
        {
            team?.Dispose();
        }
    }

    /// <summary>One open stream: its slot in one of the batchers, or its own state. Dispose frees it.</summary>
    public sealed class Session : IDisposable
    {
        private readonly StreamEngine _engine;
        private readonly RecurrentState? _state;
        private readonly AsyncStreamBatcher? _batcher;
        private readonly StreamId _stream;
        private bool _closed;

        internal Session(StreamEngine engine, RecurrentState state)
        {
            _engine = engine;
            _state = state;
        }

        internal Session(StreamEngine engine, AsyncStreamBatcher batcher, StreamId stream)
        {
            _engine = engine;
            _batcher = batcher;
            _stream = stream;
        }

        /// <summary>One time step: <paramref name="input"/> [X] → <paramref name="output"/> [Hout].</summary>
        public ValueTask StepAsync(ReadOnlyMemory<float> input, Memory<float> output, CancellationToken cancellationToken)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            ValueTask step;
            if (_state is not null)
            {
                long start = Stopwatch.GetTimestamp();
                _engine.Network.Step(_state, input.Span, output.Span);
                _engine._metrics.EngineBusy(Stopwatch.GetTimestamp() - start);
                step = ValueTask.CompletedTask;
            }
            else
            {
                step = _batcher!.StepAsync(_stream, input, output, cancellationToken);
            }

            _engine._metrics.EngineAllocated(GC.GetAllocatedBytesForCurrentThread() - before);
            return step;
        }

        /// <summary>Frees the stream's slot (after its step in flight, if any). Idempotent.</summary>
        public void Dispose()
        {
            if (_closed)
            {
                return;
            }

            _closed = true;
            _batcher?.Remove(_stream);
            Interlocked.Decrement(ref _engine._open);
            _engine._metrics.StreamClosed();
        }
    }
}
