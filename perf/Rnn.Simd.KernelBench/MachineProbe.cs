using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Rnn.Simd.KernelBench;

/// <summary>
/// Measures this machine's limits in the same process as the kernels, so that kernel figures can be
/// reported as ratios measured in one run (the machine is shared and noisy; absolute figures drift).
/// </summary>
internal static class MachineProbe
{
    /// <summary>Single-thread FP32 FMA throughput in GFLOP/s: 16 independent FMA chains at the widest accelerated width.</summary>
    public static double FmaPeakGflops(double seconds)
    {
        long iterations = 1 << 16;
        double best = 0;
        var budget = Stopwatch.StartNew();
        while (budget.Elapsed.TotalSeconds < seconds)
        {
            long start = Stopwatch.GetTimestamp();
            float sink = FmaLoop(iterations);
            double elapsed = Stopwatch.GetElapsedTime(start).TotalSeconds;
            GC.KeepAlive(sink);
            (int chains, int lanes) = Vector512.IsHardwareAccelerated ? (16, 16) : (12, 8);
            best = Math.Max(best, iterations * chains * lanes * 2.0 / elapsed / 1e9);
            if (elapsed < 0.01)
            {
                iterations *= 2;
            }
        }

        return best;
    }

    /// <summary>Single-thread read bandwidth in GB/s over a buffer of <paramref name="bytes"/> bytes, read repeatedly.</summary>
    public static unsafe double ReadBandwidthGBps(int bytes, double seconds)
    {
        float[] buffer = GC.AllocateArray<float>(bytes / sizeof(float), pinned: true);
        buffer.AsSpan().Fill(1f);
        double best = 0;
        var budget = Stopwatch.StartNew();
        fixed (float* p = buffer)
        {
            while (budget.Elapsed.TotalSeconds < seconds)
            {
                long start = Stopwatch.GetTimestamp();
                float sink = ReadSum(p, buffer.Length);
                double elapsed = Stopwatch.GetElapsedTime(start).TotalSeconds;
                GC.KeepAlive(sink);
                best = Math.Max(best, bytes / elapsed / 1e9);
            }
        }

        return best;
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float FmaLoop(long iterations)
    {
        if (Vector512.IsHardwareAccelerated)
        {
            Vector512<float> m = Vector512.Create(0.999999f), a = Vector512.Create(1e-7f);
            Vector512<float> s0 = m, s1 = m, s2 = m, s3 = m, s4 = m, s5 = m, s6 = m, s7 = m;
            Vector512<float> s8 = m, s9 = m, s10 = m, s11 = m, s12 = m, s13 = m, s14 = m, s15 = m;
            for (long i = 0; i < iterations; i++)
            {
                s0 = Vector512.FusedMultiplyAdd(s0, m, a); s1 = Vector512.FusedMultiplyAdd(s1, m, a);
                s2 = Vector512.FusedMultiplyAdd(s2, m, a); s3 = Vector512.FusedMultiplyAdd(s3, m, a);
                s4 = Vector512.FusedMultiplyAdd(s4, m, a); s5 = Vector512.FusedMultiplyAdd(s5, m, a);
                s6 = Vector512.FusedMultiplyAdd(s6, m, a); s7 = Vector512.FusedMultiplyAdd(s7, m, a);
                s8 = Vector512.FusedMultiplyAdd(s8, m, a); s9 = Vector512.FusedMultiplyAdd(s9, m, a);
                s10 = Vector512.FusedMultiplyAdd(s10, m, a); s11 = Vector512.FusedMultiplyAdd(s11, m, a);
                s12 = Vector512.FusedMultiplyAdd(s12, m, a); s13 = Vector512.FusedMultiplyAdd(s13, m, a);
                s14 = Vector512.FusedMultiplyAdd(s14, m, a); s15 = Vector512.FusedMultiplyAdd(s15, m, a);
            }

            return Vector512.Sum(s0 + s1 + s2 + s3 + s4 + s5 + s6 + s7 + s8 + s9 + s10 + s11 + s12 + s13 + s14 + s15);
        }
        else
        {
            // Twelve chains: enough for two FMA pipes of latency 5, and with the two constants still within
            // the 16 ymm registers that AVX2 has, so nothing spills.
            Vector256<float> m = Vector256.Create(0.999999f), a = Vector256.Create(1e-7f);
            Vector256<float> s0 = m, s1 = m, s2 = m, s3 = m, s4 = m, s5 = m, s6 = m, s7 = m, s8 = m, s9 = m, s10 = m, s11 = m;
            for (long i = 0; i < iterations; i++)
            {
                s0 = Vector256.FusedMultiplyAdd(s0, m, a); s1 = Vector256.FusedMultiplyAdd(s1, m, a);
                s2 = Vector256.FusedMultiplyAdd(s2, m, a); s3 = Vector256.FusedMultiplyAdd(s3, m, a);
                s4 = Vector256.FusedMultiplyAdd(s4, m, a); s5 = Vector256.FusedMultiplyAdd(s5, m, a);
                s6 = Vector256.FusedMultiplyAdd(s6, m, a); s7 = Vector256.FusedMultiplyAdd(s7, m, a);
                s8 = Vector256.FusedMultiplyAdd(s8, m, a); s9 = Vector256.FusedMultiplyAdd(s9, m, a);
                s10 = Vector256.FusedMultiplyAdd(s10, m, a); s11 = Vector256.FusedMultiplyAdd(s11, m, a);
            }

            return Vector256.Sum(s0 + s1 + s2 + s3 + s4 + s5 + s6 + s7 + s8 + s9 + s10 + s11);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static unsafe float ReadSum(float* p, int length)
    {
        // Eight independent sums so that the adds never limit the loads.
        Vector256<float> s0 = default, s1 = default, s2 = default, s3 = default;
        Vector256<float> s4 = default, s5 = default, s6 = default, s7 = default;
        int i = 0;
        for (; i + 64 <= length; i += 64)
        {
            s0 += Vector256.Load(p + i);
            s1 += Vector256.Load(p + i + 8);
            s2 += Vector256.Load(p + i + 16);
            s3 += Vector256.Load(p + i + 24);
            s4 += Vector256.Load(p + i + 32);
            s5 += Vector256.Load(p + i + 40);
            s6 += Vector256.Load(p + i + 48);
            s7 += Vector256.Load(p + i + 56);
        }

        return Vector256.Sum(s0 + s1 + s2 + s3 + s4 + s5 + s6 + s7);
    }
}
