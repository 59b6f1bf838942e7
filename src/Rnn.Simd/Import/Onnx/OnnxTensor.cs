using System.Buffers.Binary;
using Rnn.Simd.Internal;

namespace Rnn.Simd.Import.Onnx;

/// <summary>The element types an <see cref="OnnxTensor"/> may hold (ONNX's <c>TensorProto.DataType</c> numbers).</summary>
public enum OnnxElementType
{
    /// <summary>float32 (1).</summary>
    Float = 1,

    /// <summary>int32 (6), read widened to 64 bits.</summary>
    Int32 = 6,

    /// <summary>int64 (7).</summary>
    Int64 = 7,
}

/// <summary>
/// A dense tensor read from an ONNX <c>TensorProto</c> (an initializer, a <c>Constant</c>'s value, or a test data
/// file <c>input_0.pb</c>): its name, shape and values. Immutable.
/// </summary>
/// <remarks>
/// Values may come as <c>raw_data</c> (little-endian) or in the typed fields (<c>float_data</c>, <c>int32_data</c>,
/// <c>int64_data</c>, packed or not); the element count must equal the product of the dimensions, which must be
/// non-negative, and no array is allocated before the bytes that fill it are known to be there. Other element
/// types, external data and segments are refused with an <see cref="InvalidDataException"/> naming the tensor.
/// </remarks>
public sealed class OnnxTensor
{
    private readonly float[] _floats;
    private readonly long[] _integers;
    private readonly long[] _dimensions;

    private OnnxTensor(string name, OnnxElementType type, long[] dimensions, float[] floats, long[] integers)
    {
        Name = name;
        ElementType = type;
        _dimensions = dimensions;
        _floats = floats;
        _integers = integers;
    }

    /// <summary>The tensor's name (empty in a test data file that gives none).</summary>
    public string Name { get; }

    /// <summary>The element type.</summary>
    public OnnxElementType ElementType { get; }

    /// <summary>The dimensions, outermost first (empty for a scalar).</summary>
    public IReadOnlyList<long> Dimensions => _dimensions;

    /// <summary>Number of elements.</summary>
    public int Length => ElementType == OnnxElementType.Float ? _floats.Length : _integers.Length;

    /// <summary>A float tensor's values, row-major (empty for integer tensors).</summary>
    public ReadOnlySpan<float> Floats => _floats;

    /// <summary>An integer tensor's values, row-major (empty for float tensors).</summary>
    public ReadOnlySpan<long> Integers => _integers;

    /// <summary>Reads a serialised <c>TensorProto</c> (the format of ONNX's test data files).</summary>
    /// <exception cref="InvalidDataException">The bytes are not a tensor this reader accepts.</exception>
    public static OnnxTensor Parse(ReadOnlySpan<byte> bytes) => Read(bytes, "a TensorProto");

    /// <summary>Reads a file holding one serialised <c>TensorProto</c>.</summary>
    /// <exception cref="InvalidDataException">The file is not a tensor this reader accepts; the message names it.</exception>
    public static OnnxTensor Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return Read(File.ReadAllBytes(path), path);
    }

    /// <summary>A float tensor made by the caller (for inputs bound as constants).</summary>
    public static OnnxTensor FromFloats(string name, ReadOnlySpan<long> dimensions, ReadOnlySpan<float> values)
    {
        ArgumentNullException.ThrowIfNull(name);
        long[] dims = CheckShape(dimensions, values.Length, name);
        return new OnnxTensor(name, OnnxElementType.Float, dims, values.ToArray(), []);
    }

    /// <summary>An integer tensor made by the caller.</summary>
    public static OnnxTensor FromIntegers(string name, ReadOnlySpan<long> dimensions, ReadOnlySpan<long> values)
    {
        ArgumentNullException.ThrowIfNull(name);
        long[] dims = CheckShape(dimensions, values.Length, name);
        return new OnnxTensor(name, OnnxElementType.Int64, dims, [], values.ToArray());
    }

    /// <inheritdoc/>
    public override string ToString() => $"{Name} {ElementType} [{string.Join(", ", _dimensions)}]";

    internal static OnnxTensor Read(ReadOnlySpan<byte> bytes, string where, string? directory = null)
    {
        var reader = new ProtoReader(bytes, where);
        var dims = new List<long>();
        int dataType = 0;
        string name = "";
        ReadOnlySpan<byte> raw = default, floatData = default, int32Data = default, int64Data = default;
        bool hasRaw = false, external = false, segment = false;
        List<float>? looseFloats = null;
        List<long>? looseIntegers = null;
        Dictionary<string, string>? externalEntries = null;
        byte[]? externalBytes = null;
        while (reader.TryReadTag(out int field, out WireType wire))
        {
            switch (field)
            {
                case 1 when wire == WireType.Varint:
                    dims.Add(reader.ReadInt64());
                    break;
                case 1:
                    reader.Expect(field, wire, WireType.LengthDelimited);
                    ReadPackedVarints(reader.ReadBytes(), dims, where);
                    break;
                case 2:
                    reader.Expect(field, wire, WireType.Varint);
                    dataType = reader.ReadInt32();
                    break;
                case 3:
                    segment = true;
                    reader.Skip(wire);
                    break;
                case 4 when wire == WireType.Fixed32:
                    (looseFloats ??= []).Add(reader.ReadFloat());
                    break;
                case 4:
                    reader.Expect(field, wire, WireType.LengthDelimited);
                    floatData = reader.ReadBytes();
                    break;
                case 5 when wire == WireType.Varint:
                    (looseIntegers ??= []).Add(reader.ReadInt32());
                    break;
                case 5:
                    reader.Expect(field, wire, WireType.LengthDelimited);
                    int32Data = reader.ReadBytes();
                    break;
                case 7 when wire == WireType.Varint:
                    (looseIntegers ??= []).Add(reader.ReadInt64());
                    break;
                case 7:
                    reader.Expect(field, wire, WireType.LengthDelimited);
                    int64Data = reader.ReadBytes();
                    break;
                case 8:
                    reader.Expect(field, wire, WireType.LengthDelimited);
                    name = reader.ReadString();
                    break;
                case 9:
                    reader.Expect(field, wire, WireType.LengthDelimited);
                    raw = reader.ReadBytes();
                    hasRaw = true;
                    break;
                case 13:
                    reader.Expect(field, wire, WireType.LengthDelimited);
                    (string key, string value) = ReadEntry(reader.ReadBytes(), where);
                    (externalEntries ??= [])[key] = value;
                    break;
                case 14:
                    reader.Expect(field, wire, WireType.Varint);
                    external |= reader.ReadVarint() != 0;
                    break;
                default:
                    reader.Skip(wire);
                    break;
            }
        }

        string label = name.Length > 0 ? $"tensor '{name}' in {where}" : $"the tensor in {where}";
        if (external || externalEntries is not null)
        {
            if (directory is null)
            {
                OnnxErrors.Fail($"The {label} keeps its data in an external file; load the model from its file so that its folder is known.");
            }

            externalBytes = ExternalData.Read(directory, externalEntries ?? [], label);
            raw = externalBytes;
            hasRaw = true;
        }

        if (segment)
        {
            OnnxErrors.Fail($"The {label} is a segment of a larger tensor, which ONNX files in use do not write and this reader refuses.");
        }

        if (dataType is not ((int)OnnxElementType.Float or (int)OnnxElementType.Int32 or (int)OnnxElementType.Int64))
        {
            OnnxErrors.Fail($"The {label} has element type {dataType}; float32 (1), int32 (6) and int64 (7) are read.");
        }

        long count = 1;
        foreach (long d in dims)
        {
            if (d < 0)
            {
                OnnxErrors.Fail($"The {label} has a negative dimension {d}.");
            }

            count = d == 0 ? 0 : count > Array.MaxLength / d ? long.MaxValue : count * d;
        }

        var type = (OnnxElementType)dataType;
        int size = type == OnnxElementType.Int64 ? 8 : 4;
        long available = hasRaw ? raw.Length / size : type switch
        {
            OnnxElementType.Float => (floatData.Length / 4) + (looseFloats?.Count ?? 0),
            _ => looseIntegers?.Count ?? 0,
        };
        if (count > Array.MaxLength || (hasRaw && raw.Length != count * size) || (!hasRaw && type == OnnxElementType.Float && available != count))
        {
            OnnxErrors.Fail($"The {label} has shape [{string.Join(", ", dims)}] ({(count > Array.MaxLength ? "too many" : count.ToString(System.Globalization.CultureInfo.InvariantCulture))} elements) but {(hasRaw ? raw.Length + " bytes of raw data" : available + " values")}.");
        }

        int n = (int)count;
        if (type == OnnxElementType.Float)
        {
            var values = new float[n];
            if (hasRaw)
            {
                for (int i = 0; i < n; i++)
                {
                    values[i] = BinaryPrimitives.ReadSingleLittleEndian(raw.Slice(4 * i, 4));
                }
            }
            else
            {
                int packed = floatData.Length / 4;
                for (int i = 0; i < packed; i++)
                {
                    values[i] = BinaryPrimitives.ReadSingleLittleEndian(floatData.Slice(4 * i, 4));
                }

                looseFloats?.CopyTo(values, packed);
            }

            return new OnnxTensor(name, type, [.. dims], values, []);
        }

        var integers = new List<long>(hasRaw ? n : 0);
        if (hasRaw)
        {
            for (int i = 0; i < n; i++)
            {
                integers.Add(size == 8 ? BinaryPrimitives.ReadInt64LittleEndian(raw.Slice(8 * i, 8)) : BinaryPrimitives.ReadInt32LittleEndian(raw.Slice(4 * i, 4)));
            }
        }
        else
        {
            ReadPackedVarints(type == OnnxElementType.Int64 ? int64Data : int32Data, integers, where);
            if (looseIntegers is not null)
            {
                integers.AddRange(looseIntegers);
            }

            if (integers.Count != n)
            {
                OnnxErrors.Fail($"The {label} has shape [{string.Join(", ", dims)}] ({n} elements) but {integers.Count} values.");
            }
        }

        return new OnnxTensor(name, type, [.. dims], [], [.. integers]);
    }

    private static (string Key, string Value) ReadEntry(ReadOnlySpan<byte> bytes, string where)
    {
        var r = new ProtoReader(bytes, where);
        string key = "", value = "";
        while (r.TryReadTag(out int field, out WireType wire))
        {
            if (field is 1 or 2 && wire == WireType.LengthDelimited)
            {
                (field == 1 ? ref key : ref value) = r.ReadString();
            }
            else
            {
                r.Skip(wire);
            }
        }

        return (key, value);
    }

    private static void ReadPackedVarints(ReadOnlySpan<byte> bytes, List<long> into, string where)
    {
        var packed = new ProtoReader(bytes, where);
        while (!packed.AtEnd)
        {
            into.Add(packed.ReadInt64());
        }
    }

    private static long[] CheckShape(ReadOnlySpan<long> dimensions, int length, string name)
    {
        long count = 1;
        foreach (long d in dimensions)
        {
            if (d < 0 || (d > 0 && count > Array.MaxLength / d))
            {
                ThrowHelper.Argument(nameof(dimensions), $"Tensor '{name}': dimension {d} is out of range.");
            }

            count *= d;
        }

        if (count != length)
        {
            ThrowHelper.Argument(nameof(dimensions), $"Tensor '{name}': the shape holds {count} elements; {length} values were given.");
        }

        return dimensions.ToArray();
    }
}
