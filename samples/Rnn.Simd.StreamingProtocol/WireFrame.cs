using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Rnn.Simd.StreamingProtocol;

/// <summary>
/// A <c>Frame</c> or an <c>Output</c> of streaming.proto (the two share one wire layout: field 1 a uint64 sequence
/// number, field 2 packed floats) in buffers that are reused: <see cref="StreamingMethods"/> parses each incoming
/// message into a <see cref="WireFrame"/> rented from <see cref="WireFramePool"/> and writes outgoing ones straight
/// into gRPC's buffer, so a frame costs no allocation once the pool and buffers have grown. The bytes are those
/// Google.Protobuf reads and writes: clients built from the .proto talk to a service using this, and the reverse.
/// </summary>
public sealed class WireFrame
{
    private const uint SequenceTag = (1 << 3) | 0;         // field 1, varint
    private const uint PackedValuesTag = (2 << 3) | 2;     // field 2, length-delimited (packed)
    private const uint ValueTag = (2 << 3) | 5;            // field 2, one fixed32 (unpacked: parsers must take it too)

    private byte[] _scratch = [];   // a payload that arrived in several segments, made contiguous

    /// <summary>A frame whose buffer holds <paramref name="capacity"/> values (it grows when a message carries more).</summary>
    public WireFrame(int capacity = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(capacity);
        Values = new float[capacity];
    }

    /// <summary>The message's sequence number.</summary>
    public ulong Sequence { get; set; }

    /// <summary>The buffer: the message's values are its first <see cref="Count"/>.</summary>
    public float[] Values { get; private set; }

    /// <summary>How many values the message carries (at most <see cref="Values"/>' length).</summary>
    public int Count
    {
        get;
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(value, Values.Length);
            field = value;
        }
    }

    /// <summary>Why the last message parsed into this frame is not a valid one (truncated, a bad length), or null.</summary>
    public string? Error { get; private set; }

    /// <summary>The message's values.</summary>
    public Span<float> Span => Values.AsSpan(0, Count);

    /// <summary>The size of the message on the wire, in bytes.</summary>
    public int WireSize => (Sequence == 0 ? 0 : 1 + VarintSize(Sequence)) + (Count == 0 ? 0 : 1 + VarintSize((uint)(4 * Count)) + (4 * Count));

    /// <summary>Sets the frame to <paramref name="values"/> (the buffer grows if it must).</summary>
    public void Set(ulong sequence, ReadOnlySpan<float> values)
    {
        Grow(values.Length);
        Sequence = sequence;
        values.CopyTo(Values);
        Count = values.Length;
        Error = null;
    }

    /// <summary>Writes the message (<see cref="WireSize"/> bytes) into <paramref name="destination"/>.</summary>
    /// <returns>The bytes written.</returns>
    public int WriteTo(Span<byte> destination)
    {
        int p = 0;
        if (Sequence != 0)
        {
            p += WriteVarint(destination, SequenceTag);
            p += WriteVarint(destination[p..], Sequence);
        }

        if (Count != 0)
        {
            p += WriteVarint(destination[p..], PackedValuesTag);
            p += WriteVarint(destination[p..], (uint)(4 * Count));
            Span<byte> bytes = destination.Slice(p, 4 * Count);
            if (BitConverter.IsLittleEndian)
            {
                MemoryMarshal.AsBytes(Span).CopyTo(bytes);
            }
            else
            {
                for (int i = 0; i < Count; i++)
                {
                    BinaryPrimitives.WriteSingleLittleEndian(bytes[(4 * i)..], Values[i]);
                }
            }

            p += bytes.Length;
        }

        return p;
    }

    /// <summary>
    /// Reads one message, as a proto3 parser does: fields in any order, the values packed or not and in any number of
    /// runs, the last sequence number kept, unknown fields skipped. Malformed bytes leave <see cref="Error"/> set.
    /// </summary>
    public void Parse(ReadOnlySequence<byte> payload)
    {
        if (payload.IsSingleSegment)
        {
            Parse(payload.FirstSpan);
            return;
        }

        if (_scratch.Length < payload.Length)
        {
            _scratch = new byte[(int)payload.Length];
        }

        payload.CopyTo(_scratch);
        Parse(_scratch.AsSpan(0, (int)payload.Length));
    }

    /// <inheritdoc cref="Parse(ReadOnlySequence{byte})"/>
    public void Parse(ReadOnlySpan<byte> message)
    {
        Sequence = 0;
        Count = 0;
        Error = null;
        int p = 0;
        while (p < message.Length)
        {
            if (!TryReadVarint(message, ref p, out ulong tag) || tag >> 3 == 0 || tag >> 3 > int.MaxValue)
            {
                Error = $"a bad field tag at byte {p}";
                return;
            }

            bool ok = (uint)tag switch
            {
                SequenceTag => TryReadVarint(message, ref p, out ulong sequence) && Keep(sequence),
                PackedValuesTag => TryReadPacked(message, ref p),
                ValueTag => TryReadFloats(message, ref p, 1),
                _ => TrySkip(message, ref p, (int)(tag & 7)),
            };
            if (!ok)
            {
                Error ??= $"field {tag >> 3} is truncated or malformed (byte {p} of {message.Length})";
                return;
            }
        }
    }

    private bool Keep(ulong sequence)
    {
        Sequence = sequence;
        return true;
    }

    private bool TryReadPacked(ReadOnlySpan<byte> message, ref int p)
    {
        if (!TryReadVarint(message, ref p, out ulong length) || length > (ulong)(message.Length - p))
        {
            return false;
        }

        if (length % 4 != 0)
        {
            Error = $"packed values of {length} bytes, not a whole number of floats";
            return false;
        }

        return TryReadFloats(message, ref p, (int)(length / 4));
    }

    private bool TryReadFloats(ReadOnlySpan<byte> message, ref int p, int count)
    {
        if (count > (message.Length - p) / 4)
        {
            return false;
        }

        Grow(Count + count);
        ReadOnlySpan<byte> bytes = message.Slice(p, 4 * count);
        Span<float> values = Values.AsSpan(Count, count);
        if (BitConverter.IsLittleEndian)
        {
            bytes.CopyTo(MemoryMarshal.AsBytes(values));
        }
        else
        {
            for (int i = 0; i < count; i++)
            {
                values[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes[(4 * i)..]);
            }
        }

        Count += count;
        p += 4 * count;
        return true;
    }

    private static bool TrySkip(ReadOnlySpan<byte> message, ref int p, int wireType)
    {
        switch (wireType)
        {
            case 0:
                return TryReadVarint(message, ref p, out _);
            case 1:
            case 5:
                int size = wireType == 1 ? 8 : 4;
                if (message.Length - p < size)
                {
                    return false;
                }

                p += size;
                return true;
            case 2:
                if (!TryReadVarint(message, ref p, out ulong length) || length > (ulong)(message.Length - p))
                {
                    return false;
                }

                p += (int)length;
                return true;
            default:
                return false;   // groups (3, 4) are not proto3; 6 and 7 are no wire type
        }
    }

    private void Grow(int count)
    {
        if (count > Values.Length)
        {
            float[] values = new float[Math.Max(count, 2 * Values.Length)];
            Values.AsSpan(0, Count).CopyTo(values);
            Values = values;
        }
    }

    private static bool TryReadVarint(ReadOnlySpan<byte> message, ref int p, out ulong value)
    {
        value = 0;
        for (int shift = 0; shift < 64 && p < message.Length; shift += 7)
        {
            byte b = message[p++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return true;
            }
        }

        return false;
    }

    private static int WriteVarint(Span<byte> destination, ulong value)
    {
        int p = 0;
        while (value >= 0x80)
        {
            destination[p++] = (byte)(value | 0x80);
            value >>= 7;
        }

        destination[p++] = (byte)value;
        return p;
    }

    private static int VarintSize(ulong value) => 1 + ((63 - System.Numerics.BitOperations.LeadingZeroCount(value | 1)) / 7);
}
