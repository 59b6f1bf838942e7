using System.Buffers.Binary;
using System.Text;

namespace Rnn.Simd.Tests.Import;

/// <summary>
/// A minimal writer of ONNX models (the protobuf wire format of <c>ModelProto</c> and the messages under it), enough
/// for graphs of one recurrent node: nodes with int, float, string and strings attributes; float32 initializers
/// (raw_data); typed graph inputs and outputs with fixed or unknown shapes. Each method returns one serialised message,
/// which the caller nests in the next. Used by the ONNX Runtime oracle tests (a layout-0 twin of a layout-1 model) and,
/// linked, by perf/Rnn.Simd.Benchmarks (the peers' models, made in-process).
/// </summary>
internal static class OnnxModelWriter
{
    /// <summary>ONNX's <c>TensorProto.DataType</c> numbers.</summary>
    public const int Float = 1, Int32 = 6, Int64 = 7;

    private const int VarintWire = 0, LengthWire = 2, Fixed32Wire = 5;

    /// <summary>A <c>ModelProto</c>: IR version, the default domain's opset, the graph.</summary>
    public static byte[] Model(long irVersion, long opset, byte[] graph, string producer = "rnn-simd")
    {
        var w = new Writer();
        w.Varint(1, irVersion);
        w.String(2, producer);
        w.Message(7, graph);
        var opsetId = new Writer();
        opsetId.String(1, "");
        opsetId.Varint(2, opset);
        w.Message(8, opsetId.ToArray());
        return w.ToArray();
    }

    /// <summary>A <c>GraphProto</c>.</summary>
    public static byte[] Graph(string name, IEnumerable<byte[]> nodes, IEnumerable<byte[]> initializers, IEnumerable<byte[]> inputs, IEnumerable<byte[]> outputs)
    {
        var w = new Writer();
        foreach (byte[] node in nodes)
        {
            w.Message(1, node);
        }

        w.String(2, name);
        foreach (byte[] tensor in initializers)
        {
            w.Message(5, tensor);
        }

        foreach (byte[] input in inputs)
        {
            w.Message(11, input);
        }

        foreach (byte[] output in outputs)
        {
            w.Message(12, output);
        }

        return w.ToArray();
    }

    /// <summary>A <c>NodeProto</c> of the default domain; an empty input or output name is an omitted optional one.</summary>
    public static byte[] Node(string opType, string name, IEnumerable<string> inputs, IEnumerable<string> outputs, IEnumerable<byte[]> attributes)
    {
        var w = new Writer();
        foreach (string input in inputs)
        {
            w.String(1, input);
        }

        foreach (string output in outputs)
        {
            w.String(2, output);
        }

        w.String(3, name);
        w.String(4, opType);
        foreach (byte[] attribute in attributes)
        {
            w.Message(5, attribute);
        }

        return w.ToArray();
    }

    /// <summary>An INT attribute (<c>AttributeProto.type</c> 2).</summary>
    public static byte[] IntAttribute(string name, long value)
    {
        var w = new Writer();
        w.String(1, name);
        w.Varint(3, value);
        w.Varint(20, 2);
        return w.ToArray();
    }

    /// <summary>A FLOAT attribute (type 1).</summary>
    public static byte[] FloatAttribute(string name, float value)
    {
        var w = new Writer();
        w.String(1, name);
        w.Fixed32(2, value);
        w.Varint(20, 1);
        return w.ToArray();
    }

    /// <summary>A STRING attribute (type 3).</summary>
    public static byte[] StringAttribute(string name, string value)
    {
        var w = new Writer();
        w.String(1, name);
        w.String(4, value);
        w.Varint(20, 3);
        return w.ToArray();
    }

    /// <summary>A STRINGS attribute (type 8).</summary>
    public static byte[] StringsAttribute(string name, IEnumerable<string> values)
    {
        var w = new Writer();
        w.String(1, name);
        foreach (string value in values)
        {
            w.String(9, value);
        }

        w.Varint(20, 8);
        return w.ToArray();
    }

    /// <summary>A float32 <c>TensorProto</c> with its values as little-endian raw_data.</summary>
    public static byte[] FloatTensor(string name, ReadOnlySpan<long> dimensions, ReadOnlySpan<float> values)
    {
        long count = 1;
        foreach (long d in dimensions)
        {
            count *= d;
        }

        if (count != values.Length)
        {
            throw new ArgumentException($"Tensor '{name}': [{string.Join(", ", dimensions.ToArray())}] holds {count} values, not {values.Length}.", nameof(values));
        }

        var w = new Writer();
        foreach (long d in dimensions)
        {
            w.Varint(1, d);
        }

        w.Varint(2, Float);
        w.String(8, name);
        byte[] raw = new byte[values.Length * sizeof(float)];
        for (int i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(raw.AsSpan(i * sizeof(float)), values[i]);
        }

        w.Bytes(9, raw);
        return w.ToArray();
    }

    /// <summary>A <c>ValueInfoProto</c> of a tensor: name, element type, and the dimensions (none written when
    /// <paramref name="shapeKnown"/> is false: any shape).</summary>
    public static byte[] TensorValue(string name, int elementType, ReadOnlySpan<long> dimensions, bool shapeKnown = true)
    {
        var tensor = new Writer();
        tensor.Varint(1, elementType);
        if (shapeKnown)
        {
            var shape = new Writer();
            foreach (long d in dimensions)
            {
                var dim = new Writer();
                dim.Varint(1, d);
                shape.Message(1, dim.ToArray());
            }

            tensor.Message(2, shape.ToArray());
        }

        var type = new Writer();
        type.Message(1, tensor.ToArray());
        var w = new Writer();
        w.String(1, name);
        w.Message(2, type.ToArray());
        return w.ToArray();
    }

    /// <summary>Protobuf fields appended to a growing buffer.</summary>
    private sealed class Writer
    {
        private readonly List<byte> _bytes = [];

        public byte[] ToArray() => [.. _bytes];

        public void Varint(int field, long value)
        {
            Tag(field, VarintWire);
            Raw((ulong)value);
        }

        public void Fixed32(int field, float value)
        {
            Tag(field, Fixed32Wire);
            Span<byte> b = stackalloc byte[4];
            BinaryPrimitives.WriteSingleLittleEndian(b, value);
            foreach (byte x in b)
            {
                _bytes.Add(x);
            }
        }

        public void String(int field, string value) => Bytes(field, Encoding.UTF8.GetBytes(value));

        public void Message(int field, byte[] message) => Bytes(field, message);

        public void Bytes(int field, byte[] value)
        {
            Tag(field, LengthWire);
            Raw((ulong)value.Length);
            _bytes.AddRange(value);
        }

        private void Tag(int field, int wire) => Raw(((ulong)field << 3) | (uint)wire);

        private void Raw(ulong value)
        {
            while (value >= 0x80)
            {
                _bytes.Add((byte)(value | 0x80));
                value >>= 7;
            }

            _bytes.Add((byte)value);
        }
    }
}
