namespace Rnn.Simd.Audio;

/// <summary>
/// A stretch of speech in a signal: samples <see cref="Start"/> (included) to <see cref="End"/> (excluded) at
/// <see cref="SampleRate"/> samples per second, padding included.
/// </summary>
/// <param name="Start">The first sample of the segment.</param>
/// <param name="End">The sample after the segment's last one.</param>
/// <param name="SampleRate">Samples per second of the signal.</param>
public readonly record struct SpeechSegment(long Start, long End, int SampleRate)
{
    /// <summary>The start in seconds (<see cref="Start"/> / <see cref="SampleRate"/>).</summary>
    public double StartSeconds => (double)Start / SampleRate;

    /// <summary>The end in seconds (<see cref="End"/> / <see cref="SampleRate"/>).</summary>
    public double EndSeconds => (double)End / SampleRate;
}
