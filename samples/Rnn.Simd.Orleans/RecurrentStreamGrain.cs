using Microsoft.Extensions.Logging;
using Rnn.Simd.IO;
using Rnn.Simd.Layers;
using Rnn.Simd.Serving;

namespace Rnn.Simd.Orleans;

/// <summary>
/// A stream as a grain: on activation it registers a stream with its silo's <see cref="RecurrentStreamHost"/> batcher
/// and restores the stream's saved state, if any; each <see cref="Step"/> is one step of the shared batcher (batched
/// with the silo's other streams waiting at the same time); on deactivation (idle, migration, silo shutdown) it saves
/// the stream's state and leaves the batcher. The stream then continues, bit-identically, wherever it activates next.
/// </summary>
/// <remarks>
/// <para>When the state is saved: always on deactivation, and also after every
/// <see cref="RecurrentStreamHost.PersistEvery"/> steps if that is set. Deactivation covers moves between silos (grain
/// migration, rebalancing, a graceful shutdown); a silo that crashes deactivates nothing, so its streams go on from
/// their last save: with PersistEvery = N at most N − 1 steps are lost, and <see cref="GetSteps"/> tells a client
/// how many steps the state holds, so it can tell a rewound stream from a live one. PersistEvery = 1 makes every
/// completed step durable before its output is returned, at one storage write a step.</para>
/// <para>The grain is not reentrant, so one stream's steps run one at a time and in call order; the batching is
/// across streams (grains) of one silo.</para>
/// </remarks>
public sealed partial class RecurrentStreamGrain : Grain, IRecurrentStreamGrain
{
    private readonly RecurrentStreamHost _host;
    private readonly IPersistentState<RecurrentStreamSnapshot> _saved;
    private readonly ILocalSiloDetails _silo;
    private readonly ILogger<RecurrentStreamGrain> _logger;
    private RecurrentState? _scratch;   // batch-1 state for snapshots
    private StreamId _stream;
    private bool _registered;
    private int _sinceSave;

    /// <summary>Created by the silo.</summary>
    public RecurrentStreamGrain(
        RecurrentStreamHost host,
        [PersistentState("stream", RecurrentStreamHost.StorageName)] IPersistentState<RecurrentStreamSnapshot> saved,
        ILocalSiloDetails silo,
        ILogger<RecurrentStreamGrain> logger)
    {
        _host = host;
        _saved = saved;
        _silo = silo;
        _logger = logger;
    }

    /// <inheritdoc/>
    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _stream = _host.Batcher.Add();
        _registered = true;
        try
        {
            if (_saved.State.State is { Length: > 0 } bytes)
            {
                // A state of another architecture throws InvalidDataException: the activation fails rather than
                // continuing the stream from zeros.
                using var file = new MemoryStream(bytes, writable: false);
                RecurrentState state = RecurrentStateSerializer.Load(_host.Network, file);
                _host.Batcher.Restore(_stream, state);
                LogRestored(this.GetPrimaryKeyString(), state.Steps);
            }
        }
        catch
        {
            Unregister();
            throw;
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        if (!_registered)
        {
            return;
        }

        try
        {
            await SaveAsync();
        }
        finally
        {
            Unregister();
        }
    }

    /// <inheritdoc/>
    public async Task<float[]> Step(float[] input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var output = new float[_host.Network.Options.OutputSize];
        await _host.Batcher.StepAsync(_stream, input, output);
        if (_host.PersistEvery > 0 && ++_sinceSave >= _host.PersistEvery)
        {
            await SaveAsync();
        }

        return output;
    }

    /// <inheritdoc/>
    public Task Reset()
    {
        _host.Batcher.Reset(_stream);
        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public Task<long> GetSteps() => Task.FromResult(_host.Batcher.StepsOf(_stream));

    /// <inheritdoc/>
    public Task<SiloAddress> GetSilo() => Task.FromResult(_silo.SiloAddress);

    /// <summary>Writes the stream's state to the grain storage (between its steps: the grain is not reentrant).</summary>
    private async Task SaveAsync()
    {
        _scratch ??= _host.Network.CreateState();
        _host.Batcher.Snapshot(_stream, _scratch);
        using var file = new MemoryStream();
        RecurrentStateSerializer.Save(_scratch, file);
        _saved.State.State = file.ToArray();
        await _saved.WriteStateAsync();
        _sinceSave = 0;
    }

    private void Unregister()
    {
        _registered = false;
        _host.Batcher.Remove(_stream);
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Stream {Stream} restored at step {Steps}.")]
    private partial void LogRestored(string stream, long steps);
}
