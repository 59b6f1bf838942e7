using System.Diagnostics;
using Rnn.Simd.LoadGenerator;
using Rnn.Simd.StreamingProtocol;
using Xunit;

namespace Rnn.Simd.StreamingService.Tests.Serving;

/// <summary>
/// The load generator's open-loop clock and the latency histogram its figures come from. The pacer's times are
/// checked for order and completeness (never for how close to due, which depends on the machine's load).
/// </summary>
[Trait("Category", "Serving")]
public sealed class PacingTests
{
    private static readonly TimeSpan s_hang = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Pacer_ReleasesEveryStreamsFramesInOrder_NeverEarly_AndEndsWithMinusOne()
    {
        const int streams = 5, frames = 12;
        long period = Stopwatch.Frequency / 200;   // 5 ms
        long start = Stopwatch.GetTimestamp() + (Stopwatch.Frequency / 100), end = start + (frames * period);
        using var pacer = new FramePacer(streams, start, period, end);

        async Task<List<(long Due, long Seen)>> Take(int stream, bool late)
        {
            var got = new List<(long, long)>();
            while (true)
            {
                if (late && got.Count == 2)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(30));   // several frames fall due meanwhile: they are kept
                }

                long due = await pacer.NextAsync(stream);
                if (due < 0)
                {
                    return got;
                }

                got.Add((due, Stopwatch.GetTimestamp()));
            }
        }

        List<(long Due, long Seen)>[] taken = await Task.WhenAll(Enumerable.Range(0, streams).Select(s => Take(s, late: s == 3))).WaitAsync(s_hang);
        for (int s = 0; s < streams; s++)
        {
            Assert.Equal(frames, taken[s].Count);
            for (int k = 0; k < frames; k++)
            {
                long expected = start + (period * s / streams) + (k * period);
                Assert.Equal(expected, pacer.DueTime(s, k));
                Assert.Equal(expected, taken[s][k].Due);
                Assert.True(taken[s][k].Seen >= expected, $"stream {s} frame {k} released {taken[s][k].Seen - expected} ticks early");
            }
        }

        Assert.Equal(-1, await pacer.NextAsync(0));   // and stays over
    }

    [Theory]
    [InlineData(0L)]
    [InlineData(200L)]
    [InlineData(1_999_999L)]
    [InlineData(2_000_000L)]
    [InlineData(6_553_600L)]
    [InlineData(123_456_789_012L)]
    public void Histogram_Quantiles_AreWithinOnePercentAbove(long value)
    {
        var histogram = new LatencyHistogram();
        histogram.Record(value / 2);
        for (int i = 0; i < 98; i++)
        {
            histogram.Record(value);
        }

        histogram.Record(value * 2);
        long median = histogram.Quantile(0.5), p99 = histogram.Quantile(0.99);
        Assert.Equal(median, p99);
        Assert.InRange(median, value, value + (value / 128) + 1);
        Assert.Equal(value * 2, histogram.MaxNanoseconds);
        Assert.Equal(value * 2, histogram.Quantile(1));
        Assert.InRange(histogram.Quantile(0.01), value / 2, (value / 2) + (value / 256) + 1);
    }
}
