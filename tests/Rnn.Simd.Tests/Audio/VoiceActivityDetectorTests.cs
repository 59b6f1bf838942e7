using Rnn.Simd.Audio;
using Rnn.Simd.Import.Onnx;
using Rnn.Simd.Tests.Infrastructure;

namespace Rnn.Simd.Tests.Audio;

/// <summary>
/// <see cref="VoiceActivityDetector"/>'s framing and state on stand-ins of Silero's models (<see cref="FakeSilero"/>:
/// Silero's inputs and outputs, arithmetic of OnnxModel's supported operators), against a double-precision reference
/// that frames the signal by Silero's rules itself: every frame's probability within 1e-5, at 16 and 8 kHz, v5/v6
/// and legacy; no allocation per frame; many streams on many threads sharing one detector each get their
/// single-threaded bits.
/// </summary>
[Trait("Category", "Audio")]
[Trait("Isa", "All")]
public sealed class VoiceActivityDetectorTests
{
    public static TheoryData<bool, int> Kinds() => new() { { false, 16000 }, { false, 8000 }, { true, 16000 }, { true, 8000 } };

    private static FakeSilero Fake(bool legacy, int sampleRate) => legacy ? FakeSilero.OfLegacy(sampleRate) : FakeSilero.Current(sampleRate);

    [Theory]
    [MemberData(nameof(Kinds))]
    public void EveryFrame_MatchesTheReferenceFraming_WithTheStateCarried(bool legacy, int sampleRate)
    {
        FakeSilero fake = Fake(legacy, sampleRate);
        var detector = new VoiceActivityDetector(fake.Model, sampleRate);
        int n = sampleRate == 16000 ? 512 : 256;
        Assert.Equal(n, detector.FrameSamples);
        Assert.Equal(legacy ? 0 : n / 8, detector.ContextSamples);
        Assert.Equal(legacy, detector.IsLegacy);
        Assert.Equal(sampleRate, detector.SampleRate);

        float[] signal = FakeSilero.Signal((23 * n) + 77, seed: sampleRate + (legacy ? 1 : 0));
        double[] reference = fake.Reference(signal, n);
        Assert.Equal(24, detector.FrameCount(signal.Length));

        // Frame by frame, the last one zero-padded by the caller.
        VoiceActivityStream stream = detector.CreateStream();
        var frame = new float[n];
        var ours = new float[reference.Length];
        for (int k = 0; k < ours.Length; k++)
        {
            Array.Clear(frame);
            signal.AsSpan(k * n, Math.Min(n, signal.Length - (k * n))).CopyTo(frame);
            ours[k] = detector.Process(stream, frame);
            Assert.True(Math.Abs(ours[k] - reference[k]) <= 1e-5, $"frame {k}: {ours[k]} vs reference {reference[k]}");
        }

        Assert.Equal(ours.Length, stream.Frames);
        Assert.True(reference.Max() - reference.Min() > 0.05, "the stand-in's probabilities hardly move: the test would not see a framing error");

        // The whole signal at once: the same bits.
        var whole = new float[ours.Length];
        detector.Process(detector.CreateStream(), signal, whole);
        Assert.Equal(ours, whole);

        // Reset: a new signal, the same bits as a new stream.
        stream.Reset();
        Assert.Equal(0, stream.Frames);
        detector.Process(stream, signal, whole);
        Assert.Equal(ours, whole);
    }

    [Fact]
    public void TheInputsAndOutputs_AreFoundByName_InAnyOrder()
    {
        var usual = new VoiceActivityDetector(FakeSilero.Current(16000, seed: 5).Model);
        var shuffled = new VoiceActivityDetector(FakeSilero.Current(16000, 5, "sr", "state", "input").Model);
        var reversed = new VoiceActivityDetector(FakeSilero.WithOutputsReversed(seed: 5).Model);
        float[] signal = FakeSilero.Signal(5000, seed: 9);
        float[] a = new float[usual.FrameCount(signal.Length)], b = new float[a.Length], c = new float[a.Length];
        usual.Process(usual.CreateStream(), signal, a);
        shuffled.Process(shuffled.CreateStream(), signal, b);
        reversed.Process(reversed.CreateStream(), signal, c);
        Assert.Equal(a, b);
        Assert.Equal(a, c);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Process_AllocatesNothing(bool legacy, int sampleRate)
    {
        var detector = new VoiceActivityDetector(Fake(legacy, sampleRate).Model, sampleRate);
        VoiceActivityStream stream = detector.CreateStream();
        float[] frame = FakeSilero.Signal(detector.FrameSamples, seed: 3), signal = FakeSilero.Signal((3 * detector.FrameSamples) + 5, seed: 4);
        var probabilities = new float[4];
        AllocationAssert.None(() => detector.Process(stream, frame));
        AllocationAssert.None(() => detector.Process(stream, signal, probabilities));
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void ManyStreams_OnFourThreads_ShareOneDetector_AndGetTheirSingleThreadedBits(bool legacy, int sampleRate)
    {
        var detector = new VoiceActivityDetector(Fake(legacy, sampleRate).Model, sampleRate);
        SharedDetector.AssertStreamsOnFourThreadsGetTheirSingleThreadedBits(
            detector, [.. Enumerable.Range(0, 8).Select(s => FakeSilero.Signal(40 * detector.FrameSamples, seed: 100 + s))]);
    }

    [Fact]
    public void AModelWithOtherInputs_IsRefused_NamingThem()
    {
        OnnxModel relu = OnnxModel.Load(new OnnxWriter().Input("x", 1, 1, 512).Output("y", 1, 1, 512).Node("Relu", "r", ["x"], ["y"]).Build(14), "relu.onnx");
        ArgumentException e = Assert.Throws<ArgumentException>(() => new VoiceActivityDetector(relu));
        Assert.Equal("model", e.ParamName);
        Assert.Contains("relu.onnx: inputs (x) and 1 outputs are not Silero VAD's", e.Message, StringComparison.Ordinal);
        Assert.Equal("sampleRate", Assert.Throws<ArgumentOutOfRangeException>(() => new VoiceActivityDetector(FakeSilero.Current(16000).Model, 44100)).ParamName);
    }

    [Fact]
    public void AStandInOfTheWrongWindow_IsRefusedAtConstruction()
    {
        // An 8 kHz v5 stand-in takes 288 samples; at 16 kHz the detector feeds 576.
        ArgumentException e = Assert.ThrowsAny<ArgumentException>(() => new VoiceActivityDetector(FakeSilero.Current(8000).Model, 16000));
        Assert.Contains("576", e.Message, StringComparison.Ordinal);
    }
}
