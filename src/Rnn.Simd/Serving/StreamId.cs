using System.Globalization;

namespace Rnn.Simd.Serving;

/// <summary>
/// A stream registered with a <see cref="StreamBatcher"/> or an <see cref="AsyncStreamBatcher"/>: its slot and the
/// slot's generation. Once the stream is removed the id is stale for good, even after its slot serves another stream;
/// the default value names no stream.
/// </summary>
public readonly struct StreamId : IEquatable<StreamId>
{
    internal StreamId(int slot, int generation)
    {
        Slot = slot;
        Generation = generation;
    }

    /// <summary>The slot the stream's state occupies (slots of removed streams are reused).</summary>
    public int Slot { get; }

    /// <summary>How many streams the slot had held before this one, plus one (0 only for the default value).</summary>
    internal int Generation { get; }

    /// <summary>Whether both ids name the same stream.</summary>
    public static bool operator ==(StreamId left, StreamId right) => left.Equals(right);

    /// <summary>Whether the ids name different streams.</summary>
    public static bool operator !=(StreamId left, StreamId right) => !left.Equals(right);

    /// <inheritdoc/>
    public bool Equals(StreamId other) => Slot == other.Slot && Generation == other.Generation;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is StreamId other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Slot, Generation);

    /// <inheritdoc/>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"stream {Slot}.{Generation}");
}
