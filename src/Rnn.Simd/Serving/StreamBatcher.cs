using Rnn.Simd.Cells;
using Rnn.Simd.Internal;
using Rnn.Simd.Kernels.Threading;
using Rnn.Simd.Layers;

namespace Rnn.Simd.Serving;

/// <summary>
/// Many live streams of one unidirectional <see cref="RecurrentNetwork"/>, each in a slot of a pool, stepped together:
/// any set of them advances by one time step in one batched step of the whole stack, so the weights stream once for
/// the set rather than once per stream. Owned by one caller at a time (see <see cref="AsyncStreamBatcher"/> for a
/// front that many threads share); the network stays shared.
/// </summary>
/// <remarks>
/// <para>A step gathers the chosen streams' states into one batch [L, n, ·], runs
/// <see cref="RecurrentNetwork.Forward"/> for one time step of n rows, and scatters the states back; one stream, or
/// two (see <see cref="SmallestBatch"/>), step on their slots in place (the batch-1 path). Every row of a batched step
/// is one FMA chain over K in a fixed order, as in a batch-1 step, so each stream's outputs and states are bit for bit
/// those of <see cref="RecurrentNetwork.Step"/> on its own <see cref="RecurrentState"/>, whatever the batch it shares a
/// step with, its place in it, the vector width or the thread count.</para>
/// <para>The gather and scatter copy a stream's state (2 KiB at LSTM H = 256) against its ≈ 1 MFLOP of products: the
/// same batched step with the batch kept resident, nothing copied, measured within a few per cent of it
/// (<c>ServingBenchmarks</c>), so the states live in slots, each in the layout of a batch-1 state.</para>
/// <para>Nothing is allocated per call once the pool has grown to the most streams registered at once: slots of
/// removed streams are reused, and the pool (with the batch buffers) doubles when it is full.</para>
/// <para>A stream's state is plain data: <see cref="Snapshot"/> copies it into a batch-1 <see cref="RecurrentState"/>,
/// which <see cref="IO.RecurrentStateSerializer"/> saves, and <see cref="Restore"/> puts one back (in this batcher, in
/// another, or in another process), to continue with the same bits.</para>
/// </remarks>
public sealed class StreamBatcher
{
    /// <summary>
    /// The fewest streams stepped as one batch; fewer step one by one on the batch-1 path (the same bits either way).
    /// Two rows used to fill a zero-padded GEMM tile of six and cost 1.4–1.8× two batch-1 steps (LSTM H = 64 and 256,
    /// AVX-512 and AVX2); the GEMM now runs two rows as two batch-1 passes itself, and stepping them in place also spares
    /// the gather and scatter. From three on, batching pays at H = 256 (1.1–1.2× at three, 2× at four).
    /// </summary>
    internal const int SmallestBatch = 3;

    private readonly int _layers, _outputSize, _hiddenSize, _inputSize;
    private readonly int _hidden1, _cell1;   // floats of one stream's state: L·Hout; L·H for LSTM, else 0
    private float[] _hidden = [];            // [slots, L, Hout]: each slot is a batch-1 state's h
    private float[] _cell = [];              // [slots, L, H]
    private float[] _hiddenBatch = [];       // [L, n, Hout] the gathered states of one step
    private float[] _cellBatch = [];         // [L, n, H]
    private long[] _steps = [];              // [slots]
    private int[] _generation = [];          // [slots] the current (or last) stream's generation
    private bool[] _live = [];               // [slots]
    private int[] _mark = [];                // [slots] the call that last named the slot (duplicate check)
    private int[] _free = [];                // free slots, a stack
    private int _freeCount, _slots, _call;

    /// <summary>Creates an empty pool for streams of <paramref name="network"/>.</summary>
    /// <param name="network">A unidirectional, forward network (one that <see cref="RecurrentNetwork.CreateState"/> accepts).</param>
    /// <param name="capacity">Slots to make up front (the pool grows past it when needed).</param>
    /// <exception cref="ArgumentException">The network is bidirectional or reverse: a stream has no future to run backwards from.</exception>
    public StreamBatcher(RecurrentNetwork network, int capacity = 0)
    {
        ArgumentNullException.ThrowIfNull(network);
        RecurrentNetworkOptions o = network.Options;
        if (o.Bidirectional || o.Reverse)
        {
            ThrowHelper.Argument(nameof(network), $"A {(o.Reverse ? "reverse" : "bidirectional")} network needs whole sequences; streams need a unidirectional, forward one.");
        }

        ThrowHelper.ThrowIfNegative(capacity, nameof(capacity));
        Network = network;
        _layers = o.Layers;
        _inputSize = o.InputSize;
        _outputSize = o.OutputSize;
        _hiddenSize = o.HiddenSize;
        _hidden1 = _layers * _outputSize;
        _cell1 = o.Cell == CellType.Lstm ? _layers * _hiddenSize : 0;
        if (capacity > 0)
        {
            Grow(capacity);
        }
    }

    /// <summary>The network every stream runs.</summary>
    public RecurrentNetwork Network { get; }

    /// <summary>Streams registered now.</summary>
    public int Count { get; private set; }

    /// <summary>Slots the pool holds (registered streams and free slots); it doubles when a stream finds none free.</summary>
    public int Capacity => _live.Length;

    /// <summary>Registers a stream with a zero state (as at the start of a sequence) in a free slot.</summary>
    public StreamId Add()
    {
        int slot;
        if (_freeCount > 0)
        {
            slot = _free[--_freeCount];
        }
        else
        {
            if (_slots == Capacity)
            {
                Grow(Math.Max(4, 2 * Capacity));
            }

            slot = _slots++;
        }

        _generation[slot]++;
        _live[slot] = true;
        ClearSlot(slot);
        Count++;
        return new StreamId(slot, _generation[slot]);
    }

    /// <summary>Unregisters a stream; its slot serves a later <see cref="Add"/>, and its id is stale from now on.</summary>
    /// <exception cref="ArgumentException">The id names no registered stream.</exception>
    public void Remove(StreamId stream)
    {
        int slot = SlotOf(stream, nameof(stream));
        _live[slot] = false;
        _free[_freeCount++] = slot;
        Count--;
    }

    /// <summary>Whether <paramref name="stream"/> is registered (not removed, and from this batcher).</summary>
    public bool Contains(StreamId stream) =>
        (uint)stream.Slot < (uint)_slots && _live[stream.Slot] && _generation[stream.Slot] == stream.Generation;

    /// <summary>Sets the stream's state to zero, as at the start of a sequence.</summary>
    /// <exception cref="ArgumentException">The id names no registered stream.</exception>
    public void Reset(StreamId stream) => ClearSlot(SlotOf(stream, nameof(stream)));

    /// <summary>Time steps the stream has taken since it was added, reset or restored (a restored state brings its count).</summary>
    /// <exception cref="ArgumentException">The id names no registered stream.</exception>
    public long StepsOf(StreamId stream) => _steps[SlotOf(stream, nameof(stream))];

    /// <summary>
    /// Copies the stream's state (h, c for LSTM, and the step count) into <paramref name="destination"/>, a batch-1 state
    /// of the network (<see cref="RecurrentNetwork.CreateState"/>), to save it (<see cref="IO.RecurrentStateSerializer"/>)
    /// or to continue it elsewhere.
    /// </summary>
    /// <exception cref="ArgumentException">The id names no registered stream, or the state is of another architecture or batch.</exception>
    public void Snapshot(StreamId stream, RecurrentState destination)
    {
        int slot = SlotOf(stream, nameof(stream));
        CheckState(destination, nameof(destination));
        HiddenOf(slot).CopyTo(destination.Hidden);
        CellOf(slot).CopyTo(destination.Cell);
        destination.Steps = _steps[slot];
    }

    /// <summary>Replaces the stream's state with <paramref name="source"/>, a batch-1 state of the network (a snapshot, or a loaded one).</summary>
    /// <exception cref="ArgumentException">The id names no registered stream, or the state is of another architecture or batch.</exception>
    public void Restore(StreamId stream, RecurrentState source)
    {
        int slot = SlotOf(stream, nameof(stream));
        CheckState(source, nameof(source));
        source.Hidden.CopyTo(HiddenOf(slot));
        source.Cell.CopyTo(CellOf(slot));
        _steps[slot] = source.Steps;
    }

    /// <summary>
    /// One time step of each of <paramref name="streams"/>, all in one batched step: inputs [n, X] → outputs [n, Hout],
    /// row i for <c>streams[i]</c>; each stream's state advances. Bit for bit what
    /// <see cref="RecurrentNetwork.Step"/> gives each stream on its own.
    /// </summary>
    /// <param name="streams">n distinct registered streams, in any order (n = 0 does nothing).</param>
    /// <param name="inputs">[n, X]: row i is <c>streams[i]</c>'s input.</param>
    /// <param name="outputs">[n, Hout]: row i receives <c>streams[i]</c>'s output (the last layer's h).</param>
    /// <param name="threads">Threads for the matrix products, or null for the calling thread only.</param>
    /// <exception cref="ArgumentException">A length does not match n, an id names no registered stream, or a stream appears twice.</exception>
    public void Step(ReadOnlySpan<StreamId> streams, ReadOnlySpan<float> inputs, Span<float> outputs, ThreadTeam? threads = null)
    {
        int n = streams.Length;
        ThrowHelper.ThrowIfLengthIsNot(inputs.Length, nameof(inputs), "n·X", n, _inputSize);
        ThrowHelper.ThrowIfLengthIsNot(outputs.Length, nameof(outputs), "n·Hout", n, _outputSize);
        if (n == 0)
        {
            return;
        }

        // Every id names a distinct registered stream: each slot is stamped with this call's number.
        int call = ++_call;
        if (call == int.MaxValue)
        {
            Array.Clear(_mark);
            _call = call = 1;
        }

        foreach (StreamId stream in streams)
        {
            int slot = SlotOf(stream, nameof(streams));
            if (_mark[slot] == call)
            {
                ThrowHelper.Argument(nameof(streams), $"{stream} appears twice; a step takes each stream once.");
            }

            _mark[slot] = call;
        }

        if (n < SmallestBatch)
        {
            // The batch-1 path on each slot itself: [L, 1, ·] is the slot's own layout, so nothing is gathered.
            for (int i = 0; i < n; i++)
            {
                int slot = streams[i].Slot;
                Span<float> h = HiddenOf(slot), c = CellOf(slot);
                Network.Forward(inputs.Slice(i * _inputSize, _inputSize), 1, 1, outputs.Slice(i * _outputSize, _outputSize), h, c, h, c, threads: threads);
                _steps[slot]++;
            }

            return;
        }

        Span<float> hBatch = _hiddenBatch.AsSpan(0, _layers * n * _outputSize);
        Span<float> cBatch = _cellBatch.AsSpan(0, _cell1 == 0 ? 0 : _layers * n * _hiddenSize);
        Move(streams, toBatch: true, hBatch, cBatch);

        // The batch is both the initial and the final state: each layer reads its slice before it writes it.
        Network.Forward(inputs, 1, n, outputs, hBatch, cBatch, hBatch, cBatch, threads: threads);
        Move(streams, toBatch: false, hBatch, cBatch);
        foreach (StreamId stream in streams)
        {
            _steps[stream.Slot]++;
        }
    }

    /// <summary>Slot states ⇄ the batch [L, n, ·] (row i of each layer is <c>streams[i]</c>).</summary>
    private void Move(ReadOnlySpan<StreamId> streams, bool toBatch, Span<float> hBatch, Span<float> cBatch)
    {
        int n = streams.Length;
        for (int i = 0; i < n; i++)
        {
            int slot = streams[i].Slot;
            for (int layer = 0; layer < _layers; layer++)
            {
                Span<float> hSlot = _hidden.AsSpan((slot * _hidden1) + (layer * _outputSize), _outputSize);
                Span<float> hRow = hBatch.Slice(((layer * n) + i) * _outputSize, _outputSize);
                (toBatch ? hSlot : hRow).CopyTo(toBatch ? hRow : hSlot);
                if (_cell1 != 0)
                {
                    Span<float> cSlot = _cell.AsSpan((slot * _cell1) + (layer * _hiddenSize), _hiddenSize);
                    Span<float> cRow = cBatch.Slice(((layer * n) + i) * _hiddenSize, _hiddenSize);
                    (toBatch ? cSlot : cRow).CopyTo(toBatch ? cRow : cSlot);
                }
            }
        }
    }

    private Span<float> HiddenOf(int slot) => _hidden.AsSpan(slot * _hidden1, _hidden1);

    private Span<float> CellOf(int slot) => _cell.AsSpan(slot * _cell1, _cell1);

    private void ClearSlot(int slot)
    {
        HiddenOf(slot).Clear();
        CellOf(slot).Clear();
        _steps[slot] = 0;
    }

    private int SlotOf(StreamId stream, string paramName)
    {
        if (!Contains(stream))
        {
            ThrowHelper.Argument(paramName, $"{stream} is not registered here (removed, never added, or another batcher's).");
        }

        return stream.Slot;
    }

    private void CheckState(RecurrentState state, string paramName)
    {
        ArgumentNullException.ThrowIfNull(state, paramName);
        if (state.Batch != 1 || (!ReferenceEquals(state.Options, Network.Options) && !state.Options.Equals(Network.Options)))
        {
            ThrowHelper.Argument(paramName, $"Expected a batch-1 state of this network's architecture; got one of batch {state.Batch}{(state.Options.Equals(Network.Options) ? "" : " for another architecture")}.");
        }
    }

    /// <summary>The pool and the batch buffers at <paramref name="capacity"/> slots (the only allocation, as the pool grows).</summary>
    private void Grow(int capacity)
    {
        ThrowHelper.ThrowIfTooLarge(nameof(capacity), "slots·L·max(Hout, H)", capacity, _layers, Math.Max(_outputSize, _hiddenSize));
        Array.Resize(ref _hidden, capacity * _hidden1);
        Array.Resize(ref _cell, capacity * _cell1);
        Array.Resize(ref _steps, capacity);
        Array.Resize(ref _generation, capacity);
        Array.Resize(ref _live, capacity);
        Array.Resize(ref _mark, capacity);
        Array.Resize(ref _free, capacity);
        _hiddenBatch = new float[capacity * _hidden1];
        _cellBatch = new float[capacity * _cell1];
    }
}
