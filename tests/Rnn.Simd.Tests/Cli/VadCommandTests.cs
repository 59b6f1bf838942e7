using System.Globalization;
using System.Text.Json;
using Rnn.Simd.Audio;
using Rnn.Simd.Import.Onnx;
using Rnn.Simd.Tests.Audio;
using Rnn.Simd.Tests.Import;
using Rnn.Simd.Tests.Infrastructure;

namespace Rnn.Simd.Tests.Cli;

/// <summary>
/// <c>rnn-simd vad --model M.onnx --wav F.wav [--threshold P] [--json OUT]</c> end to end on the committed speech with
/// Silero's real models: the printed segments and the JSON file are the library's (<see cref="VoiceActivityDetector"/>
/// and <see cref="SpeechSegmenter"/> called directly), and the summary on standard error gives the real-time factor.
/// Bad invocations are rows of <see cref="OptionValidationTests"/>.
/// </summary>
[Trait("Category", "Cli")]
[Collection(NonParallelCollection.Name)] // redirects Console.Out and Console.Error
public sealed class VadCommandTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("rnn-simd-vad-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    public static TheoryData<string, int, double> Runs() => new()
    {
        { SileroFiles.V5, 16000, 0.5 }, { SileroFiles.Legacy, 8000, 0.5 }, { SileroFiles.V6, 16000, 0.8 },
    };

    [SkippableTheory]
    [MemberData(nameof(Runs))]
    public void Vad_PrintsTheLibrarysSegments_WritesTheJson_AndTheRealTimeFactor(string file, int rate, double threshold)
    {
        string model = SileroFiles.Path(file);
        string wav = Path.Combine(AppContext.BaseDirectory, "Audio", "Speech", rate == 16000 ? "speech-16k.wav" : "speech-8k.wav");
        string json = Path.Combine(_directory, "vad.json");
        string[] args = ["vad", "--model", model, "--wav", wav, "--json", json];
        if (threshold != 0.5)
        {
            args = [.. args, "--threshold", threshold.ToString(CultureInfo.InvariantCulture)];
        }

        (int code, string stdout, string stderr) = Capture(args);
        Assert.True(code == 0, stderr);

        // The library, called directly.
        var detector = new VoiceActivityDetector(OnnxModel.Load(model), rate);
        float[] signal = WavReader.Read(wav).Samples;
        var probabilities = new float[detector.FrameCount(signal.Length)];
        detector.Process(detector.CreateStream(), signal, probabilities);
        SpeechSegment[] segments = SpeechSegmenter.Segment(probabilities, signal.Length, rate, detector.FrameSamples, new SpeechSegmenterOptions { Threshold = threshold });
        Assert.NotEmpty(segments);

        string[] expectedLines = [.. segments.Select(s => string.Create(CultureInfo.InvariantCulture, $"{s.StartSeconds:F3} {s.EndSeconds:F3}"))];
        Assert.Equal(expectedLines, stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

        using JsonDocument document = JsonDocument.Parse(File.ReadAllText(json));
        JsonElement root = document.RootElement;
        Assert.Equal(["sample_rate", "frame_samples", "probabilities", "segments"], root.EnumerateObject().Select(p => p.Name));
        Assert.Equal(rate, root.GetProperty("sample_rate").GetInt32());
        Assert.Equal(detector.FrameSamples, root.GetProperty("frame_samples").GetInt32());
        Assert.Equal(probabilities, root.GetProperty("probabilities").EnumerateArray().Select(p => p.GetSingle()));
        Assert.Equal(
            segments.Select(s => (s.StartSeconds, s.EndSeconds)),
            root.GetProperty("segments").EnumerateArray().Select(s => (s.GetProperty("start").GetDouble(), s.GetProperty("end").GetDouble())));

        string summary = stderr.Trim();
        Assert.DoesNotContain('\n', summary);
        Assert.Contains($"{Path.GetFileName(wav)}: 11.55 s at {rate} Hz, {probabilities.Length} frames of {detector.FrameSamples} samples, {segments.Length} speech segments", summary, StringComparison.Ordinal);
        Assert.Contains(detector.IsLegacy ? "(Silero legacy)" : "(Silero v5/v6)", summary, StringComparison.Ordinal);
        Assert.Matches(@"real-time factor \d+\.\d{4} \(\d+\.\d ms for 11\.55 s\)$", summary);
    }

    private static (int Code, string Out, string Error) Capture(string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        TextWriter previousOut = Console.Out, previousError = Console.Error;
        Console.SetOut(output);
        Console.SetError(error);
        try
        {
            return (Simd.Cli.Program.Run(args), output.ToString(), error.ToString());
        }
        finally
        {
            Console.SetOut(previousOut);
            Console.SetError(previousError);
        }
    }
}
