using Microsoft.Extensions.DependencyInjection;
using Rnn.Simd.Layers;
using Rnn.Simd.Serving;

namespace Rnn.Simd.Orleans;

/// <summary>Silo configuration for <see cref="RecurrentStreamGrain"/>.</summary>
public static class RecurrentStreamSiloBuilderExtensions
{
    /// <summary>
    /// Registers the silo's <see cref="RecurrentStreamHost"/>: <paramref name="loadNetwork"/> runs once, when the
    /// silo's first stream activates. The silo also needs a grain storage named
    /// <see cref="RecurrentStreamHost.StorageName"/> that outlives the silo (a database; memory storage only in tests).
    /// </summary>
    /// <param name="builder">The silo.</param>
    /// <param name="loadNetwork">Loads the network (a checkpoint, an import): the same weights on every silo.</param>
    /// <param name="batching">The batcher's options, or null for its defaults.</param>
    /// <param name="persistEvery">Save a stream's snapshot after every this many steps as well (0: only on deactivation).</param>
    public static ISiloBuilder AddRecurrentStreams(
        this ISiloBuilder builder, Func<IServiceProvider, RecurrentNetwork> loadNetwork, AsyncStreamBatcherOptions? batching = null, int persistEvery = 0)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(loadNetwork);
        ArgumentOutOfRangeException.ThrowIfNegative(persistEvery);
        builder.Services.AddSingleton(services => new RecurrentStreamHost(loadNetwork(services), batching, persistEvery));
        return builder;
    }
}
