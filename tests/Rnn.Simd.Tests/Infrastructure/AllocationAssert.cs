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
    public static void None(Action calls, ThreadTeam? team = null, int repeats = 20)
    {
        WarmUp.Run(calls);
        long thread = GC.GetAllocatedBytesForCurrentThread();
        long workers = team?.WorkerAllocatedBytes ?? 0;
        for (int i = 0; i < repeats; i++)
        {
            calls();
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - thread);
        Assert.Equal(0, (team?.WorkerAllocatedBytes ?? 0) - workers);
    }
}
