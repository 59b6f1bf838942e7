namespace Rnn.Simd.Tests.Infrastructure;

/// <summary>Tests that measure process-wide counters (allocations, threads) run alone.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class NonParallelCollection
{
    public const string Name = "NonParallel";
}
