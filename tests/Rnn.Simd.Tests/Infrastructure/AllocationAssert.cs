using Rnn.Simd.Kernels.Threading;

namespace Rnn.Simd.Tests.Infrastructure;

/// <summary>The zero-allocation contract (DESIGN.md §4) as one assertion.</summary>
internal static class AllocationAssert
{
    /// <summary>
    /// Warms <paramref name="calls"/> up (<see cref="WarmUp"/>), runs it <paramref name="repeats"/> more times and asserts
    /// that neither this thread nor <paramref name="team"/>'s workers allocated a byte. Per thread, not process-wide:
    /// the test runner's own threads allocate now and then.
    /// </summary>
    /// <remarks>
    /// A measurement that sees bytes is taken again, up to three times in all, after another warm-up: the runtime
    /// now and then allocates on the calling thread by itself (a late tier-1 or on-stack-replacement compile, an
    /// <see cref="System.Buffers.ArrayPool{T}"/> trimmed by a gen-2 collection and refilled), once, while an
    /// allocation in the code under test happens on every call and so in every measurement. The message gives
    /// every measurement.
    /// </remarks>
    public static void None(Action calls, ThreadTeam? team = null, int repeats = 20)
    {
        var seen = new List<(long Thread, long Workers)>();
        for (int attempt = 0; attempt < 3; attempt++)
        {
            WarmUp.Run(calls);
            long thread = GC.GetAllocatedBytesForCurrentThread();
            long workers = team?.WorkerAllocatedBytes ?? 0;
            for (int i = 0; i < repeats; i++)
            {
                calls();
            }

            (long Thread, long Workers) measured = (GC.GetAllocatedBytesForCurrentThread() - thread, (team?.WorkerAllocatedBytes ?? 0) - workers);
            if (measured == (0, 0))
            {
                return;
            }

            seen.Add(measured);
        }

        Assert.Fail($"{repeats} calls allocated (this thread, workers) bytes in each of three measurements: {string.Join(", ", seen)}.");
    }
}
