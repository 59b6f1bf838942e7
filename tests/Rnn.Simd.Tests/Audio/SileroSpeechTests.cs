using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using Rnn.Simd.Audio;
using Rnn.Simd.Import.Onnx;
using Rnn.Simd.Tests.Import;
using Rnn.Simd.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Rnn.Simd.Tests.Audio;

/// <summary>
/// Silero VAD's real models (v5, v6, legacy; <see cref="SileroFiles"/>) through <see cref="VoiceActivityDetector"/> on
/// real speech (Audio/Speech, made by tools/audio/make-speech: three sentences by espeak-ng between silences, low
/// noise, at 16 and 8 kHz). Every frame's probability against ONNX Runtime fed the same framed input (built here
/// from the signal's indices: the previous frame's last 64 or 32 samples, then the frame) and carrying its own
/// state, within 1e-5; the segments found cover the spoken intervals and nothing in the silences; no allocation
/// per frame; streams on four threads sharing one detector get their single-threaded bits.
/// </summary>
[Trait("Category", "Audio")]
public sealed class SileroSpeechTests(ITestOutputHelper output)
{
    public static TheoryData<string, int> Cases() => new()
    {
        { SileroFiles.V5, 16000 }, { SileroFiles.V5, 8000 },
        { SileroFiles.V6, 16000 }, { SileroFiles.V6, 8000 },
        { SileroFiles.Legacy, 16000 }, { SileroFiles.Legacy, 8000 },
    };

    private static string SpeechFolder => Path.Combine(AppContext.BaseDirectory, "Audio", "Speech");

    internal static WavAudio Speech(int rate) => WavReader.Read(Path.Combine(SpeechFolder, rate == 16000 ? "speech-16k.wav" : "speech-8k.wav"));

    /// <summary>The spoken intervals of speech.json, in seconds.</summary>
    internal static (double Start, double End)[] Intervals()
    {
        using JsonDocument json = JsonDocument.Parse(File.ReadAllText(Path.Combine(SpeechFolder, "speech.json")));
        return [.. json.RootElement.GetProperty("intervals").EnumerateArray().Select(i => (i.GetProperty("start").GetDouble(), i.GetProperty("end").GetDouble()))];
    }

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    [Trait("Isa", "All")]
    public void EveryFrame_MatchesOnnxRuntime_WithItsOwnStateCarried(string file, int rate)
    {
        string path = SileroFiles.Path(file);
        var detector = new VoiceActivityDetector(OnnxModel.Load(path), rate);
        float[] signal = Speech(rate).Samples;
        var ours = new float[detector.FrameCount(signal.Length)];
        detector.Process(detector.CreateStream(), signal, ours);

        float[] theirs = OnnxRuntimeProbabilities(path, detector.IsLegacy, rate, signal);
        Assert.Equal(theirs.Length, ours.Length);
        double worst = 0;
        for (int k = 0; k < ours.Length; k++)
        {
            double difference = Math.Abs(ours[k] - theirs[k]);
            worst = Math.Max(worst, difference);
            Assert.True(difference <= 1e-5, $"{file} at {rate} Hz, frame {k}: ONNX Runtime {theirs[k]}, ours {ours[k]}.");
        }

        output.WriteLine($"{file} {rate} Hz: {ours.Length} frames, probabilities {ours.Min():F4}…{ours.Max():F4}, largest difference from ONNX Runtime {worst:E2}");
        Assert.True(ours.Max() > 0.9 && ours.Min() < 0.1, "the speech does not move the model between silence and speech");
    }

    /// <summary>
    /// The segments (Silero's defaults) against the intervals the script spoke. Each interval's first segment starts
    /// within 100 ms of it, and its last segment ends from 100 ms before to 150 ms after it: the segments are padded by
    /// 30 ms and placed on the 32 ms frame grid (so 62 ms of the margin), and the model's probability takes a frame
    /// or two to rise at an onset and a few to fall below 0.35 after an offset (measured: ends 80…110 ms late); the
    /// intervals themselves are sharp, trimmed at 0.5 % of full scale. At least 90 % of each interval is covered (a
    /// pause between words may split it: v6 splits one sentence at a 130 ms pause), and every segment overlaps an
    /// interval: nothing is found in the silences, where only the −50 dBFS noise is.
    /// </summary>
    [SkippableTheory]
    [MemberData(nameof(Cases))]
    public void Segments_CoverTheSpokenIntervals_AndNotTheSilence(string file, int rate)
    {
        var detector = new VoiceActivityDetector(OnnxModel.Load(SileroFiles.Path(file)), rate);
        SpeechSegment[] segments = detector.DetectSpeech(Speech(rate).Samples);
        (double Start, double End)[] intervals = Intervals();
        output.WriteLine($"{file} {rate} Hz: {string.Join("  ", segments.Select(s => $"{s.StartSeconds:F3}–{s.EndSeconds:F3}"))}");
        output.WriteLine($"spoken: {string.Join("  ", intervals.Select(i => $"{i.Start:F3}–{i.End:F3}"))}");

        foreach (SpeechSegment s in segments)
        {
            Assert.True(intervals.Any(i => s.StartSeconds < i.End && s.EndSeconds > i.Start), $"segment {s.StartSeconds:F3}–{s.EndSeconds:F3} s lies in a silence");
        }

        foreach ((double start, double end) in intervals)
        {
            SpeechSegment[] over = [.. segments.Where(s => s.StartSeconds < end && s.EndSeconds > start)];
            Assert.True(over.Length > 0, $"nothing found in the spoken interval {start:F3}–{end:F3} s");
            Assert.InRange(over[0].StartSeconds, start - 0.100, start + 0.100);
            Assert.InRange(over[^1].EndSeconds, end - 0.100, end + 0.150);
            double covered = over.Sum(s => Math.Min(end, s.EndSeconds) - Math.Max(start, s.StartSeconds));
            Assert.True(covered >= 0.9 * (end - start), $"{covered:F3} s of the interval {start:F3}–{end:F3} s covered");
        }
    }

    [SkippableTheory]
    [InlineData(SileroFiles.V5, 16000)]
    [InlineData(SileroFiles.V5, 8000)]
    [InlineData(SileroFiles.Legacy, 16000)]
    public void AFrame_AllocatesNothing(string file, int rate)
    {
        var detector = new VoiceActivityDetector(OnnxModel.Load(SileroFiles.Path(file)), rate);
        VoiceActivityStream stream = detector.CreateStream();
        float[] frame = Speech(rate).Samples.AsSpan(rate, detector.FrameSamples).ToArray();
        AllocationAssert.None(() => detector.Process(stream, frame));
    }

    [SkippableFact]
    public void EightStreams_OnFourThreads_ShareOneDetector_AndGetTheirSingleThreadedBits()
    {
        var detector = new VoiceActivityDetector(OnnxModel.Load(SileroFiles.Path(SileroFiles.V5)));
        int n = detector.FrameSamples;
        float[] speech = Speech(16000).Samples;

        // Stream s listens to 60 frames from its own place in the speech.
        SharedDetector.AssertStreamsOnFourThreadsGetTheirSingleThreadedBits(detector, [.. Enumerable.Range(0, 8).Select(s => speech.AsSpan(s * 9 * n, 60 * n).ToArray())]);
    }

    /// <summary>
    /// ONNX Runtime (CPU, one thread) as Silero's wrapper drives it: frame k is samples [kN, kN + N) of the signal,
    /// zero-padded past its end; v5/v6 see samples [kN − C, kN + N) (zeros before the start) and the state
    /// ONNX Runtime itself returned for frame k − 1; the legacy model sees the bare frame and its own h and c.
    /// </summary>
    private static float[] OnnxRuntimeProbabilities(string path, bool legacy, int rate, float[] signal)
    {
        int n = rate == 16000 ? 512 : 256, context = legacy ? 0 : n / 8, frames = (signal.Length + n - 1) / n;
        using var options = new SessionOptions { IntraOpNumThreads = 1, InterOpNumThreads = 1, ExecutionMode = ExecutionMode.ORT_SEQUENTIAL };
        using var session = new InferenceSession(path, options);
        float[] state = new float[256], h = new float[128], c = new float[128];
        var probabilities = new float[frames];
        for (int k = 0; k < frames; k++)
        {
            var input = new float[context + n];
            for (int j = 0; j < input.Length; j++)
            {
                int at = (k * n) - context + j;
                input[j] = at >= 0 && at < signal.Length ? signal[at] : 0;
            }

            var feeds = new Dictionary<string, OrtValue>
            {
                ["input"] = OrtValue.CreateTensorValueFromMemory(input, [1, input.Length]),
                ["sr"] = OrtValue.CreateTensorValueFromMemory(new long[] { rate }, []),
            };
            if (legacy)
            {
                feeds["h"] = OrtValue.CreateTensorValueFromMemory(h, [2, 1, 64]);
                feeds["c"] = OrtValue.CreateTensorValueFromMemory(c, [2, 1, 64]);
            }
            else
            {
                feeds["state"] = OrtValue.CreateTensorValueFromMemory(state, [2, 1, 128]);
            }

            try
            {
                string[] names = legacy ? ["output", "hn", "cn"] : ["output", "stateN"];
                using var run = new RunOptions();
                using IDisposableReadOnlyCollection<OrtValue> results = session.Run(run, feeds, names);
                probabilities[k] = results[0].GetTensorDataAsSpan<float>()[0];
                float[] next0 = results[1].GetTensorDataAsSpan<float>().ToArray();
                if (legacy)
                {
                    h = next0;
                    c = results[2].GetTensorDataAsSpan<float>().ToArray();
                }
                else
                {
                    state = next0;
                }
            }
            finally
            {
                foreach (OrtValue v in feeds.Values)
                {
                    v.Dispose();
                }
            }
        }

        return probabilities;
    }
}
