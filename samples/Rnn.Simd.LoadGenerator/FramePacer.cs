using System.Diagnostics;
using System.Threading.Tasks.Sources;

namespace Rnn.Simd.LoadGenerator;

/// <summary>
/// The open loop's clock: one thread that releases every stream's frames at their due times, read from
/// <see cref="Stopwatch"/>. Stream s's frame k is due at <c>start + s·period/streams + k·period</c> (phases spread
/// over one period), so the due times of all streams together are evenly spaced and the pacer walks them in order.
/// </summary>
/// <remarks>
/// <para>Why not a timer per stream: .NET's timers (<see cref="PeriodicTimer"/>, <see cref="Task.Delay(TimeSpan)"/>)
/// take whole milliseconds and, on Linux, fire against the coarse monotonic clock, which advances once a kernel tick
/// (4 ms here: <c>CONFIG_HZ=250</c>). 512 timers at 142 Hz then fire ≈ 290 at a time once every 4 ms, with nothing
/// between: a burst that a server must queue, whatever its batching.</para>
/// <para>The pacer sleeps in whole milliseconds (<see cref="Thread.Sleep(int)"/>, a high-resolution sleep on Linux)
/// and, at each wake, releases every frame due by then: frames leave in groups of at most the rate's worth of one
/// millisecond (and a little more), at their due times to within about 1 ms (the report's send lag tells how well).
/// A stream that is not yet waiting when its frame falls due keeps it: its next wait returns at once with that frame's
/// due time, so a late stream sends its frames back to back and the offered rate holds. Releasing allocates
/// nothing.</para>
/// </remarks>
public sealed class FramePacer : IDisposable
{
    private readonly Signal[] _signals;
    private readonly long _start, _period, _end;
    private readonly Thread _thread;
    private volatile bool _stopping;

    /// <summary>Starts the pacer's thread.</summary>
    /// <param name="streams">Streams paced (≥ 1).</param>
    /// <param name="start">Stream 0's first frame, in <see cref="Stopwatch"/> ticks.</param>
    /// <param name="period">Ticks between a stream's frames (≥ 1).</param>
    /// <param name="end">No frame is due at or after it: then every stream's wait returns −1.</param>
    /// <param name="continueOnThreadPool">True: a released stream goes on on the thread pool; false: inline on the pacer's thread.</param>
    public FramePacer(int streams, long start, long period, long end, bool continueOnThreadPool = true)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(streams, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(period, 1);
        _start = start;
        _period = period;
        _end = end;
        _signals = [.. Enumerable.Range(0, streams).Select(_ => new Signal(period, continueOnThreadPool))];
        _thread = new Thread(Run) { IsBackground = true, Name = "Frame pacer" };
        _thread.Start();
    }

    /// <summary>Frame k of <paramref name="stream"/>'s due time (ticks), as the pacer schedules it.</summary>
    public long DueTime(int stream, long frame) => _start + (_period * stream / _signals.Length) + (frame * _period);

    /// <summary>Waits for the stream's next frame to fall due; returns its due time (ticks), or −1 once the run is over. One wait at a time per stream.</summary>
    public ValueTask<long> NextAsync(int stream) => _signals[stream].Wait();

    /// <summary>Stops the thread; waiting streams get −1.</summary>
    public void Dispose()
    {
        _stopping = true;
        if (Thread.CurrentThread != _thread)
        {
            _thread.Join();
        }
    }

    private void Run()
    {
        int streams = _signals.Length, stream = 0;
        long cycle = 0;
        while (!_stopping)
        {
            long now = Stopwatch.GetTimestamp(), due;
            while ((due = DueTime(stream, cycle)) <= now && due < _end)
            {
                _signals[stream].Release(due);
                if (++stream == streams)
                {
                    stream = 0;
                    cycle++;
                }
            }

            if (due >= _end)
            {
                break;
            }

            long wait = (due - now) * 1000 / Stopwatch.Frequency;   // whole ms until the next due time, rounded down
            Thread.Sleep((int)Math.Clamp(wait, 1, 50));
        }

        foreach (Signal signal in _signals)
        {
            signal.Finish();
        }
    }

    /// <summary>One stream's released frames: a count and the oldest one's due time, and a pooled task source for its wait.</summary>
    private sealed class Signal(long period, bool continueOnThreadPool) : IValueTaskSource<long>
    {
        private readonly Lock _lock = new();
        private ManualResetValueTaskSourceCore<long> _core = new() { RunContinuationsAsynchronously = continueOnThreadPool };
        private long _oldestDue;
        private int _pending;
        private bool _waiting, _finished;

        public ValueTask<long> Wait()
        {
            lock (_lock)
            {
                if (_pending > 0)
                {
                    _pending--;
                    long due = _oldestDue;
                    _oldestDue += period;
                    return new ValueTask<long>(due);
                }

                if (_finished)
                {
                    return new ValueTask<long>(-1);
                }

                _core.Reset();
                _waiting = true;
                return new ValueTask<long>(this, _core.Version);
            }
        }

        public void Release(long due)
        {
            lock (_lock)
            {
                if (!_waiting)
                {
                    if (_pending++ == 0)
                    {
                        _oldestDue = due;
                    }

                    return;
                }

                _waiting = false;
            }

            _core.SetResult(due);
        }

        public void Finish()
        {
            lock (_lock)
            {
                _finished = true;
                if (!_waiting)
                {
                    return;
                }

                _waiting = false;
            }

            _core.SetResult(-1);
        }

        public long GetResult(short token) => _core.GetResult(token);

        public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _core.OnCompleted(continuation, state, token, flags);
    }
}
