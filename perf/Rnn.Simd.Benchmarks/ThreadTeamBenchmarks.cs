using BenchmarkDotNet.Attributes;
using Rnn.Simd.Kernels.Threading;

namespace Rnn.Simd.Benchmarks;

/// <summary>
/// What a split costs: one dispatch of a job that does nothing on a team of two, back to back (the worker still
/// spinning from the previous call, as between the products of consecutive time steps), against the same job run
/// inline. perf/results/threads-and-fma.md has the figures.
/// </summary>
public class ThreadTeamBenchmarks
{
    private ThreadTeam _team = null!;

    [GlobalSetup]
    public void Setup() => _team = new ThreadTeam(2);

    [GlobalCleanup]
    public void Cleanup() => _team.Dispose();

    [Benchmark(Baseline = true)]
    public void Inline()
    {
        var job = default(EmptyJob);
        _team.Run(ref job, 1);
    }

    [Benchmark]
    public void BackToBack()
    {
        var job = default(EmptyJob);
        _team.Run(ref job, 2);
    }

    private struct EmptyJob : IParallelJob
    {
        public readonly void Execute(int part)
        {
        }
    }
}
