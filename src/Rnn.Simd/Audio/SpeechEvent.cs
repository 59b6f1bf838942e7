namespace Rnn.Simd.Audio;

/// <summary>What a <see cref="SpeechEvent"/> marks.</summary>
public enum SpeechEventKind
{
    /// <summary>A segment starts: <see cref="SpeechEvent.Sample"/> is its first sample.</summary>
    Start,

    /// <summary>The segment last started ends: <see cref="SpeechEvent.Sample"/> is the sample after its last one.</summary>
    End,
}

/// <summary>
/// A segment boundary found by a <see cref="SpeechSegmenter"/>. Starts and ends alternate, a start first; each pair
/// is one <see cref="SpeechSegment"/> of <see cref="SpeechSegmenter.Segment"/>'s.
/// </summary>
/// <param name="Kind">A start or an end.</param>
/// <param name="Sample">The boundary, in samples from the start of the signal.</param>
/// <param name="SampleRate">Samples per second of the signal.</param>
public readonly record struct SpeechEvent(SpeechEventKind Kind, long Sample, int SampleRate)
{
    /// <summary>The boundary in seconds.</summary>
    public double Seconds => (double)Sample / SampleRate;
}
