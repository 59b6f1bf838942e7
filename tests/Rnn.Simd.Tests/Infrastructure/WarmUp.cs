namespace Rnn.Simd.Tests.Infrastructure;

/// <summary>
/// Brings code to its steady state before a zero-allocation measurement: tiered compilation promotes a method
/// after 30 calls on a background thread (after a short delay), and on-stack replacement compiles hot loops on
/// the calling thread, which can allocate runtime type objects there. "After warm-up" means after both.
/// </summary>
internal static class WarmUp
{
    public static void Run(Action calls)
    {
        for (int round = 0; round < 3; round++)
        {
            for (int i = 0; i < 40; i++)
            {
                calls();
            }

            Thread.Sleep(150);
        }
    }
}
