using System.Diagnostics;
using Rnn.Simd.Layers;
using Rnn.Simd.Serving;
using Rnn.Simd.StreamingProtocol;

namespace Rnn.Simd.LoadGenerator;

/// <summary>
/// The engine's side of the service without gRPC (the load generator's in-process option): the same streams, model and
/// closed loop, in this process. Batched: every stream awaits <see cref="AsyncStreamBatcher.StepAsync"/> on one
/// batcher (the service's defaults: at most 256 a batch, no delay, the loop's thread alone). Per-stream: every frame is
/// one <see cref="RecurrentNetwork.Step"/> on the stream's own state, on a thread pool thread (each frame yields to the
/// pool first, as each frame of the service arrives on one). What is left of a frame's cost is the engine and the
/// awaits; GC counts, bytes and CPU per frame are this process's.
/// </summary>
public static class InProcessRun
{
    /// <summary>Runs <see cref="LoadOptions.Streams"/> streams for <see cref="LoadOptions.Seconds"/>, each stepping as fast as it is answered.</summary>
    public static async Task<LoadReport> RunAsync(LoadOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        bool batched = options.InProcess == "batched";
        (RecurrentNetwork network, string source) = SampleModel.Load(options.ModelPath);
        long batches = 0, batchedSteps = 0;
        using var batcher = batched ? new AsyncStreamBatcher(network, new AsyncStreamBatcherOptions
        {
            MaxBatch = 256,
            MaxDelay = TimeSpan.Zero,
            BatchStepped = (size, _) =>
            {
                batches++;
                batchedSteps += size;
            },
        }) : null;
        var latency = new LatencyHistogram();
        long start = Stopwatch.GetTimestamp();
        long warmupEnd = start + (long)(options.WarmupSeconds * Stopwatch.Frequency), end = start + (long)(options.Seconds * Stopwatch.Frequency);
        Task<Counters> before = CountersAt(warmupEnd, cancellationToken), after = CountersAt(end, cancellationToken);
        Task[] streams = [.. Enumerable.Range(0, options.Streams).Select(s => Task.Run(() => Stream(s), cancellationToken))];
        await Task.WhenAll(streams);
        Counters first = await before, last = await after;
        double seconds = (end - warmupEnd) / (double)Stopwatch.Frequency;
        double frames = last.Frames - first.Frames;
        return new LoadReport
        {
            Mode = batched ? "in-process batched" : "in-process per-stream",
            Model = source,
            Streams = options.Streams,
            Seconds = options.Seconds,
            MeasuredSeconds = seconds,
            FramesMeasured = latency.Count,
            FramesPerSecond = frames / seconds,
            LatencyP50Us = latency.Quantile(0.50) / 1e3,
            LatencyP99Us = latency.Quantile(0.99) / 1e3,
            LatencyP999Us = latency.Quantile(0.999) / 1e3,
            LatencyMaxUs = latency.MaxNanoseconds / 1e3,
            ServerSteps = (long)frames,
            Gen0 = last.Gen0 - first.Gen0,
            Gen1 = last.Gen1 - first.Gen1,
            Gen2 = last.Gen2 - first.Gen2,
            ServerBytesPerFrame = (last.Bytes - first.Bytes) / Math.Max(1, frames),
            ServerCpuUsPerFrame = (last.CpuSeconds - first.CpuSeconds) * 1e6 / Math.Max(1, frames),
            MeanBatchSize = batches == 0 ? 0 : batchedSteps / (double)batches,
        };

        async Task Stream(int stream)
        {
            float[] x = new float[network.Options.InputSize], y = new float[network.Options.OutputSize];
            SeededFrames.Fill(stream, 0, x);
            RecurrentState? state = batched ? null : network.CreateState();
            StreamId id = batcher?.Add() ?? default;
            while (true)
            {
                long sent = Stopwatch.GetTimestamp();
                if (sent >= end || cancellationToken.IsCancellationRequested)
                {
                    break;
                }

                if (batcher is not null)
                {
                    await batcher.StepAsync(id, x, y, cancellationToken);
                }
                else
                {
                    await Task.Yield();
                    network.Step(state!, x, y);
                }

                Interlocked.Increment(ref s_frames);
                if (sent >= warmupEnd)
                {
                    latency.RecordTicks(Stopwatch.GetTimestamp() - sent);
                }
            }

            batcher?.Remove(id);
        }
    }

    private static long s_frames;

    private static async Task<Counters> CountersAt(long timestamp, CancellationToken cancellationToken)
    {
        TimeSpan wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), timestamp);
        if (wait > TimeSpan.Zero)
        {
            await Task.Delay(wait, cancellationToken);
        }

        return new Counters(Interlocked.Read(ref s_frames), GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2), GC.GetTotalAllocatedBytes(precise: false), Environment.CpuUsage.TotalTime.TotalSeconds);
    }

    private readonly record struct Counters(long Frames, int Gen0, int Gen1, int Gen2, long Bytes, double CpuSeconds);
}
