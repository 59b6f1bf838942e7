using Rnn.Simd.Internal;

namespace Rnn.Simd.Import.Onnx;

/// <summary>One attribute of a node: its name and the value of its type (ONNX's <c>AttributeProto</c>); <see cref="Graph"/>
/// is a subgraph (If's then_branch and else_branch).</summary>
internal sealed record OnnxAttribute(string Name, int Type, float F, long I, string S, OnnxTensor? T, float[] Floats, long[] Ints, string[] Strings, OnnxGraph? Graph = null);

/// <summary>One node of a graph (ONNX's <c>NodeProto</c>); an empty input name is an omitted optional input.</summary>
internal sealed record OnnxNode(string Name, string OpType, string Domain, string[] Inputs, string[] Outputs, IReadOnlyDictionary<string, OnnxAttribute> Attributes)
{
    /// <summary>The node as error messages name it.</summary>
    public string Label => Name.Length > 0 ? $"{OpType} node '{Name}'" : $"{OpType} node (output '{(Outputs.Length > 0 ? Outputs[0] : "")}')";
}

/// <summary>A graph input or output (ONNX's <c>ValueInfoProto</c> of a tensor): name, element type, dimensions (-1 for a
/// symbolic or unknown one; null when the file gives no shape).</summary>
internal sealed record OnnxValue(string Name, int ElementType, long[]? Dimensions);

/// <summary>
/// An ONNX model as read from a file: the IR version, the operator sets, and the main graph (nodes, initializers,
/// inputs, outputs), or one of its subgraphs (an attribute of type GRAPH: If's branches), which shares the model's
/// IR version and operator sets and may read names of the graphs around it. Parsing checks the wire format and
/// the sizes against the bytes present; subgraphs nest at most <see cref="MaxDepth"/> deep (so the parse's own
/// recursion is bounded); lists of graphs (attribute field <c>graphs</c>) are refused. The graph's meaning is
/// checked by whoever runs it.
/// </summary>
internal sealed class OnnxGraph
{
    /// <summary>How deep subgraphs may nest (a node's subgraph is one deeper than the graph holding the node).</summary>
    public const int MaxDepth = 16;

    private OnnxGraph(long irVersion, IReadOnlyDictionary<string, long> opsets, List<OnnxNode> nodes, Dictionary<string, OnnxTensor> initializers, List<OnnxValue> inputs, List<OnnxValue> outputs)
    {
        IrVersion = irVersion;
        Opsets = opsets;
        Nodes = nodes;
        Initializers = initializers;
        Inputs = inputs;
        Outputs = outputs;
    }

    public long IrVersion { get; }

    /// <summary>Operator set versions by domain ("" is the default ONNX domain).</summary>
    public IReadOnlyDictionary<string, long> Opsets { get; }

    public IReadOnlyList<OnnxNode> Nodes { get; }

    public IReadOnlyDictionary<string, OnnxTensor> Initializers { get; }

    /// <summary>The graph's inputs that are not initializers.</summary>
    public IReadOnlyList<OnnxValue> Inputs { get; }

    public IReadOnlyList<OnnxValue> Outputs { get; }

    /// <summary>The default domain's opset version.</summary>
    public long Opset => Opsets.TryGetValue("", out long v) ? v : Opsets.TryGetValue("ai.onnx", out v) ? v : 0;

    /// <summary>Reads a serialised <c>ModelProto</c>; tensors kept in external files are read from
    /// <paramref name="directory"/> (the model's folder; null: refused).</summary>
    /// <exception cref="InvalidDataException">The bytes are not an ONNX model this reader accepts; the message names <paramref name="where"/>.</exception>
    public static OnnxGraph Parse(ReadOnlySpan<byte> bytes, string where, string? directory = null)
    {
        var reader = new ProtoReader(bytes, where);
        long ir = 0;
        var opsets = new Dictionary<string, long>(StringComparer.Ordinal);
        ReadOnlySpan<byte> graph = default;
        bool hasGraph = false;
        while (reader.TryReadTag(out int field, out WireType wire))
        {
            switch (field)
            {
                case 1:
                    reader.Expect(field, wire, WireType.Varint);
                    ir = reader.ReadInt64();
                    break;
                case 7:
                    reader.Expect(field, wire, WireType.LengthDelimited);
                    graph = reader.ReadBytes();
                    hasGraph = true;
                    break;
                case 8:
                    reader.Expect(field, wire, WireType.LengthDelimited);
                    (string domain, long version) = ReadOpset(reader.ReadBytes(), where);
                    opsets[domain] = version;
                    break;
                default:
                    reader.Skip(wire);
                    break;
            }
        }

        if (!hasGraph)
        {
            OnnxErrors.Fail($"{where} holds no graph (is it an ONNX model?).");
        }

        return ReadGraph(graph, new Context(ir, opsets, where, directory), 0);
    }

    /// <summary>The subgraphs of a node's attributes (If: then_branch, else_branch), in attribute order.</summary>
    public static IEnumerable<(string Attribute, OnnxGraph Graph)> Subgraphs(OnnxNode node) =>
        node.Attributes.Values.Where(a => a.Graph is not null).Select(a => (a.Name, a.Graph!));

    private static OnnxGraph ReadGraph(ReadOnlySpan<byte> graph, Context context, int depth)
    {
        string where = context.Where;
        string? directory = context.Directory;
        var nodes = new List<OnnxNode>();
        var initializers = new Dictionary<string, OnnxTensor>(StringComparer.Ordinal);
        var inputs = new List<OnnxValue>();
        var outputs = new List<OnnxValue>();
        var g = new ProtoReader(graph, where);
        while (g.TryReadTag(out int field, out WireType wire))
        {
            switch (field)
            {
                case 1:
                    g.Expect(field, wire, WireType.LengthDelimited);
                    nodes.Add(ReadNode(g.ReadBytes(), context, depth));
                    break;
                case 5:
                    g.Expect(field, wire, WireType.LengthDelimited);
                    OnnxTensor t = OnnxTensor.Read(g.ReadBytes(), where, directory);
                    if (t.Name.Length == 0 || !initializers.TryAdd(t.Name, t))
                    {
                        OnnxErrors.Fail($"{where}: an initializer {(t.Name.Length == 0 ? "has no name" : $"'{t.Name}' appears twice")}.");
                    }

                    break;
                case 11:
                    g.Expect(field, wire, WireType.LengthDelimited);
                    inputs.Add(ReadValue(g.ReadBytes(), where));
                    break;
                case 12:
                    g.Expect(field, wire, WireType.LengthDelimited);
                    outputs.Add(ReadValue(g.ReadBytes(), where));
                    break;
                case 15:
                    OnnxErrors.Fail($"{where}: sparse initializers are not read.");
                    break;
                default:
                    g.Skip(wire);
                    break;
            }
        }

        // Older exporters list initializers among the inputs too; an input with an initializer is a constant.
        inputs.RemoveAll(v => initializers.ContainsKey(v.Name));
        return new OnnxGraph(context.IrVersion, context.Opsets, nodes, initializers, inputs, outputs);
    }

    private static (string Domain, long Version) ReadOpset(ReadOnlySpan<byte> bytes, string where)
    {
        var r = new ProtoReader(bytes, where);
        string domain = "";
        long version = 0;
        while (r.TryReadTag(out int field, out WireType wire))
        {
            if (field == 1 && wire == WireType.LengthDelimited)
            {
                domain = r.ReadString();
            }
            else if (field == 2 && wire == WireType.Varint)
            {
                version = r.ReadInt64();
            }
            else
            {
                r.Skip(wire);
            }
        }

        return (domain, version);
    }

    private static OnnxNode ReadNode(ReadOnlySpan<byte> bytes, Context context, int depth)
    {
        string where = context.Where;
        var r = new ProtoReader(bytes, where);
        var inputs = new List<string>();
        var outputs = new List<string>();
        var attributes = new Dictionary<string, OnnxAttribute>(StringComparer.Ordinal);
        string name = "", op = "", domain = "";
        while (r.TryReadTag(out int field, out WireType wire))
        {
            switch (field)
            {
                case 1:
                    r.Expect(field, wire, WireType.LengthDelimited);
                    inputs.Add(r.ReadString());
                    break;
                case 2:
                    r.Expect(field, wire, WireType.LengthDelimited);
                    outputs.Add(r.ReadString());
                    break;
                case 3:
                    r.Expect(field, wire, WireType.LengthDelimited);
                    name = r.ReadString();
                    break;
                case 4:
                    r.Expect(field, wire, WireType.LengthDelimited);
                    op = r.ReadString();
                    break;
                case 5:
                    r.Expect(field, wire, WireType.LengthDelimited);
                    OnnxAttribute a = ReadAttribute(r.ReadBytes(), context, depth);
                    if (!attributes.TryAdd(a.Name, a))
                    {
                        OnnxErrors.Fail($"{where}: node '{name}' ({op}) has attribute '{a.Name}' twice.");
                    }

                    break;
                case 7:
                    r.Expect(field, wire, WireType.LengthDelimited);
                    domain = r.ReadString();
                    break;
                default:
                    r.Skip(wire);
                    break;
            }
        }

        return new OnnxNode(name, op, domain, [.. inputs], [.. outputs], attributes);
    }

    private static OnnxAttribute ReadAttribute(ReadOnlySpan<byte> bytes, Context context, int depth)
    {
        string where = context.Where;
        var r = new ProtoReader(bytes, where);
        OnnxGraph? subgraph = null;
        string name = "", s = "";
        int type = 0;
        float f = 0;
        long i = 0;
        OnnxTensor? t = null;
        var floats = new List<float>();
        var ints = new List<long>();
        var strings = new List<string>();
        while (r.TryReadTag(out int field, out WireType wire))
        {
            switch (field)
            {
                case 1:
                    r.Expect(field, wire, WireType.LengthDelimited);
                    name = r.ReadString();
                    break;
                case 2:
                    r.Expect(field, wire, WireType.Fixed32);
                    f = r.ReadFloat();
                    break;
                case 3:
                    r.Expect(field, wire, WireType.Varint);
                    i = r.ReadInt64();
                    break;
                case 4:
                    r.Expect(field, wire, WireType.LengthDelimited);
                    s = r.ReadString();
                    break;
                case 5:
                    r.Expect(field, wire, WireType.LengthDelimited);
                    t = OnnxTensor.Read(r.ReadBytes(), where);
                    break;
                case 7 when wire == WireType.Fixed32:
                    floats.Add(r.ReadFloat());
                    break;
                case 7:
                    r.Expect(field, wire, WireType.LengthDelimited);
                    var packed = new ProtoReader(r.ReadBytes(), where);
                    while (!packed.AtEnd)
                    {
                        floats.Add(packed.ReadFloat());
                    }

                    break;
                case 8 when wire == WireType.Varint:
                    ints.Add(r.ReadInt64());
                    break;
                case 8:
                    r.Expect(field, wire, WireType.LengthDelimited);
                    var packedInts = new ProtoReader(r.ReadBytes(), where);
                    while (!packedInts.AtEnd)
                    {
                        ints.Add(packedInts.ReadInt64());
                    }

                    break;
                case 9:
                    r.Expect(field, wire, WireType.LengthDelimited);
                    strings.Add(r.ReadString());
                    break;
                case 20:
                    r.Expect(field, wire, WireType.Varint);
                    type = r.ReadInt32();
                    break;
                case 6:
                    r.Expect(field, wire, WireType.LengthDelimited);
                    if (depth + 1 > MaxDepth)
                    {
                        OnnxErrors.Fail($"{where}: subgraphs nest more than {MaxDepth} deep (attribute '{name}').");
                    }

                    subgraph = ReadGraph(r.ReadBytes(), context, depth + 1);
                    break;
                case 11:
                    OnnxErrors.Fail($"{where}: attribute '{name}' holds a list of graphs, which is not read (If's branches are single graphs).");
                    break;
                default:
                    r.Skip(wire);
                    break;
            }
        }

        if (name.Length == 0)
        {
            OnnxErrors.Fail($"{where}: an attribute has no name.");
        }

        return new OnnxAttribute(name, type, f, i, s, t, [.. floats], [.. ints], [.. strings], subgraph);
    }

    private static OnnxValue ReadValue(ReadOnlySpan<byte> bytes, string where)
    {
        var r = new ProtoReader(bytes, where);
        string name = "";
        int elementType = 0;
        long[]? dims = null;
        while (r.TryReadTag(out int field, out WireType wire))
        {
            if (field == 1 && wire == WireType.LengthDelimited)
            {
                name = r.ReadString();
            }
            else if (field == 2 && wire == WireType.LengthDelimited)
            {
                // TypeProto { tensor_type = 1: Tensor { elem_type = 1, shape = 2: TensorShapeProto { dim = 1 } } }
                var type = new ProtoReader(r.ReadBytes(), where);
                while (type.TryReadTag(out int tf, out WireType tw))
                {
                    if (tf != 1 || tw != WireType.LengthDelimited)
                    {
                        type.Skip(tw);
                        continue;
                    }

                    var tensor = new ProtoReader(type.ReadBytes(), where);
                    while (tensor.TryReadTag(out int ef, out WireType ew))
                    {
                        if (ef == 1 && ew == WireType.Varint)
                        {
                            elementType = tensor.ReadInt32();
                        }
                        else if (ef == 2 && ew == WireType.LengthDelimited)
                        {
                            dims = ReadShape(tensor.ReadBytes(), where);
                        }
                        else
                        {
                            tensor.Skip(ew);
                        }
                    }
                }
            }
            else
            {
                r.Skip(wire);
            }
        }

        if (name.Length == 0)
        {
            OnnxErrors.Fail($"{where}: a graph input or output has no name.");
        }

        return new OnnxValue(name, elementType, dims);
    }

    private static long[] ReadShape(ReadOnlySpan<byte> bytes, string where)
    {
        var shape = new ProtoReader(bytes, where);
        var dims = new List<long>();
        while (shape.TryReadTag(out int field, out WireType wire))
        {
            if (field != 1 || wire != WireType.LengthDelimited)
            {
                shape.Skip(wire);
                continue;
            }

            var dim = new ProtoReader(shape.ReadBytes(), where);
            long value = -1;
            while (dim.TryReadTag(out int df, out WireType dw))
            {
                if (df == 1 && dw == WireType.Varint)
                {
                    value = dim.ReadInt64();
                }
                else
                {
                    dim.Skip(dw);
                }
            }

            dims.Add(value < 0 ? -1 : value);
        }

        return [.. dims];
    }

    /// <summary>What every graph of one model shares.</summary>
    private sealed record Context(long IrVersion, IReadOnlyDictionary<string, long> Opsets, string Where, string? Directory);
}
