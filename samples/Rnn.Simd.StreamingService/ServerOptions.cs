using Rnn.Simd.StreamingProtocol;

namespace Rnn.Simd.StreamingService;

/// <summary>How the service serves: <c>--mode batched|per-stream</c> and the rest of its command line.</summary>
public sealed record ServerOptions
{
    /// <summary>The most streams (calls) open at once; more are refused with RESOURCE_EXHAUSTED.</summary>
    public const int StreamLimit = 4096;

    /// <summary>The loopback port (0 picks a free one).</summary>
    public int Port { get; init; } = 5077;

    /// <summary>True: every stream's steps go through one <see cref="Serving.AsyncStreamBatcher"/>; false: each
    /// stream steps alone with <see cref="Layers.RecurrentNetwork.Step"/> on the thread pool.</summary>
    public bool Batched { get; init; } = true;

    /// <summary>A PyTorch state dict (safetensors), or null for the seeded LSTM.</summary>
    public string? ModelPath { get; init; }

    /// <summary>Streams open at once, at most (1 … <see cref="StreamLimit"/>).</summary>
    public int MaxStreams { get; init; } = 1024;

    /// <summary>Batched mode: stream slots made at the start (the pool grows past them when needed), so a ramp of that many streams allocates no slots.</summary>
    public int Slots { get; init; }

    /// <summary>The batcher's most streams per batched step.</summary>
    public int MaxBatch { get; init; } = 256;

    /// <summary>
    /// How long the batcher waits for more streams once one is ready. Zero by default: with hundreds of streams the
    /// batches form while the loop is busy with the previous one, and a wait only adds latency (measured:
    /// perf/results/serving.md).
    /// </summary>
    public TimeSpan MaxDelay { get; init; } = TimeSpan.Zero;

    /// <summary>Threads of each batched step's products (1: the batcher's loop thread only; above 1, a team per batcher).</summary>
    public int Threads { get; init; } = 1;

    /// <summary>Batched mode: independent batchers, each with its own loop thread and streams (1 … 16; see <see cref="StreamEngine"/>).</summary>
    public int Batchers { get; init; } = 1;

    /// <summary>
    /// Batched mode: true runs each stream's code after its step (the reply's write, the next frame's read) inline on
    /// the batcher's loop thread; false hands it to the thread pool (see
    /// <see cref="Serving.AsyncStreamBatcherOptions.RunContinuationsAsynchronously"/>).
    /// </summary>
    public bool InlineContinuations { get; init; }

    /// <summary>Collect the heap once after each ramp of streams (see <see cref="HeapSettler"/>); the settle-heap option's "off" turns it off.</summary>
    public bool SettleHeap { get; init; } = true;

    /// <summary>The mode's name as the command line and the metrics spell it.</summary>
    public string ModeName => Batched ? "batched" : "per-stream";

    /// <summary>Reads the command line: port, mode (batched or per-stream), model, max-streams, slots, max-batch, max-delay-ms, threads, batchers, continuations (inline or thread-pool), settle-heap (on or off), each written with two leading dashes and followed by its value.</summary>
    /// <exception cref="ArgumentException">An unknown option or a bad value (the message names it).</exception>
    public static ServerOptions Parse(IReadOnlyList<string> args)
    {
        var options = new ServerOptions();
        var reader = new OptionReader(args);
        while (reader.MoveNext())
        {
            options = reader.Name switch
            {
                "--port" => options with { Port = reader.Integer(0, 65535) },
                "--mode" => options with { Batched = reader.Either("batched", "per-stream") },
                "--model" => options with { ModelPath = reader.Value() },
                "--max-streams" => options with { MaxStreams = reader.Integer(1, StreamLimit) },
                "--max-batch" => options with { MaxBatch = reader.Integer(1, StreamLimit) },
                "--slots" => options with { Slots = reader.Integer(0, StreamLimit) },
                "--max-delay-ms" => options with { MaxDelay = TimeSpan.FromMilliseconds(reader.Integer(0, 1000)) },
                "--threads" => options with { Threads = reader.Integer(1, 64) },
                "--batchers" => options with { Batchers = reader.Integer(1, 16) },
                "--settle-heap" => options with { SettleHeap = reader.Either("on", "off") },
                "--continuations" => options with { InlineContinuations = reader.Either("inline", "thread-pool") },
                _ => throw new ArgumentException($"Unknown option '{reader.Name}'. Options: --port, --mode, --model, --max-streams, --slots, --max-batch, --max-delay-ms, --threads, --batchers, --continuations, --settle-heap."),
            };
        }

        return options;
    }
}
