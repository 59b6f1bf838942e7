using System.Diagnostics;
using Grpc.Core;
using Rnn.Simd.Layers;
using Rnn.Simd.Serving;

namespace Rnn.Simd.StreamingService;

/// <summary>
/// The model behind the calls, in one of two modes: every stream's steps through one <see cref="AsyncStreamBatcher"/>
/// (batched), or each stream stepping alone with <see cref="RecurrentNetwork.Step"/> on its own
/// <see cref="RecurrentState"/>, on the thread pool thread that runs its call (per-stream), to compare.
/// </summary>
/// <remarks>
/// What the engine's calls allocate on the calling thread (<see cref="GC.GetAllocatedBytesForCurrentThread"/>
/// around them) goes to <see cref="ServiceMetrics.EngineAllocatedBytes"/>; the batcher's loop thread is not
/// visible from here (the library's own tests hold it to 0 B a step).
/// </remarks>
public sealed class StreamEngine : IDisposable
{
    private readonly AsyncStreamBatcher? _batcher;
    private readonly Kernels.Threading.ThreadTeam? _team;
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
            _team = options.Threads > 1 ? new Kernels.Threading.ThreadTeam(options.Threads) : null;
            _batcher = new AsyncStreamBatcher(network, new AsyncStreamBatcherOptions
            {
                MaxBatch = options.MaxBatch,
                MaxDelay = options.MaxDelay,
                Threads = _team,
                BatchStepped = metrics.BatchStepped,
                RunContinuationsAsynchronously = !options.InlineContinuations,
                InitialCapacity = options.Slots,
            });
        }
    }

    /// <summary>The network every stream runs.</summary>
    public RecurrentNetwork Network { get; }

    /// <summary>Stream slots held: the batcher's pool, or (per-stream) the open streams' states.</summary>
    public int Capacity => _batcher?.Capacity ?? Volatile.Read(ref _open);

    /// <summary>Streams registered with the batcher (batched), or open (per-stream).</summary>
    public int Count => _batcher?.Count ?? Volatile.Read(ref _open);

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
            Session session = _batcher is null ? new Session(this, Network.CreateState()) : new Session(this, _batcher.Add());
            _metrics.StreamOpened();
            return session;
        }
        catch
        {
            Interlocked.Decrement(ref _open);
            throw;
        }
    }

    /// <summary>Stops the batcher's loop (steps not started fail).</summary>
    public void Dispose()
    {
        _batcher?.Dispose();
        _team?.Dispose();
    }

    /// <summary>One open stream: its slot in the batcher, or its own state. Dispose frees it.</summary>
    public sealed class Session : IDisposable
    {
        private readonly StreamEngine _engine;
        private readonly RecurrentState? _state;
        private readonly StreamId _stream;
        private bool _closed;

        internal Session(StreamEngine engine, RecurrentState state)
        {
            _engine = engine;
            _state = state;
        }

        internal Session(StreamEngine engine, StreamId stream)
        {
            _engine = engine;
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
                step = _engine._batcher!.StepAsync(_stream, input, output, cancellationToken);
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
            _engine._batcher?.Remove(_stream);
            Interlocked.Decrement(ref _engine._open);
            _engine._metrics.StreamClosed();
        }
    }
}
