using System.Net;
using Rnn.Simd.StreamingProtocol;

namespace Rnn.Simd.LoadGenerator;

/// <summary>A load run: where, how many streams, how fast, how long, and whether to check every output.</summary>
public sealed record LoadOptions
{
    /// <summary>The most concurrent streams a run opens.</summary>
    public const int StreamLimit = 4096;

    /// <summary>The longest run, in seconds.</summary>
    public const double SecondsLimit = 3600;

    /// <summary>The server's address: 127.0.0.1 only.</summary>
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>The server's port.</summary>
    public int Port { get; init; } = 5077;

    /// <summary>Concurrent streams (1 … <see cref="StreamLimit"/>).</summary>
    public int Streams { get; init; } = 64;

    /// <summary>Frames per second per stream; 0 sends each stream's next frame as soon as its previous output is back.</summary>
    public double Rate { get; init; } = 50;

    /// <summary>The run's length: sending stops after this many seconds (warm-up included).</summary>
    public double Seconds { get; init; } = 10;

    /// <summary>Seconds at the start not measured (JIT, pools, the batcher's buffers growing).</summary>
    public double WarmupSeconds { get; init; } = 2;

    /// <summary>Frames per stream at most (0: as many as the time allows).</summary>
    public int Frames { get; init; }

    /// <summary>HTTP/2 connections the streams spread over.</summary>
    public int Connections { get; init; } = 4;

    /// <summary>Check every output against a direct run of the network in this process.</summary>
    public bool Check { get; init; }

    /// <summary>The model file the server was started with (for the check), or null for the seeded LSTM.</summary>
    public string? ModelPath { get; init; }

    /// <summary>"batched" or "per-stream": run the engine's side in this process, without gRPC or a server (see <see cref="InProcessRun"/>); null: load the server.</summary>
    public string? InProcess { get; init; }

    /// <summary>In-process batched runs: threads of each batched step (the batcher's loop thread and <c>Threads − 1</c> workers), as the service's threads option.</summary>
    public int Threads { get; init; } = 1;

    /// <summary>In-process batched runs: independent batchers, the streams dealt out among them, as the service's batchers option.</summary>
    public int Batchers { get; init; } = 1;

    /// <summary>In-process batched runs: the most streams a batched step takes, as the service's max-batch option.</summary>
    public int MaxBatch { get; init; } = 256;

    /// <summary>In-process batched runs: how long the batcher waits for more streams, as the service's max-delay-ms option.</summary>
    public int MaxDelayMs { get; init; }

    /// <summary>In-process batched runs: continuations inline on the batcher's loop thread, as the service's continuations option set to inline.</summary>
    public bool InlineContinuations { get; init; }

    /// <summary>Open loop: what times the frames (see <see cref="LoadGenerator.Pacing"/>). Default <see cref="Pacing.Pacer"/>.</summary>
    public Pacing Pacing { get; init; } = Pacing.Pacer;

    /// <summary>Where to write the report as JSON, or null.</summary>
    public string? JsonPath { get; init; }

    /// <summary>Reads the command line (see <see cref="Usage"/>).</summary>
    /// <exception cref="ArgumentException">An unknown option, a bad value, or a host other than 127.0.0.1.</exception>
    public static LoadOptions Parse(IReadOnlyList<string> args)
    {
        var options = new LoadOptions();
        var reader = new OptionReader(args);
        bool rateGiven = false;
        while (reader.MoveNext())
        {
            options = reader.Name switch
            {
                "--host" => options with { Host = reader.Value() },
                "--port" => options with { Port = reader.Integer(1, 65535) },
                "--streams" => options with { Streams = reader.Integer(1, StreamLimit) },
                "--rate" => options with { Rate = RateOf(reader, ref rateGiven) },
                "--seconds" => options with { Seconds = reader.Number(0.1, SecondsLimit) },
                "--warmup" => options with { WarmupSeconds = reader.Number(0, SecondsLimit) },
                "--frames" => options with { Frames = reader.Integer(0, int.MaxValue) },
                "--connections" => options with { Connections = reader.Integer(1, 64) },
                "--check" => options with { Check = true },
                "--model" => options with { ModelPath = reader.Value() },
                "--json" => options with { JsonPath = reader.Value() },
                "--in-process" => options with { InProcess = reader.Value() },
                "--threads" => options with { Threads = reader.Integer(1, 64) },
                "--batchers" => options with { Batchers = reader.Integer(1, 16) },
                "--max-batch" => options with { MaxBatch = reader.Integer(1, StreamLimit) },
                "--max-delay-ms" => options with { MaxDelayMs = reader.Integer(0, 1000) },
                "--continuations" => options with { InlineContinuations = reader.Either("inline", "thread-pool") },
                "--pacing" => options with { Pacing = reader.Either("timers", "pacer") ? Pacing.Timers : Pacing.Pacer },
                _ => throw new ArgumentException($"Unknown option '{reader.Name}'.\n{Usage}"),
            };
        }

        if (options.InProcess is not null && !rateGiven)
        {
            options = options with { Rate = 0 };   // in-process runs are closed loop unless a rate is asked for
        }

        options.Validate();
        return options;
    }

    private static double RateOf(OptionReader reader, ref bool given)
    {
        given = true;
        return reader.Number(0, 100_000);
    }

    /// <summary>The command line's options.</summary>
    public static string Usage =>
        "Options: --port N (5077) --streams N (64, at most 4096) --rate FRAMES_PER_S_PER_STREAM (50; 0 = next frame when the last output is back) "
        + "--seconds S (10) --warmup S (2) --frames N (0 = no limit) --connections N (4) --check --model FILE --json OUT --host 127.0.0.1 "
        + "--in-process batched|per-stream (no server: the engine and its awaits alone, closed loop) "
        + "--pacing pacer|timers (open loop: one thread releasing the frames at their due times, or the old timer a stream)";

    /// <summary>Refuses what a run must never do: another host, too many streams, no end.</summary>
    /// <exception cref="ArgumentException">The message names the option.</exception>
    public void Validate()
    {
        if (!IPAddress.TryParse(Host, out IPAddress? address) || !address.Equals(IPAddress.Loopback))
        {
            throw new ArgumentException($"--host must be 127.0.0.1 (this tool loads the loopback address only), was '{Host}'.");
        }

        if (Streams is < 1 or > StreamLimit)
        {
            throw new ArgumentException($"--streams must be from 1 to {StreamLimit}, was {Streams}.");
        }

        if (!(Seconds > 0 && Seconds <= SecondsLimit) || !(WarmupSeconds >= 0 && WarmupSeconds < Seconds))
        {
            throw new ArgumentException($"--seconds must be in (0, {SecondsLimit}] and --warmup below it, were {Seconds} and {WarmupSeconds}.");
        }

        if (InProcess is not null and not "batched" and not "per-stream")
        {
            throw new ArgumentException($"--in-process must be batched or per-stream, was '{InProcess}'.");
        }

        if (Threads is < 1 or > 64 || Batchers is < 1 or > 16 || MaxBatch < 1 || MaxDelayMs is < 0 or > 1000)
        {
            throw new ArgumentException($"--threads must be from 1 to 64, --batchers from 1 to 16, --max-batch at least 1 and --max-delay-ms from 0 to 1000, were {Threads}, {Batchers}, {MaxBatch} and {MaxDelayMs}.");
        }

        if (!(Rate >= 0) || Connections < 1 || Frames < 0)
        {
            throw new ArgumentException("--rate, --connections and --frames must be non-negative (--connections at least 1).");
        }
    }
}

/// <summary>What times an open-loop run's frames.</summary>
public enum Pacing
{
    /// <summary>One <see cref="FramePacer"/> thread releases every stream's frames at their due times (to within ≈ 1 ms).</summary>
    Pacer,

    /// <summary>A .NET timer a stream (<see cref="PeriodicTimer"/> in-process, <see cref="Task.Delay(TimeSpan)"/> to the server), as before: they fire together once a kernel tick (4 ms on this machine's kernel), in bursts.</summary>
    Timers,
}
