using System.Diagnostics;
using Rnn.Simd.Internal;
using Rnn.Simd.Kernels.Threading;
using Rnn.Simd.Layers;

namespace Rnn.Simd.Serving;

/// <summary>
/// Micro-batching for many live streams of one network, shared by any number of threads: each caller awaits one
/// step of one stream (<see cref="StepAsync"/>), and a background loop steps whatever streams are ready as one batched
/// step of a <see cref="StreamBatcher"/>, so concurrent streams share the weights' trip through memory.
/// </summary>
/// <remarks>
/// <para>Batches: once a step is waiting, the loop waits up to <see cref="AsyncStreamBatcherOptions.MaxDelay"/> for
/// more streams (not when every registered stream, or <see cref="AsyncStreamBatcherOptions.MaxBatch"/> of them, are
/// ready), then steps up to MaxBatch ready streams, the longest waiting first. A batch of one or two streams runs the
/// batch-1 path on their slots (see <see cref="StreamBatcher"/>). Outputs and states are bit for bit those of
/// <see cref="RecurrentNetwork.Step"/> per stream, whatever the batches.</para>
/// <para>Order: a stream's steps run in the order their <see cref="StepAsync"/> calls were made; a step made while
/// another of the same stream is pending is queued after it (one step of a stream per batch).</para>
/// <para>Cancellation: a step whose token is cancelled before the loop takes it into a batch is removed and its task
/// is cancelled; one already in a batch completes normally. A step whose stream is removed before it runs fails with
/// <see cref="InvalidOperationException"/>. If a batched step throws, only the steps of that batch fail, each with an
/// <see cref="InvalidOperationException"/> whose inner exception is the cause; the loop goes on.</para>
/// <para><see cref="Dispose"/> lets the batch in flight complete, fails every step not yet started with
/// <see cref="ObjectDisposedException"/> and stops the loop; snapshots can still be taken afterwards. Dispose every
/// batcher: its loop's thread keeps it alive until then.</para>
/// <para>Allocation: a step allocates nothing in steady state. Its task is a pooled <see cref="System.Threading.Tasks.Sources.IValueTaskSource"/>
/// (await each <see cref="ValueTask"/> once), completed asynchronously so that the loop never runs callers'
/// continuations (unless <see cref="AsyncStreamBatcherOptions.RunContinuationsAsynchronously"/> is false); registering a cancellable token costs what <see cref="CancellationToken.UnsafeRegister(Action{object?}, object?)"/> costs.</para>
/// <para><see cref="Reset"/>, <see cref="Snapshot"/> and <see cref="Restore"/> act between batches: after every step
/// that has completed and before every step that has not started.</para>
/// </remarks>
public sealed partial class AsyncStreamBatcher : IDisposable
{
    private static readonly Action<object?> s_cancel = static request => ((StepRequest)request!).Owner.Cancel((StepRequest)request);

    private readonly StreamBatcher _inner;
    private readonly int _inputSize, _outputSize, _maxBatch;
    private readonly long _maxDelayTicks;
    private readonly ThreadTeam? _team;
    private readonly Action<int, TimeSpan>? _batchStepped;
    private readonly bool _continueAsynchronously;
    private readonly Thread _loop;

    // Lock order: _stateLock, then _queue. _stateLock guards the inner batcher's states (the loop's steps, Reset,
    // Snapshot, Restore); _queue guards the requests, the ready ring and (with _stateLock) the streams' registration,
    // and is the monitor the loop waits on.
    private readonly Lock _stateLock = new();
    private readonly object _queue = new();
    private readonly Stack<StepRequest> _pool = new();

    private StepRequest?[] _head = [], _tail = [];  // [slots] each stream's queued steps, oldest first (doubly linked)
    private bool[] _inRing = [];                    // [slots] the slot has an entry in _ring (possibly stale: no step queued)
    private bool[] _inFlight = [];                  // [slots] a step of the slot's stream is in the batch being run
    private int[] _ring = [];                       // [slots] slots with queued steps, in the order they became ready
    private int _ringStart, _ringCount;
    private int _ready;                             // streams with a queued step and none in flight
    private bool _disposed;

    // The loop's own buffers: the batch and its staged inputs [n, X] and outputs [n, Hout].
    private StepRequest[] _batch;
    private StreamId[] _ids;
    private float[] _x = [], _y = [];

    /// <summary>Creates the batcher and starts its loop (a background thread).</summary>
    /// <param name="network">A unidirectional, forward network.</param>
    /// <param name="options">Batch size, delay, threads; null for the defaults.</param>
    /// <exception cref="ArgumentException">The network is bidirectional or reverse, or an option is out of range (the message names it).</exception>
    public AsyncStreamBatcher(RecurrentNetwork network, AsyncStreamBatcherOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(network);
        options ??= new AsyncStreamBatcherOptions();
        if (options.MaxBatch < 1)
        {
            ThrowHelper.ArgumentOutOfRange(nameof(options), $"MaxBatch must be at least 1, was {options.MaxBatch}.");
        }

        if (options.MaxDelay < TimeSpan.Zero || options.MaxDelay.TotalMilliseconds > int.MaxValue)
        {
            ThrowHelper.ArgumentOutOfRange(nameof(options), $"MaxDelay must be between zero and {int.MaxValue} ms, was {options.MaxDelay}.");
        }

        if (options.InitialCapacity < 0)
        {
            ThrowHelper.ArgumentOutOfRange(nameof(options), $"InitialCapacity must be non-negative, was {options.InitialCapacity}.");
        }

        _inner = new StreamBatcher(network, options.InitialCapacity);
        _inputSize = network.Options.InputSize;
        _outputSize = network.Options.OutputSize;
        _maxBatch = options.MaxBatch;
        _maxDelayTicks = (long)Math.Ceiling(options.MaxDelay.TotalSeconds * Stopwatch.Frequency);
        _team = options.Threads;
        _batchStepped = options.BatchStepped;
        _continueAsynchronously = options.RunContinuationsAsynchronously;
        _batch = new StepRequest[Math.Min(_maxBatch, Math.Max(4, options.InitialCapacity))];
        _ids = new StreamId[_batch.Length];
        GrowQueues(_inner.Capacity);
        _loop = new Thread(Loop) { IsBackground = true, Name = "Rnn.Simd stream batcher" };
        _loop.Start();
    }

    /// <summary>The network every stream runs.</summary>
    public RecurrentNetwork Network => _inner.Network;

    /// <summary>Streams registered now.</summary>
    public int Count
    {
        get
        {
            lock (_queue)
            {
                return _inner.Count;
            }
        }
    }

    /// <summary>Stream slots the pool holds (registered streams and free slots); it doubles when a stream finds none free.</summary>
    public int Capacity
    {
        get
        {
            lock (_queue)
            {
                return _inner.Capacity;
            }
        }
    }

    /// <summary>Whether <see cref="Dispose"/> has begun (tests).</summary>
    internal bool IsDisposed
    {
        get
        {
            lock (_queue)
            {
                return _disposed;
            }
        }
    }

    /// <summary>Test seam: runs on the loop's thread before each batch (with its size); an exception fails that batch.</summary>
    internal Action<int>? BeforeBatch { get; set; }

    /// <summary>Registers a stream with a zero state in a free slot.</summary>
    /// <exception cref="ObjectDisposedException">The batcher was disposed.</exception>
    public StreamId Add()
    {
        lock (_stateLock)
        {
            lock (_queue)
            {
                ObjectDisposedException.ThrowIf(_disposed, this);
                StreamId stream = _inner.Add();
                if (_inner.Capacity > _head.Length)
                {
                    GrowQueues(_inner.Capacity);
                }

                return stream;
            }
        }
    }

    /// <summary>
    /// Unregisters a stream (after its step in flight, if any); its steps not yet started fail with
    /// <see cref="InvalidOperationException"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The id names no registered stream.</exception>
    public void Remove(StreamId stream)
    {
        StepRequest? dropped;
        lock (_stateLock)
        {
            lock (_queue)
            {
                _inner.Remove(stream);
                dropped = DetachQueued(stream.Slot);
            }
        }

        FailChain(dropped, static request => new InvalidOperationException($"{request.Stream} was removed before this step ran."));
    }

    /// <summary>Whether <paramref name="stream"/> is registered here.</summary>
    public bool Contains(StreamId stream)
    {
        lock (_queue)
        {
            return _inner.Contains(stream);
        }
    }

    /// <summary>Sets the stream's state to zero, between batches (see the remarks).</summary>
    /// <exception cref="ArgumentException">The id names no registered stream.</exception>
    public void Reset(StreamId stream)
    {
        lock (_stateLock)
        {
            _inner.Reset(stream);
        }
    }

    /// <summary>Time steps the stream has completed since it was added, reset or restored.</summary>
    /// <exception cref="ArgumentException">The id names no registered stream.</exception>
    public long StepsOf(StreamId stream)
    {
        lock (_stateLock)
        {
            return _inner.StepsOf(stream);
        }
    }

    /// <summary>Copies the stream's state into a batch-1 state of the network, between batches (see <see cref="StreamBatcher.Snapshot"/>).</summary>
    /// <exception cref="ArgumentException">The id names no registered stream, or the state is of another architecture or batch.</exception>
    public void Snapshot(StreamId stream, RecurrentState destination)
    {
        lock (_stateLock)
        {
            _inner.Snapshot(stream, destination);
        }
    }

    /// <summary>Replaces the stream's state with a batch-1 state of the network, between batches (see <see cref="StreamBatcher.Restore"/>).</summary>
    /// <exception cref="ArgumentException">The id names no registered stream, or the state is of another architecture or batch.</exception>
    public void Restore(StreamId stream, RecurrentState source)
    {
        lock (_stateLock)
        {
            _inner.Restore(stream, source);
        }
    }

    /// <summary>
    /// Queues one time step of <paramref name="stream"/>: <paramref name="input"/> [X] → <paramref name="output"/>
    /// [Hout], done when the task completes (the buffers must stay untouched until then). Bit for bit what
    /// <see cref="RecurrentNetwork.Step"/> gives the stream on its own.
    /// </summary>
    /// <param name="stream">A registered stream; a step made while another of it is pending runs after that one.</param>
    /// <param name="input">[X], read when the step runs.</param>
    /// <param name="output">[Hout], written when the step runs.</param>
    /// <param name="cancellationToken">Cancels the step if the loop has not taken it into a batch yet.</param>
    /// <returns>A task to await once: it completes when the step has run (or faults or is cancelled, see the remarks).</returns>
    /// <exception cref="ArgumentException">A length is wrong, or the id names no registered stream.</exception>
    /// <exception cref="ObjectDisposedException">The batcher was disposed.</exception>
    public ValueTask StepAsync(StreamId stream, ReadOnlyMemory<float> input, Memory<float> output, CancellationToken cancellationToken = default)
    {
        ThrowHelper.ThrowIfLengthIsNot(input.Length, nameof(input), "X", _inputSize);
        ThrowHelper.ThrowIfLengthIsNot(output.Length, nameof(output), "Hout", _outputSize);
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        StepRequest request;
        short version;
        bool cancelled;
        lock (_queue)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!_inner.Contains(stream))
            {
                ThrowHelper.Argument(nameof(stream), $"{stream} is not registered here (removed, never added, or another batcher's).");
            }

            request = _pool.Count > 0 ? _pool.Pop() : new StepRequest(this);
            version = request.Version;
            request.Stream = stream;
            request.Input = input;
            request.Output = output;
            request.Token = cancellationToken;
            request.State = RequestState.Created;
            if (cancellationToken.CanBeCanceled)
            {
                // A token cancelled meanwhile runs the callback here, re-entering this lock: it marks the request.
                request.Registration = cancellationToken.UnsafeRegister(s_cancel, request);
            }

            cancelled = request.State == RequestState.CancelledEarly;
            if (cancelled)
            {
                request.State = RequestState.Done;
            }
            else
            {
                Enqueue(request);
            }
        }

        if (cancelled)
        {
            request.Complete(new OperationCanceledException(cancellationToken));
        }

        return new ValueTask(request, version);
    }

    /// <summary>
    /// Lets the batch in flight complete, fails every step not yet started with <see cref="ObjectDisposedException"/>
    /// and stops the loop. Idempotent.
    /// </summary>
    public void Dispose()
    {
        lock (_queue)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            Monitor.PulseAll(_queue);
        }

        if (Thread.CurrentThread != _loop)
        {
            _loop.Join();
        }

        StepRequest? dropped = null;
        lock (_queue)
        {
            for (int slot = 0; slot < _head.Length; slot++)
            {
                StepRequest? chain = DetachQueued(slot);
                while (chain is not null)
                {
                    StepRequest? next = chain.Next;
                    chain.Next = dropped;
                    dropped = chain;
                    chain = next;
                }
            }
        }

        FailChain(dropped, static request => new ObjectDisposedException(nameof(AsyncStreamBatcher), $"The batcher was disposed before {request.Stream}'s step ran."));
    }

    private void Loop()
    {
        while (true)
        {
            int n;
            lock (_queue)
            {
                while (!_disposed && _ready == 0)
                {
                    Monitor.Wait(_queue);
                }

                if (_maxDelayTicks > 0)
                {
                    // More streams may join: wait for them, unless none can (all ready) or the batch is full.
                    long deadline = Stopwatch.GetTimestamp() + _maxDelayTicks;
                    while (!_disposed && _ready > 0 && _ready < _maxBatch && _ready < _inner.Count)
                    {
                        long left = deadline - Stopwatch.GetTimestamp();
                        if (left <= 0)
                        {
                            break;
                        }

                        Monitor.Wait(_queue, (int)Math.Min(int.MaxValue, Math.Ceiling(left * 1000.0 / Stopwatch.Frequency)));
                    }
                }

                if (_disposed)
                {
                    return;
                }

                if (Math.Min(_ready, _maxBatch) > _batch.Length)
                {
                    // More streams are ready than ever before: the batch grows (to at most MaxBatch).
                    int length = (int)Math.Min(_maxBatch, Math.Max(_ready, 2L * _batch.Length));
                    _batch = new StepRequest[length];
                    _ids = new StreamId[length];
                }

                n = TakeBatch();
            }

            if (n > 0)
            {
                RunBatch(n);
            }
        }
    }

    /// <summary>Up to MaxBatch ready streams' oldest steps, in the order the streams became ready (under _queue).</summary>
    private int TakeBatch()
    {
        int n = 0;
        while (n < _batch.Length && _ringCount > 0)
        {
            int slot = _ring[_ringStart];
            _ringStart = (_ringStart + 1) % _ring.Length;
            _ringCount--;
            _inRing[slot] = false;
            StepRequest? request = _head[slot];
            if (request is null || _inFlight[slot])
            {
                continue;   // a stale entry: the stream's steps were cancelled or dropped
            }

            _head[slot] = request.Next;
            if (request.Next is null)
            {
                _tail[slot] = null;
            }
            else
            {
                request.Next.Previous = null;
            }

            request.Next = null;
            request.State = RequestState.Running;
            _inFlight[slot] = true;
            _ready--;
            _batch[n++] = request;
        }

        return n;
    }

    /// <summary>Steps the batch's streams, re-queues those with more steps waiting, and completes the batch's tasks.</summary>
    private void RunBatch(int n)
    {
        Exception? failure = null;
        try
        {
            BeforeBatch?.Invoke(n);
            long start = Stopwatch.GetTimestamp();
            int stepped;
            lock (_stateLock)
            {
                stepped = Step(n);
            }

            if (stepped > 0)
            {
                _batchStepped?.Invoke(stepped, Stopwatch.GetElapsedTime(start));
            }
        }
        catch (Exception e)
        {
            failure = e;
        }

        lock (_queue)
        {
            for (int i = 0; i < n; i++)
            {
                int slot = _batch[i].Stream.Slot;
                _inFlight[slot] = false;
                if (_head[slot] is not null)
                {
                    MarkReady(slot);
                }
            }
        }

        for (int i = 0; i < n; i++)
        {
            StepRequest request = _batch[i];
            _batch[i] = null!;
            request.State = RequestState.Done;
            request.Complete(
                failure is not null ? new InvalidOperationException($"A batched step of {n} stream(s) failed ({failure.GetType().Name}: {failure.Message}); {request.Stream}'s step did not complete: reset or restore it before going on.", failure)
                : request.Removed ? new InvalidOperationException($"{request.Stream} was removed before this step ran.")
                : null);
        }
    }

    /// <summary>One batched step of the batch's streams that are still registered (under _stateLock); returns how many.</summary>
    private int Step(int n)
    {
        int m = 0, only = -1;
        for (int i = 0; i < n; i++)
        {
            StepRequest request = _batch[i];
            request.Removed = !_inner.Contains(request.Stream);
            if (!request.Removed)
            {
                _ids[m++] = request.Stream;
                only = i;
            }
        }

        if (m == 1)
        {
            // Batching does not pay for one stream: the batch-1 path, on the caller's buffers and the stream's slot.
            StepRequest request = _batch[only];
            _inner.Step(_ids.AsSpan(0, 1), request.Input.Span, request.Output.Span, _team);
            return 1;
        }

        if (m == 0)
        {
            return 0;
        }

        if (_x.Length < m * _inputSize)
        {
            _x = new float[Math.Max(m, Math.Min(_batch.Length, 2 * m)) * _inputSize];
            _y = new float[_x.Length / _inputSize * _outputSize];
        }

        int row = 0;
        for (int i = 0; i < n; i++)
        {
            if (!_batch[i].Removed)
            {
                _batch[i].Input.Span.CopyTo(_x.AsSpan(row++ * _inputSize, _inputSize));
            }
        }

        _inner.Step(_ids.AsSpan(0, m), _x.AsSpan(0, m * _inputSize), _y.AsSpan(0, m * _outputSize), _team);
        row = 0;
        for (int i = 0; i < n; i++)
        {
            if (!_batch[i].Removed)
            {
                _y.AsSpan(row++ * _outputSize, _outputSize).CopyTo(_batch[i].Output.Span);
            }
        }

        return m;
    }

    /// <summary>Appends a step to its stream's queue (under _queue).</summary>
    private void Enqueue(StepRequest request)
    {
        int slot = request.Stream.Slot;
        StepRequest? last = _tail[slot];
        request.Previous = last;
        request.Next = null;
        request.State = RequestState.Queued;
        _tail[slot] = request;
        if (last is not null)
        {
            last.Next = request;
            return;
        }

        _head[slot] = request;
        if (!_inFlight[slot])
        {
            MarkReady(slot);
        }
    }

    /// <summary>The slot's stream has a step queued and none in flight (under _queue).</summary>
    private void MarkReady(int slot)
    {
        _ready++;
        if (!_inRing[slot])
        {
            _inRing[slot] = true;
            _ring[(_ringStart + _ringCount) % _ring.Length] = slot;
            _ringCount++;
        }

        Monitor.Pulse(_queue);
    }

    /// <summary>The cancellation callback: a step not yet in a batch leaves its queue and is cancelled.</summary>
    private void Cancel(StepRequest request)
    {
        lock (_queue)
        {
            if (request.State == RequestState.Created)
            {
                request.State = RequestState.CancelledEarly;   // StepAsync is registering it: it completes it
                return;
            }

            if (request.State != RequestState.Queued)
            {
                return;
            }

            int slot = request.Stream.Slot;
            if (request.Previous is null)
            {
                _head[slot] = request.Next;
            }
            else
            {
                request.Previous.Next = request.Next;
            }

            if (request.Next is null)
            {
                _tail[slot] = request.Previous;
            }
            else
            {
                request.Next.Previous = request.Previous;
            }

            request.Next = request.Previous = null;
            request.State = RequestState.Done;
            if (_head[slot] is null && !_inFlight[slot])
            {
                _ready--;   // its ring entry stays, stale, until the loop passes it
            }
        }

        request.Complete(new OperationCanceledException(request.Token));
    }

    /// <summary>Takes the slot's queued steps out (under _queue); they are returned linked by Next, to be completed outside the lock.</summary>
    private StepRequest? DetachQueued(int slot)
    {
        StepRequest? chain = _head[slot];
        if (chain is null)
        {
            return null;
        }

        if (!_inFlight[slot])
        {
            _ready--;
        }

        for (StepRequest? r = chain; r is not null; r = r.Next)
        {
            r.State = RequestState.Done;
            r.Previous = null;
        }

        _head[slot] = _tail[slot] = null;
        return chain;
    }

    private static void FailChain(StepRequest? chain, Func<StepRequest, Exception> error)
    {
        while (chain is not null)
        {
            StepRequest? next = chain.Next;
            chain.Next = null;
            chain.Complete(error(chain));
            chain = next;
        }
    }

    private void Return(StepRequest request)
    {
        lock (_queue)
        {
            _pool.Push(request);
        }
    }

    /// <summary>The per-slot queues at <paramref name="capacity"/> slots (under _queue; the ring keeps its order).</summary>
    private void GrowQueues(int capacity)
    {
        Array.Resize(ref _head, capacity);
        Array.Resize(ref _tail, capacity);
        Array.Resize(ref _inRing, capacity);
        Array.Resize(ref _inFlight, capacity);
        int[] ring = new int[Math.Max(1, capacity)];
        for (int i = 0; i < _ringCount; i++)
        {
            ring[i] = _ring[(_ringStart + i) % _ring.Length];
        }

        _ring = ring;
        _ringStart = 0;
    }
}
