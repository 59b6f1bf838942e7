using Rnn.Simd.Import.Onnx;

namespace Rnn.Simd.Audio;

/// <summary>
/// One audio stream's state in a <see cref="VoiceActivityDetector"/>: the model's recurrent state (Silero v5/v6's
/// <c>state</c> [2, 1, 128], or the legacy model's <c>h</c> and <c>c</c> [2, 1, 64] each) and the last
/// <see cref="VoiceActivityDetector.ContextSamples"/> samples of the previous frame. Small; one per stream, used by
/// one thread at a time. Made by <see cref="VoiceActivityDetector.CreateStream"/>.
/// </summary>
public sealed class VoiceActivityStream
{
    /// <summary>Values of the recurrent state: v5/v6's state, or the legacy model's h then c.</summary>
    internal const int StateLength = 256;

    private readonly float[][] _state = [new float[StateLength], new float[StateLength]];
    private readonly OnnxFeed[][] _feeds;
    private readonly Memory<float>[][] _outputs;
    private int _side;

    internal VoiceActivityStream(VoiceActivityDetector detector)
    {
        Detector = detector;
        Window = new float[detector.ContextSamples + detector.FrameSamples];
        long[] windowShape = [1, Window.Length];
        _feeds = new OnnxFeed[2][];
        _outputs = new Memory<float>[2][];
        for (int side = 0; side < 2; side++)
        {
            // Side s reads its state from _state[s] and writes the next one into _state[1 − s].
            float[] state = _state[side], next = _state[1 - side];
            var feeds = new OnnxFeed[detector.Model.InputNames.Count];
            var outputs = new Memory<float>[detector.Model.OutputNames.Count];
            int[] at = detector.OutputIndices;
            outputs[at[0]] = Probability;
            feeds[detector.InputIndex] = new OnnxFeed(Window, windowShape);
            feeds[detector.RateIndex] = detector.RateFeed;
            if (detector.IsLegacy)
            {
                feeds[detector.StateIndex] = new OnnxFeed(state.AsMemory(0, StateLength / 2), 2, 1, 64);
                feeds[detector.CellIndex] = new OnnxFeed(state.AsMemory(StateLength / 2), 2, 1, 64);
                outputs[at[1]] = next.AsMemory(0, StateLength / 2);
                outputs[at[2]] = next.AsMemory(StateLength / 2);
            }
            else
            {
                feeds[detector.StateIndex] = new OnnxFeed(state, 2, 1, 128);
                outputs[at[1]] = next;
            }

            _feeds[side] = feeds;
            _outputs[side] = outputs;
        }
    }

    /// <summary>Frames processed since the stream was made or <see cref="Reset"/>.</summary>
    public long Frames { get; internal set; }

    /// <summary>The detector whose stream this is.</summary>
    internal VoiceActivityDetector Detector { get; }

    /// <summary>The model's input: the previous frame's last samples, then the frame. [1, C + N]</summary>
    internal float[] Window { get; }

    /// <summary>The model's probability output. [1, 1]</summary>
    internal float[] Probability { get; } = new float[1];

    /// <summary>This call's feeds (the current state as input).</summary>
    internal ReadOnlySpan<OnnxFeed> Feeds => _feeds[_side];

    /// <summary>This call's outputs (the next state into the other buffer).</summary>
    internal ReadOnlySpan<Memory<float>> Outputs => _outputs[_side];

    /// <summary>Starts a new signal: zero state, zero context.</summary>
    public void Reset()
    {
        Array.Clear(_state[0]);
        Array.Clear(_state[1]);
        Array.Clear(Window);
        Probability[0] = 0;
        _side = 0;
        Frames = 0;
    }

    /// <summary>After a call: the state written becomes the next call's input, and the window's last samples its context.</summary>
    internal void Advance(int contextSamples)
    {
        _side = 1 - _side;
        Window.AsSpan(Window.Length - contextSamples).CopyTo(Window);
        Frames++;
    }
}
