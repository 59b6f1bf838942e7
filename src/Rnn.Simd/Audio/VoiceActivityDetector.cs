using Rnn.Simd.Import.Onnx;
using Rnn.Simd.Internal;

namespace Rnn.Simd.Audio;

/// <summary>
/// Streaming voice activity detection with Silero VAD's ONNX models (v5 and v6: inputs <c>input</c>, <c>state</c>,
/// <c>sr</c>; the legacy model: <c>input</c>, <c>sr</c>, <c>h</c>, <c>c</c>) run by an <see cref="OnnxModel"/>: one
/// speech probability per frame of audio, framed as Silero's own wrapper (OnnxWrapper in silero_vad/utils_vad.py)
/// frames it. Immutable and thread-safe: one detector serves any number of streams on any threads, each stream's
/// state in its own <see cref="VoiceActivityStream"/>.
/// </summary>
/// <remarks>
/// <para>Frames are <see cref="FrameSamples"/> samples: 512 at 16 kHz, 256 at 8 kHz, as floats in [−1, 1] (16-bit
/// PCM / 32768). v5 and v6 see each frame preceded by the previous frame's last <see cref="ContextSamples"/> samples
/// (64 at 16 kHz, 32 at 8 kHz; zeros before the first frame), with the state [2, 1, 128] carried from call to call;
/// the legacy model sees the bare frame and carries h and c [2, 1, 64].</para>
/// <para>After the first call of the model at this size (made here, at construction), <see cref="Process(VoiceActivityStream, ReadOnlySpan{float})"/>
/// allocates nothing.</para>
/// </remarks>
public sealed class VoiceActivityDetector
{
    private static readonly string[] s_current = ["input", "state", "sr"], s_legacy = ["input", "sr", "h", "c"];

    /// <summary>A detector running <paramref name="model"/> on audio at <paramref name="sampleRate"/> Hz (16000 or 8000).</summary>
    /// <exception cref="ArgumentException"><paramref name="model"/>'s inputs and outputs are not a Silero VAD model's.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="sampleRate"/> is neither 16000 nor 8000.</exception>
    public VoiceActivityDetector(OnnxModel model, int sampleRate = 16000)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (sampleRate is not (16000 or 8000))
        {
            ThrowHelper.ArgumentOutOfRange(nameof(sampleRate), $"Silero VAD runs at 16000 or 8000 Hz; {sampleRate} given.");
        }

        Model = model;
        SampleRate = sampleRate;
        IReadOnlyList<string> inputs = model.InputNames;
        if (inputs.Count == s_current.Length && s_current.All(inputs.Contains) && model.OutputNames.Count == 2)
        {
            IsLegacy = false;
            StateIndex = IndexOf(inputs, "state");
        }
        else if (inputs.Count == s_legacy.Length && s_legacy.All(inputs.Contains) && model.OutputNames.Count == 3)
        {
            IsLegacy = true;
            StateIndex = IndexOf(inputs, "h");
            CellIndex = IndexOf(inputs, "c");
        }
        else
        {
            ThrowHelper.Argument(
                nameof(model),
                $"{model.Source}: inputs ({string.Join(", ", inputs)}) and {model.OutputNames.Count} outputs are not Silero VAD's: v5/v6 take (input, state, sr) and give 2 outputs, the legacy model takes (input, sr, h, c) and gives 3.");
        }

        InputIndex = IndexOf(inputs, "input");
        RateIndex = IndexOf(inputs, "sr");

        // Outputs by Silero's names, else in Silero's order: the probability, then the state (or h, then c).
        IReadOnlyList<string> outputs = model.OutputNames;
        OutputIndices = IsLegacy
            ? [IndexOr(outputs, "output", 0), IndexOr(outputs, "hn", 1), IndexOr(outputs, "cn", 2)]
            : [IndexOr(outputs, "output", 0), IndexOr(outputs, "stateN", 1)];
        if (OutputIndices.Distinct().Count() != OutputIndices.Length)
        {
            ThrowHelper.Argument(nameof(model), $"{model.Source}: outputs ({string.Join(", ", outputs)}) are named unlike Silero VAD's ({(IsLegacy ? "output, hn, cn" : "output, stateN")}) and not in its order.");
        }

        RateFeed = new OnnxFeed(new long[] { sampleRate }, []);
        FrameSamples = sampleRate == 16000 ? 512 : 256;
        ContextSamples = IsLegacy ? 0 : FrameSamples / 8;

        // The first call at this size makes the model's plan; check its outputs' sizes now, so that Process neither
        // allocates nor meets a model of another shape.
        var probe = new VoiceActivityStream(this);
        int[] expected = IsLegacy ? [1, VoiceActivityStream.StateLength / 2, VoiceActivityStream.StateLength / 2] : [1, VoiceActivityStream.StateLength];
        for (int j = 0; j < expected.Length; j++)
        {
            int k = OutputIndices[j];
            long count = 0;
            try
            {
                count = model.OutputShape(k, probe.Feeds).Aggregate(1L, (a, b) => a * b);
            }
            catch (ArgumentException e)
            {
                ThrowHelper.Argument(nameof(model), $"{model.Source} does not take Silero's input [1, {probe.Window.Length}] at {sampleRate} Hz: {e.Message}");
            }

            if (count != expected[j])
            {
                ThrowHelper.Argument(nameof(model), $"{model.Source}: output '{model.OutputNames[k]}' has {count} values for one frame; Silero VAD's has {expected[j]}.");
            }
        }
    }

    /// <summary>The model run.</summary>
    public OnnxModel Model { get; }

    /// <summary>Samples per second: 16000 or 8000.</summary>
    public int SampleRate { get; }

    /// <summary>Samples per frame: 512 at 16 kHz, 256 at 8 kHz.</summary>
    public int FrameSamples { get; }

    /// <summary>Samples of the previous frame put before each frame: 64 at 16 kHz, 32 at 8 kHz; 0 for the legacy model.</summary>
    public int ContextSamples { get; }

    /// <summary>Whether the model is Silero's legacy one (h and c state, no context) rather than v5/v6.</summary>
    public bool IsLegacy { get; }

    internal int InputIndex { get; }

    internal int RateIndex { get; }

    /// <summary>The index of v5/v6's state, or the legacy model's h.</summary>
    internal int StateIndex { get; }

    /// <summary>The index of the legacy model's c.</summary>
    internal int CellIndex { get; }

    /// <summary>The model's output indices of the probability and the next state (v5/v6), or of the probability, h and c (legacy).</summary>
    internal int[] OutputIndices { get; }

    /// <summary>The sr input: the sample rate, an int64 scalar.</summary>
    internal OnnxFeed RateFeed { get; }

    /// <summary>A new stream: zero state and context.</summary>
    public VoiceActivityStream CreateStream() => new(this);

    /// <summary>The frames a signal of <paramref name="samples"/> samples makes: ⌈samples / <see cref="FrameSamples"/>⌉ (the last zero-padded).</summary>
    public long FrameCount(long samples)
    {
        if (samples < 0)
        {
            ThrowHelper.ArgumentOutOfRange(nameof(samples), $"Must be non-negative, was {samples}.");
        }

        return (samples + FrameSamples - 1) / FrameSamples;
    }

    /// <summary>The speech probability of the stream's next frame; the stream's state moves on. Allocates nothing.</summary>
    /// <param name="stream">The stream the frame continues (made by this detector).</param>
    /// <param name="frame"><see cref="FrameSamples"/> samples, finite, nominally in [−1, 1].</param>
    /// <exception cref="ArgumentException">The stream is another detector's, or the frame's length is not
    /// <see cref="FrameSamples"/>, or a sample is not finite.</exception>
    public float Process(VoiceActivityStream stream, ReadOnlySpan<float> frame)
    {
        ThrowIfNotMine(stream);
        if (frame.Length != FrameSamples)
        {
            // The message is built only here: an interpolated string argument would be made on every call.
            ThrowHelper.ThrowIfLengthIsNot(frame.Length, FrameSamples, nameof(frame), $"one frame at {SampleRate} Hz");
        }

        ThrowIfNotFinite(frame, nameof(frame));
        return Run(stream, frame);
    }

    /// <summary>
    /// The speech probabilities of a whole signal's frames into <paramref name="probabilities"/> (one per frame,
    /// <see cref="FrameCount"/>), the last frame zero-padded as Silero's wrapper pads it, continuing
    /// <paramref name="stream"/>. Allocates nothing.
    /// </summary>
    /// <exception cref="ArgumentException">The stream is another detector's, <paramref name="probabilities"/> is not one
    /// per frame, or a sample is not finite.</exception>
    public void Process(VoiceActivityStream stream, ReadOnlySpan<float> signal, Span<float> probabilities)
    {
        ThrowIfNotMine(stream);
        if (probabilities.Length != FrameCount(signal.Length))
        {
            ThrowHelper.ThrowIfLengthIsNot(probabilities.Length, FrameCount(signal.Length), nameof(probabilities), $"one per frame of {FrameSamples} samples in {signal.Length} samples");
        }

        ThrowIfNotFinite(signal, nameof(signal));
        for (int i = 0; i < probabilities.Length; i++)
        {
            int start = i * FrameSamples;
            probabilities[i] = Run(stream, signal.Slice(start, Math.Min(FrameSamples, signal.Length - start)));
        }
    }

    /// <summary>Silero's segments of a whole signal (<see cref="SpeechSegmenter.Segment"/> on its frames' probabilities,
    /// from a new stream).</summary>
    /// <exception cref="ArgumentException">A sample is not finite, or an option is out of its range.</exception>
    public SpeechSegment[] DetectSpeech(ReadOnlySpan<float> signal, SpeechSegmenterOptions? options = null)
    {
        _ = new SpeechSegmenter(SampleRate, FrameSamples, options);   // the options checked before the model runs
        var probabilities = new float[FrameCount(signal.Length)];
        Process(CreateStream(), signal, probabilities);
        return SpeechSegmenter.Segment(probabilities, signal.Length, SampleRate, FrameSamples, options);
    }

    // One call of the model on `frame` (FrameSamples samples, or fewer: the rest zeros).
    private float Run(VoiceActivityStream stream, ReadOnlySpan<float> frame)
    {
        Span<float> window = stream.Window.AsSpan(ContextSamples);
        frame.CopyTo(window);
        window[frame.Length..].Clear();
        Model.Run(stream.Feeds, stream.Outputs);
        stream.Advance(ContextSamples);
        return stream.Probability[0];
    }

    // A NaN or infinity would stay in the recurrent state for good.
    private static void ThrowIfNotFinite(ReadOnlySpan<float> samples, string paramName)
    {
        for (int i = 0; i < samples.Length; i++)
        {
            if (!float.IsFinite(samples[i]))
            {
                ThrowHelper.Argument(paramName, $"Sample {i} is {samples[i]}; audio samples must be finite.");
            }
        }
    }

    private void ThrowIfNotMine(VoiceActivityStream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (stream.Detector != this)
        {
            ThrowHelper.Argument(nameof(stream), "The stream was made by another detector; make streams with this detector's CreateStream.");
        }
    }

    private static int IndexOr(IReadOnlyList<string> names, string name, int fallback) => IndexOf(names, name) is >= 0 and int i ? i : fallback;

    private static int IndexOf(IReadOnlyList<string> names, string name)
    {
        for (int i = 0; i < names.Count; i++)
        {
            if (names[i] == name)
            {
                return i;
            }
        }

        return -1;
    }
}
