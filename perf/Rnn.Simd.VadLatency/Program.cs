using System.Buffers.Binary;
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Rnn.Simd.Audio;
using Rnn.Simd.Import.Onnx;
using Rnn.Simd.Kernels;

namespace Rnn.Simd.VadLatency;

/// <summary>
/// <c>dotnet run -c Release --project perf/Rnn.Simd.VadLatency</c>: Silero VAD (v5 by default) through
/// <see cref="VoiceActivityDetector"/> on one thread, frame after frame of real speech (the committed recording,
/// looped): the per-frame latency's percentiles and the bytes allocated; then the real-time factor of what
/// <c>rnn-simd vad</c> does (read the WAV, every frame, the segments) over the recording repeated to a minute, which
/// <c>--long-wav FILE</c> also writes for timing the command itself.
/// </summary>
internal static class Program
{
    private static int Main(string[] args)
    {
        var model = new Option<string?>("--model") { Description = "The .onnx file (default: silero_vad_v5.onnx in RNN_SIMD_SILERO_DIR or artifacts/silero)." };
        var wav = new Option<string?>("--wav") { Description = "The speech (default: tests/Rnn.Simd.Tests/Audio/Speech/speech-16k.wav)." };
        var frames = new Option<int>("--frames") { Description = "Frames timed one by one.", DefaultValueFactory = _ => 100_000 };
        var warmUp = new Option<int>("--warm-up") { Description = "Frames run before timing.", DefaultValueFactory = _ => 20_000 };
        var seconds = new Option<double>("--long-seconds") { Description = "Length of the long recording for the real-time factor.", DefaultValueFactory = _ => 60 };
        var longWav = new Option<string?>("--long-wav") { Description = "Also write the long recording here (to time rnn-simd vad on it)." };
        var command = new RootCommand("Per-frame latency of Silero VAD through VoiceActivityDetector, and the real-time factor over a long recording.")
        {
            model, wav, frames, warmUp, seconds, longWav,
        };
        command.SetAction(r => Run(r.GetValue(model), r.GetValue(wav), r.GetValue(frames), r.GetValue(warmUp), r.GetValue(seconds), r.GetValue(longWav)));
        ParseResult parsed = command.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            Console.Error.WriteLine($"vad-latency: {string.Join("; ", parsed.Errors.Select(e => e.Message))}");
            return 2;
        }

        try
        {
            return parsed.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (Exception e) when (e is ArgumentException or IOException or InvalidDataException)
        {
            Console.Error.WriteLine($"vad-latency: {e.Message}");
            return 1;
        }
    }

    private static int Run(string? modelPath, string? wavPath, int frameCount, int warmUp, double longSeconds, string? longWav)
    {
        if (frameCount < 1 || warmUp < 0 || !(longSeconds > 0 && longSeconds <= 3600))
        {
            throw new ArgumentException("--frames must be ≥ 1, --warm-up ≥ 0 and --long-seconds in (0, 3600].");
        }

        string root = RepositoryRoot();
        modelPath ??= Path.Combine(Environment.GetEnvironmentVariable("RNN_SIMD_SILERO_DIR") is { Length: > 0 } dir ? dir : Path.Combine(root, "artifacts", "silero"), "silero_vad_v5.onnx");
        wavPath ??= Path.Combine(root, "tests", "Rnn.Simd.Tests", "Audio", "Speech", "speech-16k.wav");
        if (!File.Exists(modelPath))
        {
            throw new IOException($"{modelPath} is absent: run tools/silero/fetch (or pass --model).");
        }

        WavAudio speech = WavReader.Read(wavPath);
        var detector = new VoiceActivityDetector(OnnxModel.Load(modelPath), speech.SampleRate);
        int n = detector.FrameSamples, available = speech.Samples.Length / n;
        Console.WriteLine($"{Path.GetFileName(modelPath)} at {speech.SampleRate} Hz, frames of {n} samples; {Hardware.VectorPath} path; {Environment.ProcessorCount} logical CPUs; one thread");

        // Latency: one stream, frames of the recording in a loop, each call timed alone.
        VoiceActivityStream stream = detector.CreateStream();
        for (int i = 0; i < warmUp; i++)
        {
            detector.Process(stream, speech.Samples.AsSpan(i % available * n, n));
        }

        var ticks = new long[frameCount];
        float sink = 0;
        long allocated = GC.GetAllocatedBytesForCurrentThread();
        int collections = GC.CollectionCount(0);
        for (int i = 0; i < frameCount; i++)
        {
            ReadOnlySpan<float> frame = speech.Samples.AsSpan(i % available * n, n);
            long start = Stopwatch.GetTimestamp();
            sink += detector.Process(stream, frame);
            ticks[i] = Stopwatch.GetTimestamp() - start;
        }

        allocated = GC.GetAllocatedBytesForCurrentThread() - allocated;
        collections = GC.CollectionCount(0) - collections;
        double[] micros = [.. ticks.Select(t => t * 1e6 / Stopwatch.Frequency).Order()];
        double Percentile(double p) => micros[Math.Min(micros.Length - 1, (int)Math.Ceiling(p / 100 * micros.Length) - 1)];
        double frameMicros = n * 1e6 / speech.SampleRate;
        Console.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"latency per frame over {frameCount} frames: p50 {Percentile(50):F1} µs, p99 {Percentile(99):F1} µs, p99.9 {Percentile(99.9):F1} µs, max {micros[^1]:F1} µs, mean {micros.Average():F1} µs " +
            $"(a frame is {frameMicros:F0} µs of audio: p50 is {Percentile(50) / frameMicros:F4} of real time)"));
        Console.WriteLine($"allocated: {allocated} bytes in {frameCount} frames ({(double)allocated / frameCount:F2} per frame), {collections} gen-0 collections; (checksum {sink:F3})");

        // The real-time factor of rnn-simd vad's work over the recording repeated to the long length.
        int repeats = (int)Math.Ceiling(longSeconds / speech.DurationSeconds);
        float[] longSignal = new float[repeats * speech.Samples.Length];
        for (int r = 0; r < repeats; r++)
        {
            speech.Samples.CopyTo(longSignal, r * speech.Samples.Length);
        }

        string file = longWav ?? Path.Combine(Path.GetTempPath(), $"rnn-simd-vad-long-{Environment.ProcessId}.wav");
        WriteWav(file, longSignal, speech.SampleRate);
        try
        {
            double best = double.MaxValue;
            int segments = 0;
            double duration = 0;
            for (int run = 0; run < 3; run++)
            {
                long start = Stopwatch.GetTimestamp();
                WavAudio audio = WavReader.Read(file);
                var probabilities = new float[detector.FrameCount(audio.Samples.Length)];
                detector.Process(detector.CreateStream(), audio.Samples, probabilities);
                segments = SpeechSegmenter.Segment(probabilities, audio.Samples.Length, audio.SampleRate, n).Length;
                best = Math.Min(best, Stopwatch.GetElapsedTime(start).TotalSeconds);
                duration = audio.DurationSeconds;
            }

            Console.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"real-time factor over {duration:F1} s ({repeats} × the recording; read, every frame, segments; best of 3): {best / duration:F4} ({best * 1000:F0} ms), {segments} segments"));
        }
        finally
        {
            if (longWav is null)
            {
                File.Delete(file);
            }
        }

        return 0;
    }

    /// <summary>A 16-bit PCM mono WAV file of <paramref name="samples"/> (clamped to [−1, 1)).</summary>
    private static void WriteWav(string path, float[] samples, int rate)
    {
        var bytes = new byte[44 + (2 * samples.Length)];
        "RIFF"u8.CopyTo(bytes);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(4), (uint)(bytes.Length - 8));
        "WAVEfmt "u8.CopyTo(bytes.AsSpan(8));
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(16), 16);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(20), 1);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(22), 1);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(24), (uint)rate);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(28), (uint)(2 * rate));
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(32), 2);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(34), 16);
        "data"u8.CopyTo(bytes.AsSpan(36));
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(40), (uint)(2 * samples.Length));
        for (int i = 0; i < samples.Length; i++)
        {
            BinaryPrimitives.WriteInt16LittleEndian(bytes.AsSpan(44 + (2 * i)), (short)Math.Clamp(Math.Round(samples[i] * 32768.0), -32768, 32767));
        }

        File.WriteAllBytes(path, bytes);
    }

    private static string RepositoryRoot()
    {
        for (string? dir = AppContext.BaseDirectory; dir is not null; dir = Path.GetDirectoryName(dir))
        {
            if (File.Exists(Path.Combine(dir, "Rnn.Simd.sln")))
            {
                return dir;
            }
        }

        return Directory.GetCurrentDirectory();
    }
}
