using System.Buffers.Binary;
using System.Text;
using Rnn.Simd.Internal;

namespace Rnn.Simd.Import.Onnx;

/// <summary>The protobuf wire types this reader accepts (groups, 3 and 4, are refused: ONNX never uses them).</summary>
internal enum WireType
{
    Varint = 0,
    Fixed64 = 1,
    LengthDelimited = 2,
    Fixed32 = 5,
}

/// <summary>
/// A reader of the protobuf wire format over bytes already in memory, for untrusted files: every length is checked
/// against the bytes that remain before anything is sliced or allocated, varints are at most ten bytes, field
/// numbers are positive, unknown fields are skipped, and every failure is an <see cref="InvalidDataException"/>
/// naming what was being read and where. It allocates nothing; its callers allocate only what the bytes they
/// read justify (a string of n bytes, an array of n / 4 floats).
/// </summary>
/// <remarks>
/// Why our own reader rather than generated classes: the limits (a length is checked against the enclosing message
/// before use, nesting bounded (the schema, and subgraphs at most OnnxGraph.MaxDepth deep), tensor sizes checked against their bytes) have to hold at
/// every step of the parse, and ONNX needs only four wire types; the reader is 200 lines that the hostile-file
/// tests (OnnxHostileFileTests) exercise byte by byte.
/// </remarks>
internal ref struct ProtoReader
{
    private readonly ReadOnlySpan<byte> _data;
    private readonly string _what;
    private int _position;

    public ProtoReader(ReadOnlySpan<byte> data, string what)
    {
        _data = data;
        _what = what;
        _position = 0;
    }

    /// <summary>Whether every byte has been read.</summary>
    public readonly bool AtEnd => _position >= _data.Length;

    /// <summary>Reads the next field's tag; false at the end of the message.</summary>
    public bool TryReadTag(out int field, out WireType wire)
    {
        if (AtEnd)
        {
            field = 0;
            wire = default;
            return false;
        }

        ulong tag = ReadVarint();
        ulong number = tag >> 3;
        int type = (int)(tag & 7);
        if (number == 0 || number > int.MaxValue)
        {
            Fail($"field number {number}");
        }

        if (type is not (0 or 1 or 2 or 5))
        {
            Fail($"wire type {type} (field {number})");
        }

        field = (int)number;
        wire = (WireType)type;
        return true;
    }

    /// <summary>A varint (at most ten bytes).</summary>
    public ulong ReadVarint()
    {
        ulong value = 0;
        for (int shift = 0; shift < 70; shift += 7)
        {
            if (_position >= _data.Length)
            {
                Fail("a varint that runs past the end");
            }

            byte b = _data[_position++];
            if (shift == 63 && b > 1)
            {
                Fail("a varint of more than 64 bits");
            }

            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return value;
            }
        }

        Fail("a varint longer than ten bytes");
        return 0;
    }

    /// <summary>A varint read as a signed 64-bit integer (protobuf's int64: two's complement).</summary>
    public long ReadInt64() => unchecked((long)ReadVarint());

    /// <summary>A varint read as protobuf's int32 (negative values are sign-extended to ten bytes on the wire).</summary>
    public int ReadInt32()
    {
        long value = ReadInt64();
        if (value is < int.MinValue or > int.MaxValue)
        {
            Fail($"an int32 of {value}");
        }

        return (int)value;
    }

    /// <summary>The bytes of a length-delimited field (a message, a string, a packed array).</summary>
    public ReadOnlySpan<byte> ReadBytes()
    {
        ulong length = ReadVarint();
        if (length > (ulong)(_data.Length - _position))
        {
            Fail($"a field of {length} bytes where {_data.Length - _position} remain");
        }

        ReadOnlySpan<byte> bytes = _data.Slice(_position, (int)length);
        _position += (int)length;
        return bytes;
    }

    /// <summary>A UTF-8 string field (invalid UTF-8 is refused).</summary>
    public string ReadString()
    {
        ReadOnlySpan<byte> bytes = ReadBytes();
        try
        {
            return s_utf8.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            Fail("a string that is not UTF-8");
            return "";
        }
    }

    /// <summary>A 32-bit little-endian field (float).</summary>
    public float ReadFloat()
    {
        if (_data.Length - _position < 4)
        {
            Fail("a 32-bit field that runs past the end");
        }

        float value = BinaryPrimitives.ReadSingleLittleEndian(_data.Slice(_position, 4));
        _position += 4;
        return value;
    }

    /// <summary>Skips the value of a field of <paramref name="wire"/> type.</summary>
    public void Skip(WireType wire)
    {
        switch (wire)
        {
            case WireType.Varint:
                ReadVarint();
                break;
            case WireType.Fixed64:
                Advance(8);
                break;
            case WireType.Fixed32:
                Advance(4);
                break;
            default:
                ReadBytes();
                break;
        }
    }

    /// <summary>Throws unless the field has the wire type its schema gives it.</summary>
    public readonly void Expect(int field, WireType wire, WireType expected)
    {
        if (wire != expected)
        {
            Fail($"field {field} with wire type {(int)wire}; the schema gives {(int)expected}");
        }
    }

    private void Advance(int count)
    {
        if (_data.Length - _position < count)
        {
            Fail($"a {count * 8}-bit field that runs past the end");
        }

        _position += count;
    }

    private readonly void Fail(string found) =>
        OnnxErrors.Fail($"Malformed ONNX protobuf in {_what} at byte {_position} of {_data.Length}: {found}.");

    private static readonly UTF8Encoding s_utf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
}
