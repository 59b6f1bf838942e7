using System.Buffers.Binary;
using System.Text;

namespace Rnn.Simd.Import.Onnx;

/// <summary>
/// Writes small ONNX models (one graph: nodes with attributes, float initializers, typed inputs and outputs) in
/// the protobuf wire format, with the field numbers of onnx.proto. For the fuzzer's seeds, the tests and the
/// benchmarks, which make their models in code; the importer never writes.
/// </summary>
internal sealed class OnnxWriter
{
    private readonly List<byte[]> _nodes = [], _initializers = [], _inputs = [], _outputs = [];

    /// <summary>A float initializer (raw little-endian data).</summary>
    public OnnxWriter Initializer(string name, ReadOnlySpan<long> dims, ReadOnlySpan<float> values)
    {
        _initializers.Add(Tensor(name, dims, values));
        return this;
    }

    /// <summary>A graph input of element type <paramref name="elementType"/> (1 float, 6 int32, 7 int64); a
    /// negative dimension is written as a symbolic one.</summary>
    public OnnxWriter Input(string name, int elementType, params long[] dims)
    {
        _inputs.Add(Value(name, elementType, dims));
        return this;
    }

    /// <summary>A graph output; null dimensions leave its shape unstated.</summary>
    public OnnxWriter Output(string name, int elementType, params long[]? dims)
    {
        _outputs.Add(Value(name, elementType, dims));
        return this;
    }

    /// <summary>A node; attribute values may be long, float, string, long[], float[], string[] or a <see cref="Graph"/>.</summary>
    public OnnxWriter Node(string opType, string name, string[] inputs, string[] outputs, params (string Name, object Value)[] attributes)
    {
        var node = new Message();
        foreach (string input in inputs)
        {
            node.String(1, input);
        }

        foreach (string output in outputs)
        {
            node.String(2, output);
        }

        node.String(3, name).String(4, opType);
        foreach ((string attributeName, object value) in attributes)
        {
            node.Bytes(5, Attribute(attributeName, value));
        }

        _nodes.Add(node.ToArray());
        return this;
    }

    /// <summary>An int64 initializer (typed field).</summary>
    public OnnxWriter Initializer(string name, ReadOnlySpan<long> dims, ReadOnlySpan<long> values)
    {
        _initializers.Add(IntegerTensor(name, 7, dims, values));
        return this;
    }

    /// <summary>The model: the default domain at <paramref name="opset"/>, IR version <paramref name="irVersion"/>.</summary>
    public byte[] Build(long opset, string graphName = "graph", long irVersion = 8) =>
        new Message()
            .Varint(1, (ulong)irVersion)
            .String(2, "rnn-simd")
            .Bytes(7, GraphBytes(graphName))
            .Bytes(8, new Message().String(1, "").Varint(2, (ulong)opset).ToArray())
            .ToArray();

    /// <summary>This writer's nodes, initializers, inputs and outputs as a subgraph: the value of a GRAPH attribute
    /// (If's then_branch and else_branch) of a node of another writer.</summary>
    public Graph Subgraph(string name) => new(GraphBytes(name));

    private byte[] GraphBytes(string graphName)
    {
        var graph = new Message();
        foreach (byte[] n in _nodes)
        {
            graph.Bytes(1, n);
        }

        graph.String(2, graphName);
        foreach (byte[] t in _initializers)
        {
            graph.Bytes(5, t);
        }

        foreach (byte[] v in _inputs)
        {
            graph.Bytes(11, v);
        }

        foreach (byte[] v in _outputs)
        {
            graph.Bytes(12, v);
        }

        return graph.ToArray();
    }

    /// <summary>A serialised float <c>TensorProto</c> (the format of test data files).</summary>
    public static byte[] Tensor(string name, ReadOnlySpan<long> dims, ReadOnlySpan<float> values)
    {
        var t = new Message();
        foreach (long d in dims)
        {
            t.Varint(1, (ulong)d);
        }

        var raw = new byte[4 * values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(raw.AsSpan(4 * i), values[i]);
        }

        return t.Varint(2, 1).String(8, name).Bytes(9, raw).ToArray();
    }

    /// <summary>A serialised int32 or int64 <c>TensorProto</c> (<paramref name="elementType"/> 6 or 7), values in the typed field.</summary>
    public static byte[] IntegerTensor(string name, int elementType, ReadOnlySpan<long> dims, ReadOnlySpan<long> values)
    {
        var t = new Message();
        foreach (long d in dims)
        {
            t.Varint(1, (ulong)d);
        }

        t.Varint(2, (ulong)elementType).String(8, name);
        var packed = new Message();
        foreach (long v in values)
        {
            packed.RawVarint(unchecked((ulong)v));
        }

        return t.Bytes(elementType == 7 ? 7 : 5, packed.ToArray()).ToArray();
    }

    private static byte[] Value(string name, int elementType, long[]? dims)
    {
        if (dims is null)
        {
            byte[] unshaped = new Message().Varint(1, (ulong)elementType).ToArray();
            return new Message().String(1, name).Bytes(2, new Message().Bytes(1, unshaped).ToArray()).ToArray();
        }

        var shape = new Message();
        foreach (long d in dims)
        {
            shape.Bytes(1, d < 0 ? new Message().String(2, "dynamic").ToArray() : new Message().Varint(1, (ulong)d).ToArray());
        }

        byte[] tensorType = new Message().Varint(1, (ulong)elementType).Bytes(2, shape.ToArray()).ToArray();
        return new Message().String(1, name).Bytes(2, new Message().Bytes(1, tensorType).ToArray()).ToArray();
    }

    private static byte[] Attribute(string name, object value)
    {
        var a = new Message().String(1, name);
        switch (value)
        {
            case float f:
                a.Fixed32(2, f).Varint(20, 1);
                break;
            case long or int:
                a.Varint(3, unchecked((ulong)Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture))).Varint(20, 2);
                break;
            case string s:
                a.String(4, s).Varint(20, 3);
                break;
            case float[] floats:
                foreach (float f in floats)
                {
                    a.Fixed32(7, f);
                }

                a.Varint(20, 6);
                break;
            case long[] ints:
                foreach (long i in ints)
                {
                    a.Varint(8, unchecked((ulong)i));
                }

                a.Varint(20, 7);
                break;
            case Graph g:
                a.Bytes(6, g.Bytes).Varint(20, 5);
                break;
            case string[] strings:
                foreach (string s in strings)
                {
                    a.String(9, s);
                }

                a.Varint(20, 8);
                break;
            default:
                throw new ArgumentException($"Attribute '{name}': values of type {value.GetType().Name} are not written.", nameof(value));
        }

        return a.ToArray();
    }

    /// <summary>A serialised <c>GraphProto</c>, for a GRAPH attribute.</summary>
    public sealed record Graph(byte[] Bytes);

    /// <summary>One message being written.</summary>
    private sealed class Message
    {
        private readonly List<byte> _bytes = [];

        public Message Varint(int field, ulong value) => Tag(field, 0).RawVarint(value);

        public Message Fixed32(int field, float value)
        {
            Tag(field, 5);
            Span<byte> b = stackalloc byte[4];
            BinaryPrimitives.WriteSingleLittleEndian(b, value);
            foreach (byte x in b)
            {
                _bytes.Add(x);
            }

            return this;
        }

        public Message String(int field, string value) => Bytes(field, Encoding.UTF8.GetBytes(value));

        public Message Bytes(int field, byte[] value)
        {
            Tag(field, 2).RawVarint((ulong)value.Length);
            _bytes.AddRange(value);
            return this;
        }

        public Message RawVarint(ulong value)
        {
            while (value >= 0x80)
            {
                _bytes.Add((byte)(value | 0x80));
                value >>= 7;
            }

            _bytes.Add((byte)value);
            return this;
        }

        public byte[] ToArray() => [.. _bytes];

        private Message Tag(int field, int wire) => RawVarint(((ulong)field << 3) | (uint)wire);
    }
}
