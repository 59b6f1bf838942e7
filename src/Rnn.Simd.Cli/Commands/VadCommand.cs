using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Rnn.Simd.Audio;
using Rnn.Simd.Import.Onnx;

namespace Rnn.Simd.Cli.Commands;

/// <summary>
/// <c>rnn-simd vad</c>: Silero VAD (an .onnx file: v5, v6 or legacy) on a WAV file (16-bit PCM mono at 16000 or 8000
/// Hz). Prints one speech segment per line ("start end", in seconds) and, on standard error, a summary with the
/// real-time factor (processing time / audio duration); <c>--json</c> also writes every frame's probability.
/// </summary>
internal static class VadCommand
{
    public static Command Create()
    {
        var model = new Option<FileInfo>("--model") { Description = "Silero VAD's ONNX file: silero_vad_v5.onnx, _v6 or _legacy (bash tools/silero/fetch prints where they are).", Required = true };
        var wav = new Option<FileInfo>("--wav") { Description = "The audio: a WAV file, 16-bit PCM mono at 16000 or 8000 Hz.", Required = true };
        var threshold = new Option<double>("--threshold") { Description = "Speech probability threshold, in (0, 1); silence below it minus 0.15.", DefaultValueFactory = _ => 0.5 };
        var json = new Option<FileInfo?>("--json") { Description = "Also write sample_rate, frame_samples, every frame's probability and the segments to this JSON file." };
        var command = new Command("vad", "Find the speech in a WAV file with Silero VAD: one \"start end\" line (seconds) per segment; the real-time factor on stderr.")
        {
            model, wav, threshold, json,
        };
        command.SetAction(result => Run(result.GetValue(model)!, result.GetValue(wav)!, result.GetValue(threshold), result.GetValue(json), Console.Out, Console.Error));
        return command;
    }

    internal static int Run(FileInfo modelFile, FileInfo wavFile, double threshold, FileInfo? jsonFile, TextWriter output, TextWriter error)
    {
        if (!(threshold > 0 && threshold < 1))
        {
            throw new ArgumentException($"--threshold must be a probability in (0, 1), was {threshold.ToString(CultureInfo.InvariantCulture)}.");
        }

        WavAudio audio = WavReader.Read(wavFile.FullName);
        var detector = new VoiceActivityDetector(OnnxModel.Load(modelFile.FullName), audio.SampleRate);
        var options = new SpeechSegmenterOptions { Threshold = threshold };

        long started = Stopwatch.GetTimestamp();
        var probabilities = new float[detector.FrameCount(audio.Samples.Length)];
        detector.Process(detector.CreateStream(), audio.Samples, probabilities);
        SpeechSegment[] segments = SpeechSegmenter.Segment(probabilities, audio.Samples.Length, audio.SampleRate, detector.FrameSamples, options);
        TimeSpan elapsed = Stopwatch.GetElapsedTime(started);

        foreach (SpeechSegment s in segments)
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{s.StartSeconds:F3} {s.EndSeconds:F3}"));
        }

        if (jsonFile is not null)
        {
            WriteJson(jsonFile, detector, probabilities, segments);
        }

        double factor = audio.DurationSeconds > 0 ? elapsed.TotalSeconds / audio.DurationSeconds : 0;
        error.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"{wavFile.Name}: {audio.DurationSeconds:F2} s at {audio.SampleRate} Hz, {probabilities.Length} frames of {detector.FrameSamples} samples, " +
            $"{segments.Length} speech segment{(segments.Length == 1 ? "" : "s")} (Silero {(detector.IsLegacy ? "legacy" : "v5/v6")}); " +
            $"real-time factor {factor:F4} ({elapsed.TotalMilliseconds:F1} ms for {audio.DurationSeconds:F2} s)"));
        return 0;
    }

    private static void WriteJson(FileInfo file, VoiceActivityDetector detector, float[] probabilities, SpeechSegment[] segments)
    {
        using FileStream stream = File.Create(file.FullName);
        using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = false });
        json.WriteStartObject();
        json.WriteNumber("sample_rate", detector.SampleRate);
        json.WriteNumber("frame_samples", detector.FrameSamples);
        json.WriteStartArray("probabilities");
        foreach (float p in probabilities)
        {
            json.WriteNumberValue(p);
        }

        json.WriteEndArray();
        json.WriteStartArray("segments");
        foreach (SpeechSegment s in segments)
        {
            json.WriteStartObject();
            json.WriteNumber("start", s.StartSeconds);
            json.WriteNumber("end", s.EndSeconds);
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteEndObject();
    }
}
