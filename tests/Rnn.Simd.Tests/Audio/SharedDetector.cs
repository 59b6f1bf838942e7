using Rnn.Simd.Audio;

namespace Rnn.Simd.Tests.Audio;

/// <summary>Many streams on many threads through one <see cref="VoiceActivityDetector"/>.</summary>
internal static class SharedDetector
{
    /// <summary>
    /// Runs each signal (whole frames) alone on one stream, then all of them at once on four threads, each thread
    /// owning two streams and alternating between them frame by frame; asserts every stream got its lone run's bits.
    /// </summary>
    public static void AssertStreamsOnFourThreadsGetTheirSingleThreadedBits(VoiceActivityDetector detector, float[][] signals)
    {
        Assert.Equal(8, signals.Length);
        int n = detector.FrameSamples, frames = signals[0].Length / n;
        float[][] alone = [.. signals.Select(signal =>
        {
            var p = new float[frames];
            detector.Process(detector.CreateStream(), signal, p);
            return p;
        })];

        float[][] shared = [.. signals.Select(_ => new float[frames])];
        using var start = new Barrier(4);
        Thread[] threads = [.. Enumerable.Range(0, 4).Select(t => new Thread(() =>
        {
            VoiceActivityStream[] mine = [detector.CreateStream(), detector.CreateStream()];
            start.SignalAndWait();
            for (int k = 0; k < frames; k++)
            {
                for (int j = 0; j < 2; j++)
                {
                    int s = (2 * t) + j;
                    shared[s][k] = detector.Process(mine[j], signals[s].AsSpan(k * n, n));
                }
            }
        }))];
        foreach (Thread thread in threads)
        {
            thread.Start();
        }

        foreach (Thread thread in threads)
        {
            thread.Join();
        }

        for (int s = 0; s < signals.Length; s++)
        {
            Assert.Equal(alone[s], shared[s]);
        }
    }
}
