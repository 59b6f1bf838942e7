using System.Numerics;

namespace Rnn.Simd.StreamingProtocol;

/// <summary>
/// Durations in nanoseconds counted in log-linear buckets (exact below 256 ns, then 128 buckets per power of two:
/// a quantile is reported as its bucket's upper bound, at most 1/128 ≈ 0.8 % above the true value, so 2 ms reads
/// as 2.000–2.016 ms). Lock-free: any
/// number of threads record at once, and recording allocates nothing.
/// </summary>
public sealed class LatencyHistogram
{
    private const int Linear = 256, SubBuckets = 128, SubBits = 7, LinearBits = 8;
    private readonly long[] _counts = new long[Linear + ((63 - LinearBits + 1) * SubBuckets)];
    private long _count, _max;

    /// <summary>Durations recorded.</summary>
    public long Count => Interlocked.Read(ref _count);

    /// <summary>The longest duration recorded, in nanoseconds.</summary>
    public long MaxNanoseconds => Interlocked.Read(ref _max);

    /// <summary>Counts one duration (negative ones count as zero).</summary>
    public void Record(long nanoseconds)
    {
        long v = Math.Max(0, nanoseconds);
        Interlocked.Increment(ref _counts[IndexOf(v)]);
        Interlocked.Increment(ref _count);
        long max = Interlocked.Read(ref _max);
        while (v > max)
        {
            long seen = Interlocked.CompareExchange(ref _max, v, max);
            if (seen == max)
            {
                break;
            }

            max = seen;
        }
    }

    /// <summary>Counts a <see cref="System.Diagnostics.Stopwatch"/> interval.</summary>
    public void RecordTicks(long ticks) => Record((long)(ticks * (1e9 / System.Diagnostics.Stopwatch.Frequency)));

    /// <summary>The <paramref name="quantile"/> (0 … 1) of the recorded durations in nanoseconds (its bucket's upper bound); 0 when empty.</summary>
    public long Quantile(double quantile)
    {
        long count = Count;
        if (count == 0)
        {
            return 0;
        }

        long rank = Math.Max(1, (long)Math.Ceiling(Math.Clamp(quantile, 0, 1) * count));
        long seen = 0;
        for (int i = 0; i < _counts.Length; i++)
        {
            seen += Interlocked.Read(ref _counts[i]);
            if (seen >= rank)
            {
                return Math.Min(UpperBound(i), MaxNanoseconds);
            }
        }

        return MaxNanoseconds;
    }

    private static int IndexOf(long v)
    {
        if (v < Linear)
        {
            return (int)v;
        }

        int exponent = 63 - BitOperations.LeadingZeroCount((ulong)v);   // ≥ LinearBits
        int mantissa = (int)(v >> (exponent - SubBits)) & (SubBuckets - 1);
        return Linear + ((exponent - LinearBits) * SubBuckets) + mantissa;
    }

    private static long UpperBound(int index)
    {
        if (index < Linear)
        {
            return index;
        }

        int exponent = ((index - Linear) / SubBuckets) + LinearBits, mantissa = (index - Linear) % SubBuckets;
        return ((long)(SubBuckets + mantissa + 1) << (exponent - SubBits)) - 1;
    }
}
