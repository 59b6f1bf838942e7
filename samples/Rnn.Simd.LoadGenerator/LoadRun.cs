using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using Grpc.Core;
using Grpc.Net.Client;
using Rnn.Simd.Layers;
using Rnn.Simd.StreamingProtocol;

namespace Rnn.Simd.LoadGenerator;

/// <summary>
/// One load run: opens the streams, sends each stream's seeded frames at the fixed rate until the time (or frame
/// count) is up, measures every frame's latency (sent → its output received) after the warm-up, reads the server's
/// <c>/metrics</c> when the measured window opens and closes, and, in check mode, steps a direct run of the network
/// here beside every stream and compares each output's bits.
/// </summary>
public static class LoadRun
{
    private static readonly JsonSerializerOptions s_metricsJson = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    /// <summary>Runs the load; stops by itself after <see cref="LoadOptions.Seconds"/> (plus the time the last outputs take).</summary>
    public static async Task<LoadReport> RunAsync(LoadOptions options, RecurrentNetwork? reference = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var address = new Uri($"http://127.0.0.1:{options.Port}");
        GrpcChannel[] channels = [.. Enumerable.Range(0, Math.Min(options.Connections, options.Streams)).Select(_ => GrpcChannel.ForAddress(address, new GrpcChannelOptions
        {
            HttpHandler = new SocketsHttpHandler { EnableMultipleHttp2Connections = true },
            MaxReceiveMessageSize = 1 << 20,
        }))];
        using var http = new HttpClient { BaseAddress = address, DefaultRequestVersion = new Version(2, 0), DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };
        try
        {
            var client = new StreamingInference.StreamingInferenceClient(channels[0]);
            ModelInfo model = await client.DescribeAsync(new DescribeRequest(), cancellationToken: cancellationToken);
            if (options.Check)
            {
                reference ??= SampleModel.Load(options.ModelPath).Network;
                if (reference.Options.InputSize != model.InputSize || reference.Options.OutputSize != model.OutputSize)
                {
                    throw new InvalidOperationException($"The server's model ({model.Source}: X={model.InputSize}, Hout={model.OutputSize}) is not the one to check against (X={reference.Options.InputSize}, Hout={reference.Options.OutputSize}).");
                }
            }

            var run = new Shared(options, model, options.Check ? reference : null);
            long period = options.Rate > 0 ? (long)(Stopwatch.Frequency / options.Rate) : 0;
            // Without a warm-up the window opens with the first frame: read the server's counters before it.
            (MetricsSnapshot?, double)? atStart = options.WarmupSeconds == 0 ? await ReadMetricsAt(http, 0, CancellationToken.None, cancellationToken) : null;
            long start = Stopwatch.GetTimestamp();
            run.Start = start;
            run.WarmupEnd = start + (long)(options.WarmupSeconds * Stopwatch.Frequency);
            run.End = start + (long)(options.Seconds * Stopwatch.Frequency);
            using FramePacer? pacer = period > 0 && options.Pacing == Pacing.Pacer ? new FramePacer(options.Streams, start, period, run.End) : null;
            run.Pacer = pacer;
            // The server's counters when the measured window opens and when it closes (or every stream is done).
            using var done = new CancellationTokenSource();
            Task<(MetricsSnapshot?, double)> before = atStart is { } start0 ? Task.FromResult(start0) : ReadMetricsAt(http, run.WarmupEnd, done.Token, cancellationToken);
            // The closing read comes a little before the end: 512 calls ending at once are the server's busiest moment
            // for the collector (their buffers and states all go), which is teardown, not serving.
            long margin = Math.Min(Stopwatch.Frequency / 2, (run.End - run.WarmupEnd) / 10);
            Task<(MetricsSnapshot?, double)> after = ReadMetricsAt(http, run.End - margin, done.Token, cancellationToken);
            CallInvoker[] invokers = [.. channels.Select(c => c.CreateCallInvoker())];
            Task[] streams = [.. Enumerable.Range(0, options.Streams).Select(s => Task.Run(() => RunStream(invokers[s % invokers.Length], run, s, cancellationToken), cancellationToken))];
            await Task.WhenAll(streams);
            await done.CancelAsync();
            double measured = Math.Max(1e-9, (Math.Min(Stopwatch.GetTimestamp(), run.End) - run.WarmupEnd) / (double)Stopwatch.Frequency);
            return run.Report(model, await before, await after, measured);
        }
        finally
        {
            foreach (GrpcChannel channel in channels)
            {
                channel.Dispose();
            }
        }
    }

    /// <summary>The server's counters and this process's CPU seconds, at <paramref name="timestamp"/> (or earlier, if <paramref name="early"/> fires).</summary>
    private static async Task<(MetricsSnapshot? Server, double ClientCpuSeconds)> ReadMetricsAt(HttpClient http, long timestamp, CancellationToken early, CancellationToken cancellationToken)
    {
        TimeSpan wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), timestamp);
        if (wait > TimeSpan.Zero)
        {
            await Task.WhenAny(Task.Delay(wait, early));   // the streams may all be done before the time is up
            cancellationToken.ThrowIfCancellationRequested();
        }

        double cpu = Environment.CpuUsage.TotalTime.TotalSeconds;
        return (await http.GetFromJsonAsync<MetricsSnapshot>("/metrics", s_metricsJson, cancellationToken), cpu);
    }

    private static async Task RunStream(CallInvoker invoker, Shared run, int stream, CancellationToken cancellationToken)
    {
        LoadOptions o = run.Options;
        var receiver = new Receiver(run, stream);
        long period = o.Rate > 0 ? (long)(Stopwatch.Frequency / o.Rate) : 0;
        // Streams start spread over one period, so a fixed rate is not every stream at the same instant.
        long first = run.Start + (period * stream / o.Streams);
        using var answered = new SemaphoreSlim(0);
        using var failed = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using AsyncDuplexStreamingCall<WireFrame, WireFrame> call = StreamingMethods.OpenStream(invoker, cancellationToken);
        // Open loop: a receiver beside the sender; a failed call (the server's status) stops the sender too, which may
        // be waiting for an answer. Closed loop: this one task sends a frame and reads its output, in turn.
        Task receiving = period == 0 ? Task.CompletedTask : Receive(call.ResponseStream, receiver, answered, cancellationToken)
            .ContinueWith(t => { if (!t.IsCompletedSuccessfully) { failed.Cancel(); } return t; }, TaskScheduler.Default).Unwrap();
        int count = 0;
        try
        {
            var frame = new WireFrame(run.Model.InputSize) { Count = run.Model.InputSize };
            for (; count < receiver.Sent.Length; count++)
            {
                long due = 0;
                if (period > 0)
                {
                    if (run.Pacer is not null)
                    {
                        // No token on this wait: the pacer releases it within a period, or with −1 at the end.
                        due = await run.Pacer.NextAsync(stream);
                        if (due < 0)
                        {
                            break;
                        }

                        failed.Token.ThrowIfCancellationRequested();
                    }
                    else
                    {
                        due = first + (count * period);
                        if (due >= run.End)
                        {
                            break;
                        }

                        TimeSpan wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), due);
                        if (wait > TimeSpan.FromMilliseconds(0.5))
                        {
                            await Task.Delay(wait, failed.Token);
                        }
                    }

                    if (count >= Shared.Window)
                    {
                        await answered.WaitAsync(failed.Token);   // at most Window frames unanswered: a late server slows the sender
                    }
                }
                else if (Stopwatch.GetTimestamp() >= run.End)
                {
                    break;
                }

                SeededFrames.Fill(stream, count, frame.Span);
                frame.Sequence = (ulong)count;
                receiver.Sent[count] = Stopwatch.GetTimestamp();
                if (period > 0 && due >= run.WarmupEnd)
                {
                    run.SendError.RecordTicks(Math.Abs(receiver.Sent[count] - due));
                }

                await call.RequestStream.WriteAsync(frame, failed.Token);
                if (period == 0)
                {
                    if (!await call.ResponseStream.MoveNext(failed.Token))
                    {
                        throw new InvalidOperationException($"The call ended before frame {count} was answered.");
                    }

                    receiver.Take(call.ResponseStream.Current);
                }
            }

            Volatile.Write(ref run.SentBy[stream], count);
            await call.RequestStream.CompleteAsync();
            await (period == 0 ? Receive(call.ResponseStream, receiver, null, cancellationToken) : receiving);
        }
        catch (Exception e) when (e is RpcException or OperationCanceledException or InvalidOperationException && !cancellationToken.IsCancellationRequested)
        {
            Volatile.Write(ref run.SentBy[stream], count);
            try
            {
                await (period == 0 && e is not RpcException ? Receive(call.ResponseStream, receiver, null, cancellationToken) : receiving);
                run.Failed(stream, e is RpcException r ? r.Status : new Status(StatusCode.Unknown, e.Message));
            }
            catch (RpcException status)
            {
                run.Failed(stream, status.Status);
            }
        }
    }

    /// <summary>Reads the call's outputs to its end (counting each in <paramref name="answered"/>, if any).</summary>
    private static async Task Receive(IAsyncStreamReader<WireFrame> outputs, Receiver receiver, SemaphoreSlim? answered, CancellationToken cancellationToken)
    {
        while (await outputs.MoveNext(cancellationToken))
        {
            receiver.Take(outputs.Current);
            answered?.Release();
        }

        receiver.Finish();
    }

    /// <summary>One stream's outputs as they come: latency against the frame's send time, order, and the check.</summary>
    private sealed class Receiver
    {
        private readonly Shared _run;
        private readonly int _stream;
        private readonly RecurrentState? _state;
        private readonly float[] _input, _expected;
        private long _next;
        private bool _finished;

        public Receiver(Shared run, int stream)
        {
            _run = run;
            _stream = stream;
            Sent = new long[run.FramesPerStream];
            _state = run.Reference?.CreateState();
            _input = new float[run.Model.InputSize];
            _expected = new float[run.Model.OutputSize];
        }

        /// <summary>When each frame was sent (Stopwatch ticks).</summary>
        public long[] Sent { get; }

        /// <summary>Counts one output and returns its frame to the pool.</summary>
        public void Take(WireFrame output)
        {
            try
            {
                long now = Stopwatch.GetTimestamp();
                if (output.Error is not null || output.Sequence != (ulong)_next || _next >= Sent.Length)
                {
                    _run.OutOfOrder(_stream);
                    return;
                }

                if (Sent[_next] >= _run.WarmupEnd && now <= _run.End + (Stopwatch.Frequency * 5))
                {
                    _run.Record(now - Sent[_next]);
                }

                if (_state is not null)
                {
                    SeededFrames.Fill(_stream, _next, _input);
                    _run.Reference!.Step(_state, _input, _expected);
                    _run.Compare(_stream, _next, _expected, output.Span);
                }
            }
            finally
            {
                _next++;
                StreamingMethods.Pool.Return(output);
            }
        }

        /// <summary>The call has ended: its outputs count as received (once).</summary>
        public void Finish()
        {
            if (!_finished)
            {
                _finished = true;
                _run.Received(_next);
            }
        }
    }

    /// <summary>What the streams share: options, the latency histogram, counters.</summary>
    private sealed class Shared(LoadOptions options, ModelInfo model, RecurrentNetwork? reference)
    {
        public const int Window = 256;

        public LoadOptions Options { get; } = options;

        public ModelInfo Model { get; } = model;

        public RecurrentNetwork? Reference { get; } = reference;

        public LatencyHistogram Latency { get; } = new();

        public LatencyHistogram SendError { get; } = new();

        public FramePacer? Pacer { get; set; }

        public int[] SentBy { get; } = new int[options.Streams];

        public long Start, WarmupEnd, End;

        private long _received, _checked, _mismatches, _outOfOrder;
        private readonly List<string> _errors = [];

        public int FramesPerStream => (int)Math.Min(
            Options.Frames > 0 ? Options.Frames : int.MaxValue,
            Options.Rate > 0 ? Math.Ceiling(Options.Rate * Options.Seconds) + 1 : 1_000_000);

        public void Record(long ticks) => Latency.RecordTicks(ticks);

        public void Received(long frames) => Interlocked.Add(ref _received, frames);

        public void OutOfOrder(int stream) => Interlocked.Increment(ref _outOfOrder);

        public void Compare(int stream, long frame, float[] expected, ReadOnlySpan<float> output)
        {
            Interlocked.Increment(ref _checked);
            bool same = output.Length == expected.Length;
            for (int k = 0; same && k < expected.Length; k++)
            {
                same = BitConverter.SingleToInt32Bits(expected[k]) == BitConverter.SingleToInt32Bits(output[k]);
            }

            if (!same && Interlocked.Increment(ref _mismatches) == 1)
            {
                lock (_errors)
                {
                    _errors.Add($"stream {stream} frame {frame}: output differs from the direct run");
                }
            }
        }

        public void Failed(int stream, Status status)
        {
            lock (_errors)
            {
                _errors.Add($"stream {stream}: {status.StatusCode} {status.Detail}");
            }
        }

        public LoadReport Report(ModelInfo model, (MetricsSnapshot? Server, double ClientCpuSeconds) first, (MetricsSnapshot? Server, double ClientCpuSeconds) last, double seconds)
        {
            MetricsSnapshot? before = first.Server, after = last.Server;
            long frames = Latency.Count;
            long serverSteps = before is null || after is null ? 0 : after.Steps - before.Steps;
            lock (_errors)
            {
                return new LoadReport
                {
                    Mode = model.Mode,
                    Model = model.Source,
                    Streams = Options.Streams,
                    RatePerStream = Options.Rate,
                    Pacing = Options.Rate == 0 ? "closed loop" : Options.Pacing == LoadGenerator.Pacing.Pacer ? "pacer" : "timers",
                    Seconds = Options.Seconds,
                    MeasuredSeconds = seconds,
                    FramesSent = SentBy.Sum(n => (long)n),
                    FramesReceived = Interlocked.Read(ref _received),
                    FramesMeasured = frames,
                    FramesPerSecond = frames / seconds,
                    LatencyP50Us = Latency.Quantile(0.50) / 1e3,
                    LatencyP99Us = Latency.Quantile(0.99) / 1e3,
                    LatencyP999Us = Latency.Quantile(0.999) / 1e3,
                    LatencyMaxUs = Latency.MaxNanoseconds / 1e3,
                    SendErrorP50Us = SendError.Quantile(0.50) / 1e3,
                    SendErrorP99Us = SendError.Quantile(0.99) / 1e3,
                    SendErrorMaxUs = SendError.MaxNanoseconds / 1e3,
                    ServerSteps = serverSteps,
                    ServerStepP50Us = after?.StepLatencyP50Us ?? 0,
                    ServerStepP99Us = after?.StepLatencyP99Us ?? 0,
                    ServerStepP999Us = after?.StepLatencyP999Us ?? 0,
                    Gen0 = after is null || before is null ? -1 : after.Gen0Collections - before.Gen0Collections,
                    Gen1 = after is null || before is null ? -1 : after.Gen1Collections - before.Gen1Collections,
                    Gen2 = after is null || before is null ? -1 : after.Gen2Collections - before.Gen2Collections,
                    ServerBytesPerFrame = serverSteps == 0 ? 0 : (after!.AllocatedBytes - before!.AllocatedBytes) / (double)serverSteps,
                    EngineBytesPerFrame = serverSteps == 0 ? 0 : (after!.EngineAllocatedBytes - before!.EngineAllocatedBytes) / (double)serverSteps,
                    ServerCpuUsPerFrame = serverSteps == 0 ? 0 : (after!.CpuSeconds - before!.CpuSeconds) * 1e6 / serverSteps,
                    EngineUsPerFrame = serverSteps == 0 ? 0 : (after!.EngineSeconds - before!.EngineSeconds) * 1e6 / serverSteps,
                    ClientCpuUsPerFrame = serverSteps == 0 ? 0 : (last.ClientCpuSeconds - first.ClientCpuSeconds) * 1e6 / serverSteps,
                    MeanBatchSize = after?.MeanBatchSize ?? 0,
                    Checked = Interlocked.Read(ref _checked),
                    Mismatches = Interlocked.Read(ref _mismatches),
                    OutOfOrder = Interlocked.Read(ref _outOfOrder),
                    Errors = [.. _errors],
                };
            }
        }
    }
}
