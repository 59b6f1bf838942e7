using Rnn.Simd.Kernels.Threading;
using Rnn.Simd.Tests.Infrastructure;

namespace Rnn.Simd.Tests.Kernels;

[Trait("Category", "Kernels")]
[Trait("Isa", "All")]
[Collection(NonParallelCollection.Name)]
public sealed class ThreadTeamTests
{
    private struct CountParts(int[] counts) : IParallelJob
    {
        public readonly void Execute(int part) => Interlocked.Increment(ref counts[part]);
    }

    /// <summary>
    /// A job dispatched the moment a team is built (before its threads have started) still runs on every part:
    /// the start-up race that once left a worker waiting for a generation it had already skipped.
    /// </summary>
    [Fact]
    public async Task AJobRightAfterConstruction_RunsEveryPart_AndDisposeJoins()
    {
        var run = Task.Run(() =>
        {
            for (int i = 0; i < 300; i++)
            {
                using var team = new ThreadTeam(3);
                var counts = new int[3];
                var job = new CountParts(counts);
                team.Run(ref job, 3);
                Assert.Equal([1, 1, 1], counts);
            }
        });
        // A hang shows as a TimeoutException here instead of a test run that never ends.
        await run.WaitAsync(TimeSpan.FromSeconds(60));
    }

    [Fact]
    public async Task ManyJobs_WithPausesLongEnoughForWorkersToSleep_AllComplete()
    {
        using var team = new ThreadTeam(2);
        var counts = new int[2];
        var run = Task.Run(() =>
        {
            for (int i = 0; i < 200; i++)
            {
                var job = new CountParts(counts);
                team.Run(ref job, 2);
                if (i % 20 == 0)
                {
                    Thread.Sleep(2);   // past the spin window: the worker blocks and must be woken
                }
            }
        });
        await run.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal([200, 200], counts);
    }

    [Fact]
    public void AnExceptionInAWorkerPart_ReachesTheCaller_AndTheTeamStaysUsable()
    {
        using var team = new ThreadTeam(2);
        var failing = new Failing();
        Assert.Throws<InvalidOperationException>(() => team.Run(ref failing, 2));
        var counts = new int[2];
        var job = new CountParts(counts);
        team.Run(ref job, 2);
        Assert.Equal([1, 1], counts);
        Assert.Equal("threadCount", Assert.Throws<ArgumentOutOfRangeException>(() => new ThreadTeam(0)).ParamName);
    }

    private struct Failing : IParallelJob
    {
        public readonly void Execute(int part)
        {
            if (part == 1)
            {
                throw new InvalidOperationException("part 1 failed");
            }
        }
    }
}
