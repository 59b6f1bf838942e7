namespace Rnn.Simd.StreamingProtocol;

/// <summary>
/// The frames a load generator sends: value k of frame t of stream s is a hash of (s, t, k), so any process (the
/// load generator's check, a test's direct run) can rebuild any stream's inputs without storing them.
/// </summary>
public static class SeededFrames
{
    /// <summary>Writes frame <paramref name="frame"/> of stream <paramref name="stream"/> into <paramref name="values"/> (values in [−1, 1)).</summary>
    public static void Fill(int stream, long frame, Span<float> values)
    {
        ulong key = SplitMix.Mix(((ulong)(uint)stream << 40) ^ (ulong)frame ^ 0x5EED_0000_0000_0000UL);
        for (int k = 0; k < values.Length; k++)
        {
            values[k] = SplitMix.ToSigned(SplitMix.Mix(key + (ulong)k));
        }
    }
}
