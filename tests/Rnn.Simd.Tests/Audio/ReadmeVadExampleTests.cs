using Rnn.Simd.Audio;
using Rnn.Simd.Import.Onnx;
using Rnn.Simd.Tests.Import;

namespace Rnn.Simd.Tests.Audio;

/// <summary>
/// The README's "Run Silero VAD" example, run: a WAV file read, one stream framed by hand through the detector, the
/// streaming segmenter's events printed as they come; the events pair up into the whole-signal call's segments.
/// </summary>
[Trait("Category", "Audio")]
public sealed class ReadmeVadExampleTests
{
    [SkippableFact]
    public void TheReadmeExample_StreamsTheSegmentsOfTheWholeSignalCall()
    {
        string model = SileroFiles.Path(SileroFiles.V5);
        string wav = Path.Combine(AppContext.BaseDirectory, "Audio", "Speech", "speech-16k.wav");
        var printed = new StringWriter();

        // ---- README: "Silero VAD" (begin) ----
        // ---- README (pause) ----
        TextWriter console = printed;
        WavAudio audio = WavReader.Read(wav);
        var vad = new VoiceActivityDetector(OnnxModel.Load(model), audio.SampleRate);
        // ---- README (resume) ----
        VoiceActivityStream stream = vad.CreateStream();                 // one per audio stream: state and context
        var segmenter = new SpeechSegmenter(vad.SampleRate, vad.FrameSamples);   // Silero's rules and defaults
        float[] frame = new float[vad.FrameSamples];                     // 512 samples at 16 kHz, in [-1, 1]
        for (int at = 0; at < audio.Samples.Length; at += frame.Length)
        {
            Array.Clear(frame);
            audio.Samples.AsSpan(at, Math.Min(frame.Length, audio.Samples.Length - at)).CopyTo(frame);
            segmenter.Push(vad.Process(stream, frame));                  // the speech probability; allocates nothing
            while (segmenter.TryRead(out SpeechEvent e))
            {
                console.WriteLine($"{e.Kind} {e.Seconds:F3} s");
            }
        }

        segmenter.Finish(audio.Samples.Length);
        while (segmenter.TryRead(out SpeechEvent e))
        {
            console.WriteLine($"{e.Kind} {e.Seconds:F3} s");
        }
        // ---- README: "Silero VAD" (end) ----

        SpeechSegment[] whole = vad.DetectSpeech(audio.Samples);
        Assert.NotEmpty(whole);
        string[] expected = [.. whole.SelectMany(s => new[] { FormattableString.Invariant($"Start {s.StartSeconds:F3} s"), FormattableString.Invariant($"End {s.EndSeconds:F3} s") })];
        Assert.Equal(expected, printed.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries));
    }
}
