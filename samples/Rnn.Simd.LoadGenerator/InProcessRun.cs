using System.Diagnostics;
using Rnn.Simd.Kernels.Threading;
using Rnn.Simd.Layers;
using Rnn.Simd.Serving;
using Rnn.Simd.StreamingProtocol;

namespace Rnn.Simd.LoadGenerator;

/// <summary>
/// The engine's side of the service without gRPC (the load generator's in-process option): the same streams and model,
/// in this process, closed loop (each stream's next frame as soon as its last is done) or, with a rate, open loop (each
/// stream's frames at fixed times, phases spread over the period, one frame of a stream in flight at a time as in the
/// service). Batched: every stream awaits <see cref="AsyncStreamBatcher.StepAsync"/> on one batcher (or on one
/// of <see cref="LoadOptions.Batchers"/>, stream s on batcher s mod N) with the service's options (<see cref="LoadOptions.MaxBatch"/>, <see cref="LoadOptions.MaxDelayMs"/>,
/// <see cref="LoadOptions.Threads"/>, <see cref="LoadOptions.InlineContinuations"/>; by default at most 256 a batch,
/// no delay, the loop's thread alone). Per-stream: every frame is one <see cref="RecurrentNetwork.Step"/> on the
/// stream's own state, on a thread pool thread (each frame yields to the pool first, as each frame of the service
/// arrives on one). What is left of a frame's cost is the engine and the awaits; GC counts, bytes and CPU per frame
/// are this process's. Latency is from the call (after the open loop's timer, as the load generator's frames are timed
/// from their send) to its step's completion.
/// </summary>
public static class InProcessRun
{
    /// <summary>Runs <see cref="LoadOptions.Streams"/> streams for <see cref="LoadOptions.Seconds"/>, each stepping as fast as it is answered or at <see cref="LoadOptions.Rate"/>.</summary>
    public static async Task<LoadReport> RunAsync(LoadOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        bool batched = options.InProcess == "batched";
        (RecurrentNetwork network, string source) = SampleModel.Load(options.ModelPath);
        long batches = 0, batchedSteps = 0, engineTicks = 0;
        int shards = batched ? options.Batchers : 0;
        ThreadTeam?[] teams = [.. Enumerable.Range(0, shards).Select(_ => options.Threads > 1 ? new ThreadTeam(options.Threads) : null)];
        AsyncStreamBatcher[] batchers = [.. teams.Select(team => new AsyncStreamBatcher(network, new AsyncStreamBatcherOptions
        {
            MaxBatch = options.MaxBatch,
            MaxDelay = TimeSpan.FromMilliseconds(options.MaxDelayMs),
            Threads = team,
            RunContinuationsAsynchronously = !options.InlineContinuations,
            InitialCapacity = (options.Streams + shards - 1) / shards,
            BatchStepped = (size, elapsed) =>
            {
                Interlocked.Increment(ref batches);
                Interlocked.Add(ref batchedSteps, size);
                Interlocked.Add(ref engineTicks, elapsed.Ticks);
            },
        }))];
        using var stop = new Disposer(batchers, teams);
        long period = options.Rate > 0 ? (long)(Stopwatch.Frequency / options.Rate) : 0;
        var latency = new LatencyHistogram();
        var sendError = new LatencyHistogram();
        long start = Stopwatch.GetTimestamp();
        long warmupEnd = start + (long)(options.WarmupSeconds * Stopwatch.Frequency), end = start + (long)(options.Seconds * Stopwatch.Frequency);
        using FramePacer? pacer = period > 0 && options.Pacing == Pacing.Pacer ? new FramePacer(options.Streams, start, period, end) : null;
        Task<Counters> before = CountersAt(warmupEnd, cancellationToken), after = CountersAt(end, cancellationToken);
        Task[] streams = [.. Enumerable.Range(0, options.Streams).Select(s => Task.Run(() => Stream(s), cancellationToken))];
        await Task.WhenAll(streams);
        Counters first = await before, last = await after;
        long engineTotal = batched ? engineTicks : Interlocked.Read(ref s_stepTicks) * TimeSpan.TicksPerSecond / Stopwatch.Frequency;
        double seconds = (end - warmupEnd) / (double)Stopwatch.Frequency;
        double frames = last.Frames - first.Frames;
        return new LoadReport
        {
            Mode = batched ? $"in-process batched, {options.Batchers}×{options.Threads} thread(s){(options.InlineContinuations ? ", inline" : "")}" : "in-process per-stream",
            Model = source,
            Streams = options.Streams,
            RatePerStream = options.Rate,
            Pacing = options.Rate == 0 ? "closed loop" : options.Pacing == LoadGenerator.Pacing.Pacer ? "pacer" : "timers",
            Seconds = options.Seconds,
            MeasuredSeconds = seconds,
            FramesMeasured = latency.Count,
            FramesPerSecond = frames / seconds,
            LatencyP50Us = latency.Quantile(0.50) / 1e3,
            LatencyP99Us = latency.Quantile(0.99) / 1e3,
            LatencyP999Us = latency.Quantile(0.999) / 1e3,
            LatencyMaxUs = latency.MaxNanoseconds / 1e3,
            SendErrorP50Us = sendError.Quantile(0.50) / 1e3,
            SendErrorP99Us = sendError.Quantile(0.99) / 1e3,
            SendErrorMaxUs = sendError.MaxNanoseconds / 1e3,
            ServerSteps = (long)frames,
            Gen0 = last.Gen0 - first.Gen0,
            Gen1 = last.Gen1 - first.Gen1,
            Gen2 = last.Gen2 - first.Gen2,
            ServerBytesPerFrame = (last.Bytes - first.Bytes) / Math.Max(1, frames),
            ServerCpuUsPerFrame = (last.CpuSeconds - first.CpuSeconds) * 1e6 / Math.Max(1, frames),
            EngineUsPerFrame = engineTotal / (double)TimeSpan.TicksPerMicrosecond / Math.Max(1, batched ? batchedSteps : Interlocked.Read(ref s_frames)),
            MeanBatchSize = batches == 0 ? 0 : batchedSteps / (double)batches,
        };

        async Task Stream(int stream)
        {
            float[] x = new float[network.Options.InputSize], y = new float[network.Options.OutputSize];
            SeededFrames.Fill(stream, 0, x);
            RecurrentState? state = batched ? null : network.CreateState();
            AsyncStreamBatcher? batcher = batched ? batchers[stream % batchers.Length] : null;
            StreamId id = batcher?.Add() ?? default;
            long due = start + (period * stream / options.Streams);   // open loop: phases spread over one period
            using PeriodicTimer? timer = period > 0 && pacer is null ? new PeriodicTimer(Stopwatch.GetElapsedTime(0, period)) : null;
            if (timer is not null)
            {
                // The stream's phase, then one tick a period: a periodic timer allocates nothing a tick (Task.Delay
                // would allocate a timer and a task a frame, and this process's collections would be the client's).
                TimeSpan phase = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), due);
                if (phase > TimeSpan.Zero)
                {
                    await Task.Delay(phase, cancellationToken);
                }

                timer.Period = Stopwatch.GetElapsedTime(0, period);   // restarts the period from now
            }

            bool firstFrame = true;
            while (true)
            {
                if (pacer is not null && (due = await pacer.NextAsync(stream)) < 0)
                {
                    break;
                }

                if (timer is not null && !firstFrame && !await timer.WaitForNextTickAsync(cancellationToken))
                {
                    break;
                }

                firstFrame = false;

                long sent = Stopwatch.GetTimestamp();
                if ((period > 0 ? due : sent) >= end || cancellationToken.IsCancellationRequested)
                {
                    break;
                }

                if (period > 0 && due >= warmupEnd)
                {
                    sendError.RecordTicks(Math.Abs(sent - due));   // how far from its due time the frame left (the pacing's error)
                }

                if (batcher is not null)
                {
                    await batcher.StepAsync(id, x, y, cancellationToken);
                }
                else
                {
                    await Task.Yield();
                    long begin = Stopwatch.GetTimestamp();
                    network.Step(state!, x, y);
                    Interlocked.Add(ref s_stepTicks, Stopwatch.GetTimestamp() - begin);
                }

                due += period;
                Interlocked.Increment(ref s_frames);
                if (sent >= warmupEnd)
                {
                    latency.RecordTicks(Stopwatch.GetTimestamp() - sent);
                }
            }

            batcher?.Remove(id);
        }
    }

    private static long s_frames, s_stepTicks;

    private static async Task<Counters> CountersAt(long timestamp, CancellationToken cancellationToken)
    {
        TimeSpan wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), timestamp);
        if (wait > TimeSpan.Zero)
        {
            await Task.Delay(wait, cancellationToken);
        }

        return new Counters(Interlocked.Read(ref s_frames), GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2), GC.GetTotalAllocatedBytes(precise: false), Environment.CpuUsage.TotalTime.TotalSeconds);
    }

    /// <summary>Disposes the batchers, then their teams.</summary>
    private sealed class Disposer(AsyncStreamBatcher[] batchers, ThreadTeam?[] teams) : IDisposable
    {
        public void Dispose()
        {
            foreach (AsyncStreamBatcher batcher in batchers)
            {
                batcher.Dispose();
            }

            foreach (ThreadTeam? team in teams)
            {
                team?.Dispose();
            }
        }
    }

    private readonly record struct Counters(long Frames, int Gen0, int Gen1, int Gen2, long Bytes, double CpuSeconds);
}
