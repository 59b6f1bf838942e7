namespace Rnn.Simd.Audio;

/// <summary>
/// The rules that turn per-frame speech probabilities into segments, with the defaults of Silero VAD's own
/// <c>get_speech_timestamps</c> (silero_vad/utils_vad.py).
/// </summary>
public sealed record SpeechSegmenterOptions
{
    /// <summary>A frame whose probability is at least this is speech (default 0.5).</summary>
    public double Threshold { get; init; } = 0.5;

    /// <summary>Once in speech, a frame whose probability is below this is silence; null (the default) means
    /// max(<see cref="Threshold"/> − 0.15, 0.01), as Silero's wrapper.</summary>
    public double? NegativeThreshold { get; init; }

    /// <summary>Segments no longer than this (before padding) are dropped (default 250 ms).</summary>
    public int MinSpeechDurationMs { get; init; } = 250;

    /// <summary>Silence must last this long to end a segment (default 100 ms).</summary>
    public int MinSilenceDurationMs { get; init; } = 100;

    /// <summary>Each segment is widened by this much on both sides, or by half the gap when two segments are closer
    /// than twice this (default 30 ms).</summary>
    public int SpeechPadMs { get; init; } = 30;

    /// <summary>The negative threshold in use: <see cref="NegativeThreshold"/>, or Silero's default.</summary>
    public double EffectiveNegativeThreshold => NegativeThreshold ?? Math.Max(Threshold - 0.15, 0.01);
}
