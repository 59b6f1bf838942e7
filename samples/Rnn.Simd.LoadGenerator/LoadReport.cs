using System.Globalization;
using System.Text;

namespace Rnn.Simd.LoadGenerator;

/// <summary>What a load run measured (latencies in µs, over the window after the warm-up).</summary>
public sealed record LoadReport
{
    /// <summary>The server's mode.</summary>
    public string Mode { get; init; } = "";

    /// <summary>The server's model.</summary>
    public string Model { get; init; } = "";

    /// <summary>Concurrent streams.</summary>
    public int Streams { get; init; }

    /// <summary>Frames per second per stream asked for (0: closed loop).</summary>
    public double RatePerStream { get; init; }

    /// <summary>What timed the frames: "pacer", "timers", or "closed loop".</summary>
    public string Pacing { get; init; } = "";

    /// <summary>The run's length asked for.</summary>
    public double Seconds { get; init; }

    /// <summary>The measured window's length.</summary>
    public double MeasuredSeconds { get; init; }

    /// <summary>Frames sent in the whole run.</summary>
    public long FramesSent { get; init; }

    /// <summary>Outputs received in the whole run.</summary>
    public long FramesReceived { get; init; }

    /// <summary>Frames sent in the measured window and answered.</summary>
    public long FramesMeasured { get; init; }

    /// <summary><see cref="FramesMeasured"/> per second of the window.</summary>
    public double FramesPerSecond { get; init; }

    /// <summary>Per-frame latency, sent → output received.</summary>
    public double LatencyP50Us { get; init; }

    /// <summary>See <see cref="LatencyP50Us"/>.</summary>
    public double LatencyP99Us { get; init; }

    /// <summary>See <see cref="LatencyP50Us"/>.</summary>
    public double LatencyP999Us { get; init; }

    /// <summary>See <see cref="LatencyP50Us"/>.</summary>
    public double LatencyMaxUs { get; init; }

    /// <summary>Open loop: how far from their due times frames left, early or late (the pacing's error; latency counts from the actual send), p50.</summary>
    public double SendErrorP50Us { get; init; }

    /// <summary>See <see cref="SendErrorP50Us"/>.</summary>
    public double SendErrorP99Us { get; init; }

    /// <summary>See <see cref="SendErrorP50Us"/>.</summary>
    public double SendErrorMaxUs { get; init; }

    /// <summary>The server's own step latency (its handler's step call to the step's completion: the batcher's share), p50, since the server's start, warm-up included (from /metrics); 0 in-process.</summary>
    public double ServerStepP50Us { get; init; }

    /// <summary>See <see cref="ServerStepP50Us"/>.</summary>
    public double ServerStepP99Us { get; init; }

    /// <summary>See <see cref="ServerStepP50Us"/>.</summary>
    public double ServerStepP999Us { get; init; }

    /// <summary>Steps the server took in the window (from /metrics).</summary>
    public long ServerSteps { get; init; }

    /// <summary>The server's collections in the window, per generation (−1: /metrics unread).</summary>
    public int Gen0 { get; init; }

    /// <summary>See <see cref="Gen0"/>.</summary>
    public int Gen1 { get; init; }

    /// <summary>See <see cref="Gen0"/>.</summary>
    public int Gen2 { get; init; }

    /// <summary>Bytes the whole server process allocated per step in the window (gRPC, Kestrel and the engine).</summary>
    public double ServerBytesPerFrame { get; init; }

    /// <summary>Bytes allocated inside the engine's calls per step in the window.</summary>
    public double EngineBytesPerFrame { get; init; }

    /// <summary>The server's CPU time per step in the window (all its threads: gRPC, Kestrel, the engine), µs.</summary>
    public double ServerCpuUsPerFrame { get; init; }

    /// <summary>The engine's wall time per step in the window (batched steps' durations, or the streams' Step calls; time a thread waits for a core counts), µs.</summary>
    public double EngineUsPerFrame { get; init; }

    /// <summary>The load generator's own CPU time per server step in the window (its gRPC client, the frames, the check), µs: on one machine it shares the cores with the server.</summary>
    public double ClientCpuUsPerFrame { get; init; }

    /// <summary>Streams per batched step (the server's since its start).</summary>
    public double MeanBatchSize { get; init; }

    /// <summary>Outputs compared with the direct run (check mode).</summary>
    public long Checked { get; init; }

    /// <summary>Outputs whose bits differ from the direct run.</summary>
    public long Mismatches { get; init; }

    /// <summary>Outputs whose sequence number was not the next one.</summary>
    public long OutOfOrder { get; init; }

    /// <summary>Failed calls and the first mismatch, one line each.</summary>
    public IReadOnlyList<string> Errors { get; init; } = [];

    /// <summary>The report as a Markdown table (one row) and the error lines.</summary>
    public string ToTable()
    {
        var text = new StringBuilder();
        text.AppendLine("| mode | streams | rate/stream | frames/s | p50 ms | p99 ms | p99.9 ms | max ms | gen0 | gen1 | gen2 | server B/frame | engine B/frame | server CPU µs/frame | engine wall µs/frame | client CPU µs/frame | batch | send error p99 ms | checked | mismatches |");
        text.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"| {Mode} | {Streams} | {(RatePerStream > 0 ? RatePerStream.ToString("G4", CultureInfo.InvariantCulture) : "max")} | {FramesPerSecond:F0} | {LatencyP50Us / 1e3:F3} | {LatencyP99Us / 1e3:F3} | {LatencyP999Us / 1e3:F3} | {LatencyMaxUs / 1e3:F1} | {Gen0} | {Gen1} | {Gen2} | {ServerBytesPerFrame:F0} | {EngineBytesPerFrame:F1} | {ServerCpuUsPerFrame:F1} | {EngineUsPerFrame:F1} | {ClientCpuUsPerFrame:F1} | {MeanBatchSize:F1} | {SendErrorP99Us / 1e3:F3} | {Checked} | {Mismatches} |"));
        foreach (string error in Errors)
        {
            text.AppendLine(error);
        }

        return text.ToString();
    }
}
