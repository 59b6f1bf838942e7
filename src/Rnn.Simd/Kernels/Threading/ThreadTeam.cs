using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using Rnn.Simd.Internal;
using Rnn.Simd.Kernels.Threading;

namespace Rnn.Simd.Kernels.Threading;

/// <summary>
/// A fixed team of threads that kernels split their outputs across. The caller chooses the size; the
/// calling thread always takes part, so a team of <c>n</c> owns <c>n − 1</c> background threads.
/// </summary>
/// <remarks>
/// <para>Dispatching work allocates nothing: no Task, no closure, no Parallel.For. Workers spin for a short
/// while after each job (so back-to-back time steps do not pay a wake-up) and then block.</para>
/// <para>Threads only ever split output blocks, never a reduction, so results are bit-identical for every
/// team size. A team runs one job at a time; concurrent callers queue. Give each serving thread its own
/// team (or none) when calls must not wait for each other.</para>
/// </remarks>
public sealed unsafe class ThreadTeam : IDisposable
{
    /// <summary>How long an idle worker spins before it blocks, in stopwatch ticks (≈ 100 µs).</summary>
    private static readonly long s_spinTicks = Stopwatch.Frequency / 10_000;

    [ThreadStatic]
    private static bool t_insideJob;

    private readonly Thread[] _workers;

    // Bytes each worker thread had allocated when it last finished a job: lets tests prove the workers
    // allocate nothing per call (process-wide counters also see the test runner's threads).
    private readonly long[] _workerAllocatedBytes;
    private readonly Lock _runLock = new();
    private readonly object _gate = new();

    // The current job: a pointer to a struct on the dispatching thread's stack and the function that runs it.
    private void* _job;
    private delegate*<void*, int, void> _invoke;
    private int _parts;

    private int _generation;
    private int _pending;
    private int _sleepers;
    private volatile bool _disposed;
    private ExceptionDispatchInfo? _error;

    /// <summary>Creates a team of <paramref name="threadCount"/> threads, the caller included.</summary>
    /// <param name="threadCount">1 … 256; 1 means everything runs on the calling thread.</param>
    public ThreadTeam(int threadCount)
    {
        if (threadCount is < 1 or > 256)
        {
            ThrowHelper.ArgumentOutOfRange(nameof(threadCount), $"Must be between 1 and 256, was {threadCount}.");
        }

        ThreadCount = threadCount;
        _workers = new Thread[threadCount - 1];
        _workerAllocatedBytes = new long[threadCount - 1];
        for (int i = 0; i < _workers.Length; i++)
        {
            int part = i + 1;
            _workers[i] = new Thread(() => WorkerLoop(part))
            {
                IsBackground = true,
                Name = $"Rnn.Simd worker {part}",
            };
            _workers[i].Start();
        }
    }

    /// <summary>The number of threads that run a job, the calling thread included.</summary>
    public int ThreadCount { get; }

    /// <summary>How many jobs ran on more than one thread (diagnostics: tests check which products are split).</summary>
    internal long Dispatches { get; private set; }

    /// <summary>Total bytes the worker threads had allocated when they last finished a job (diagnostics for tests).</summary>
    internal long WorkerAllocatedBytes
    {
        get
        {
            long sum = 0;
            for (int i = 0; i < _workerAllocatedBytes.Length; i++)
            {
                sum += Volatile.Read(ref _workerAllocatedBytes[i]);
            }

            return sum;
        }
    }

    /// <summary>Stops and joins the background threads. Idempotent.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        lock (_gate)
        {
            _disposed = true;
            Interlocked.Increment(ref _generation);
            Monitor.PulseAll(_gate);
        }

        foreach (Thread worker in _workers)
        {
            worker.Join();
        }
    }

    /// <summary>
    /// Runs <c>job.Execute(part)</c> for part = 0 … <paramref name="parts"/>−1, part 0 on the calling thread and
    /// part p on worker p, and returns when all are done. <paramref name="job"/> must live on the caller's stack.
    /// </summary>
    internal void Run<TJob>(ref TJob job, int parts)
        where TJob : struct, IParallelJob
    {
        Debug.Assert(parts >= 1 && parts <= ThreadCount);
        if (parts == 1 || t_insideJob)
        {
            // A job that dispatches again (or a single part) runs inline: no re-entrant deadlock.
            for (int p = 0; p < parts; p++)
            {
                job.Execute(p);
            }

            return;
        }

        ObjectDisposedException.ThrowIf(_disposed, this);
        lock (_runLock)
        {
            Dispatches++;
            _job = Unsafe.AsPointer(ref job);
            _invoke = &Trampoline<TJob>.Invoke;
            _parts = parts;
            _error = null;
            Volatile.Write(ref _pending, _workers.Length);

            // Full fence, then read the sleeper count: a worker increments _sleepers (full fence) before it
            // re-reads _generation, so either it sees the new generation or we see it asleep and wake it.
            Interlocked.Increment(ref _generation);
            if (Volatile.Read(ref _sleepers) > 0)
            {
                lock (_gate)
                {
                    Monitor.PulseAll(_gate);
                }
            }

            t_insideJob = true;
            try
            {
                // Part 0 runs through the workers' trampoline: every part executes the same compiled code.
                Trampoline<TJob>.Invoke(_job, 0);
            }
            finally
            {
                t_insideJob = false;

                // Wait for the workers even if part 0 threw: they read the job from this stack frame.
                var spinner = default(SpinWait);
                while (Volatile.Read(ref _pending) != 0)
                {
                    spinner.SpinOnce(sleep1Threshold: -1);
                }

                _job = null;
            }

            _error?.Throw();
        }
    }

    private void WorkerLoop(int part)
    {
        t_insideJob = true;

        // Generation 0 is the constructor's. Reading _generation here instead would race with a Run that starts
        // before this thread does: the worker would take that job's generation as already seen and never run it.
        int seen = 0;
        while (true)
        {
            seen = WaitForGeneration(seen);
            if (_disposed)
            {
                return;
            }

            if (part < _parts)
            {
                try
                {
                    _invoke(_job, part);
                }
                catch (Exception e)
                {
                    _error ??= ExceptionDispatchInfo.Capture(e);
                }
            }

            Volatile.Write(ref _workerAllocatedBytes[part - 1], GC.GetAllocatedBytesForCurrentThread());
            Interlocked.Decrement(ref _pending);
        }
    }

    private int WaitForGeneration(int seen)
    {
        long spinUntil = Stopwatch.GetTimestamp() + s_spinTicks;
        var spinner = default(SpinWait);
        while (Volatile.Read(ref _generation) == seen)
        {
            if (Stopwatch.GetTimestamp() < spinUntil)
            {
                spinner.SpinOnce(sleep1Threshold: -1);
                continue;
            }

            lock (_gate)
            {
                Interlocked.Increment(ref _sleepers);
                while (Volatile.Read(ref _generation) == seen)
                {
                    Monitor.Wait(_gate);
                }

                Interlocked.Decrement(ref _sleepers);
            }
        }

        return Volatile.Read(ref _generation);
    }

    /// <summary>
    /// The one compiled entry of a job type, for the calling thread and the workers alike. Never inlined: the JIT inlines
    /// the job (and what it calls) into this method, and a copy inlined into <see cref="Run"/> could be compiled
    /// differently (another inlining budget, other registers); a part that ran slower code would hold up every step.
    /// </summary>
    private static class Trampoline<TJob>
        where TJob : struct, IParallelJob
    {
        [MethodImpl(MethodImplOptions.NoInlining)]
        public static void Invoke(void* job, int part) => Unsafe.AsRef<TJob>(job).Execute(part);
    }
}
