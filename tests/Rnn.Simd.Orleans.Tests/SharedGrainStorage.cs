using System.Collections.Concurrent;
using System.Globalization;
using Orleans.Serialization;
using Orleans.Storage;

namespace Rnn.Simd.Orleans.Tests;

/// <summary>
/// A grain storage outside every silo, as a database is: one <see cref="Records"/> shared by the silos of a test
/// cluster, each silo's provider serialising states to bytes with its own serializer. Orleans' memory storage keeps
/// its records in grains of the cluster, which die with their silo, so it cannot show a stream surviving the silo it
/// ran on. Writes check the ETag, as real storages do.
/// </summary>
internal sealed class SharedGrainStorage(SharedGrainStorage.Records records, Serializer serializer) : IGrainStorage
{
    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        if (records.Items.TryGetValue((stateName, grainId), out Record? record))
        {
            grainState.State = serializer.Deserialize<T>(record.Data);
            grainState.ETag = record.ETag;
            grainState.RecordExists = true;
        }

        return Task.CompletedTask;
    }

    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        string etag = Interlocked.Increment(ref records.Version).ToString(CultureInfo.InvariantCulture);
        var written = new Record(serializer.SerializeToArray(grainState.State), etag);
        records.Items.AddOrUpdate(
            (stateName, grainId),
            _ => grainState.ETag is null ? written : throw new InconsistentStateException("The record is gone.", "none", grainState.ETag),
            (_, stored) => stored.ETag == grainState.ETag ? written : throw new InconsistentStateException("The record was changed.", stored.ETag, grainState.ETag));
        Interlocked.Increment(ref records.Writes);
        grainState.ETag = etag;
        grainState.RecordExists = true;
        return Task.CompletedTask;
    }

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        records.Items.TryRemove((stateName, grainId), out _);
        grainState.ETag = null;
        grainState.RecordExists = false;
        return Task.CompletedTask;
    }

    internal sealed record Record(byte[] Data, string ETag);

    /// <summary>The "database": every record by state name and grain.</summary>
    internal sealed class Records
    {
        public readonly ConcurrentDictionary<(string State, GrainId Grain), Record> Items = new();
        public long Version;
        public long Writes;
    }
}
