using System.Buffers;
using Rnn.Simd.Layers;

namespace Rnn.Simd.Import.Onnx;

/// <summary>
/// An ONNX model whose graph is one recurrent stack, loaded as one <see cref="RecurrentNetwork"/> (so that it streams
/// with <see cref="RecurrentNetwork.Step"/>): what <c>torch.onnx.export</c> writes for a stacked and/or bidirectional
/// <c>nn.LSTM</c>, <c>nn.GRU</c> or <c>nn.RNN</c>, batch_first or not, with or without initial states. Immutable and
/// thread-safe, as its network.
/// </summary>
/// <remarks>
/// <para>The graph's recurrent nodes (one per layer, all of one operator with the same attributes, layout 0) must
/// chain: layer k + 1 reads layer k's Y through the exporter's glue (Squeeze of the direction axis; Transpose
/// [0, 2, 1, 3] and Reshape [0, 0, −1] of both directions' halves; Transposes between batch-major and time-major).
/// Initial states are zeros (ConstantOfShape of a shape, sliced, expanded, reshaped) or the layers' slices of one graph
/// input [L·D, B, H]; the final states of the layers are concatenated along the first axis (or, for one layer of one
/// direction, squeezed to [B, H] as tf2onnx writes Keras's states). The shape arithmetic
/// (Shape, Gather, Unsqueeze, Concat, Constant, Expand, …) is allowed anywhere; sequence_lens may be an integer graph
/// input, cast. The graph's inputs must be X, and optionally the
/// initial states and sequence_lens; its outputs the last layer's output sequence [T, B, D·H] (or [B, T, D·H] when
/// <see cref="BatchFirst"/>), and the final states [L·D, B, H]: exactly what <see cref="RecurrentNetwork.Forward"/>
/// takes and gives.</para>
/// <para>Anything else (a head, an embedding, an output of one layer only, layout 1, layers of different cells or
/// attributes) is refused with an <see cref="InvalidDataException"/> naming the node and why: run such graphs with
/// <see cref="OnnxModel"/>.</para>
/// </remarks>
public sealed class OnnxRecurrentStack
{
    private static readonly HashSet<string> s_shapeOperators = new(StringComparer.Ordinal)
    {
        "Shape", "Size", "Gather", "Unsqueeze", "Squeeze", "Concat", "Slice", "Cast", "Identity", "Reshape", "Add", "Sub",
        "Mul", "Div", "Equal", "Not", "ConstantOfShape", "Constant", "Expand", "Range", "Where", "Max", "Min",
    };

    private OnnxRecurrentStack(RecurrentNetwork network, bool batchFirst, string[] names)
    {
        Network = network;
        BatchFirst = batchFirst;
        InputName = names[0];
        SequenceLengthsName = names[1];
        InitialHiddenName = names[2];
        InitialCellName = names[3];
        OutputName = names[4];
        FinalHiddenName = names[5];
        FinalCellName = names[6];
    }

    /// <summary>The network the stack became: <see cref="RecurrentNetworkOptions.Layers"/> layers, the nodes' cell,
    /// directions and extras.</summary>
    public RecurrentNetwork Network { get; }

    /// <summary>Whether the graph's X and output sequence are batch-major ([B, T, ·]), as PyTorch's batch_first.</summary>
    public bool BatchFirst { get; }

    /// <summary>Graph names of X, sequence_lens, initial h and c, the output sequence and the final h and c ("" when
    /// absent).</summary>
    public string InputName { get; }

    /// <inheritdoc cref="InputName"/>
    public string SequenceLengthsName { get; }

    /// <inheritdoc cref="InputName"/>
    public string InitialHiddenName { get; }

    /// <inheritdoc cref="InputName"/>
    public string InitialCellName { get; }

    /// <inheritdoc cref="InputName"/>
    public string OutputName { get; }

    /// <inheritdoc cref="InputName"/>
    public string FinalHiddenName { get; }

    /// <inheritdoc cref="InputName"/>
    public string FinalCellName { get; }

    /// <summary>Loads <paramref name="path"/> as one stack.</summary>
    /// <param name="path">An .onnx file.</param>
    /// <param name="pool">Buffers for the network's calls; <see cref="ArrayPool{T}.Shared"/> when null.</param>
    /// <exception cref="InvalidDataException">The file is malformed, or its graph is not one recurrent stack; one line
    /// naming the file and the node.</exception>
    public static OnnxRecurrentStack Load(string path, ArrayPool<float>? pool = null) => From(OnnxModel.Load(path, pool));

    /// <summary>The stack of a loaded model (its weights in the engine's layout, for <see cref="Network"/>).</summary>
    /// <exception cref="InvalidDataException">The model's graph is not one recurrent stack.</exception>
    public static OnnxRecurrentStack From(OnnxModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return new Recogniser(model).Run();
    }

    private enum Kind
    {
        Known,      // a constant, or computed from constants and shapes only
        Zeros,      // all zeros, of whatever shape
        Input,      // a graph input, its axes (as numbered in the input) in Roles
        Sequence,   // layer Stage − 1's Y, its axes in Roles: T, D, B, H; F once D·H are one axis
        States,     // rows [First, First + Count) of the stack's final states (h or c), in layers
        InputRows,  // rows [First, First + Count) along the first axis of graph input Source
    }

    // Squeezed: final states without their first axis, as tf2onnx gives Keras's [B, H] (one layer, one direction only).
    private sealed record Symbol(Kind Kind, int Source = -1, string[]? Roles = null, int Stage = 0, char State = ' ', int First = 0, int Count = 0, bool Squeezed = false);

    private sealed class Recogniser(OnnxModel model)
    {
        private readonly OnnxGraph _graph = model.Graph;
        private readonly string _where = model.Source;
        private readonly Dictionary<string, Symbol> _symbols = new(StringComparer.Ordinal);
        private readonly List<RecurrentNetworkOptions> _layers = [];
        private readonly Dictionary<string, float[]> _weights = new(StringComparer.Ordinal);
        private readonly string[] _names = ["", "", "", "", "", "", ""];
        private readonly string?[] _stateSources = [null, null];   // per h and c: "" for zeros, else the input's name
        private int _x = -1;
        private bool _batchFirst;
        private OnnxNode? _first;

        public OnnxRecurrentStack Run()
        {
            for (int i = 0; i < _graph.Inputs.Count; i++)
            {
                OnnxValue v = _graph.Inputs[i];
                int rank = v.Dimensions?.Length ?? 3;
                _symbols[v.Name] = new Symbol(Kind.Input, i, [.. Enumerable.Range(0, rank).Select(d => d.ToString(System.Globalization.CultureInfo.InvariantCulture))]);
            }

            foreach (OnnxNode node in _graph.Nodes)
            {
                if (node.Outputs.All(o => o.Length == 0 || model.Constants.ContainsKey(o)))
                {
                    continue;
                }

                if (node.OpType is "RNN" or "LSTM" or "GRU")
                {
                    Layer(node);
                }
                else
                {
                    Glue(node);
                }
            }

            if (_first is null)
            {
                Fail("the graph holds no RNN, LSTM or GRU node");
            }

            int layers = _layers.Count;
            foreach (OnnxValue o in _graph.Outputs)
            {
                Symbol s = Of(o.Name);
                string[] sequence = _batchFirst ? ["B", "T", "F"] : ["T", "B", "F"];
                if (s.Kind == Kind.Sequence && s.Stage == layers && s.Roles!.SequenceEqual(sequence))
                {
                    Name(4, o.Name, "output sequence");
                }
                else if (s.Kind == Kind.States && s.First == 0 && s.Count == layers && (!s.Squeezed || (layers == 1 && _layers[0].Directions == 1)))
                {
                    Name(s.State == 'h' ? 5 : 6, o.Name, $"final {s.State}");
                }
                else
                {
                    Fail($"graph output '{o.Name}' is not the stack's output sequence ({(_batchFirst ? "[B, T, D·H]" : "[T, B, D·H]")} after the last layer) nor all its final states");
                }
            }

            for (int i = 0; i < _graph.Inputs.Count; i++)
            {
                string name = _graph.Inputs[i].Name;
                if (!_names.Contains(name))
                {
                    Fail($"graph input '{name}' is not X, an initial state or sequence_lens of the stack");
                }
            }

            RecurrentNetworkOptions options = _layers[0] with { Layers = layers };
            return new OnnxRecurrentStack(RecurrentNetwork.FromPyTorch(options, _weights, pool: model.Pool), _batchFirst, _names);
        }

        private void Layer(OnnxNode node)
        {
            int k = _layers.Count;
            (RecurrentNetworkOptions o, int layout) = OnnxRecurrentLayer.ReadNode(node, ConstantTensor, _where, k, _weights);
            if (layout != 0)
            {
                Fail($"{node.Label} has layout {layout}; a stack is read from layout-0 nodes (run it with OnnxModel)");
            }

            if (_first is null)
            {
                _first = node;
            }
            else
            {
                RecurrentNetworkOptions first = _layers[0];
                if (node.OpType != _first.OpType || (o with { InputSize = first.InputSize, Activations = first.Activations }) != first
                    || !(o.Activations ?? []).SequenceEqual(first.Activations ?? []))
                {
                    Fail($"{node.Label} differs from {_first.Label} in operator or attributes; the engine's stack has one cell for every layer");
                }

                if (o.InputSize != first.LayerOutputSize)
                {
                    Fail($"{node.Label} takes {o.InputSize} features; the layer below gives {first.LayerOutputSize}");
                }
            }

            _layers.Add(o);
            string Input(int i) => i < node.Inputs.Length ? node.Inputs[i] : "";
            Symbol x = Of(Input(0));
            if (k == 0 && x.Kind == Kind.Input && x.Roles is ["0", "1", "2"] or ["1", "0", "2"])
            {
                _x = x.Source;
                _batchFirst = x.Roles[0] == "1";
                _names[0] = _graph.Inputs[x.Source].Name;
            }
            else if (!(x.Kind == Kind.Sequence && x.Stage == k && x.Roles!.SequenceEqual(["T", "B", "F"])))
            {
                Fail($"{node.Label} reads X '{Input(0)}', which is not {(k == 0 ? "a graph input, time-major or transposed from batch-major" : "the previous layer's output, time-major")}");
            }

            string lengths = Input(4);
            if (lengths.Length > 0)
            {
                Symbol s = Of(lengths);
                string input = s.Kind == Kind.Input ? _graph.Inputs[s.Source].Name : "";
                if (s.Kind != Kind.Input || s.Source == _x || (k > 0 && _names[1] != input))
                {
                    Fail($"{node.Label}'s sequence_lens '{lengths}' is not one graph input shared by every layer");
                }

                _names[1] = input;
            }
            else if (k > 0 && _names[1].Length > 0)
            {
                Fail($"{node.Label} has no sequence_lens; the layers below have '{_names[1]}'");
            }

            InitialState(node, 0, Input(5), k, o.Directions);
            InitialState(node, 1, Input(6), k, o.Directions);
            string Output(int i) => i < node.Outputs.Length ? node.Outputs[i] : "";
            Set(Output(0), new Symbol(Kind.Sequence, Roles: ["T", "D", "B", "H"], Stage: k + 1));
            Set(Output(1), new Symbol(Kind.States, State: 'h', First: k, Count: 1));
            Set(Output(2), new Symbol(Kind.States, State: 'c', First: k, Count: 1));
        }

        // initial_h (which 0) or initial_c (1) of layer k: zeros for every layer, or every layer's rows of one graph input.
        private void InitialState(OnnxNode node, int which, string name, int k, int directions)
        {
            string source = "";
            if (name.Length > 0)
            {
                Symbol s = Of(name);
                bool whole = s.Kind == Kind.Input && s.Roles!.SequenceEqual(["0", "1", "2"]);
                bool rows = s.Kind == Kind.InputRows && s.First == k * directions && s.Count == directions;
                if (whole || rows)
                {
                    source = _graph.Inputs[s.Source].Name;
                    if (whole && k > 0)
                    {
                        Fail($"{node.Label} (layer {k}) reads all of '{source}' as its initial state; each layer takes its own rows");
                    }
                }
                else if (s.Kind != Kind.Zeros)
                {
                    Fail($"{node.Label}'s initial {(which == 0 ? 'h' : 'c')} '{name}' is neither zeros nor this layer's rows of a graph input");
                }
            }

            if (k > 0 && _stateSources[which] != source)
            {
                Fail($"{node.Label}'s initial {(which == 0 ? 'h' : 'c')} comes from {(source.Length > 0 ? $"'{source}'" : "zeros")}, that of the layers below from {(_stateSources[which] is { Length: > 0 } s2 ? $"'{s2}'" : "zeros")}");
            }

            _stateSources[which] = source;
            if (source.Length > 0 && _names[2 + which] is { Length: > 0 } named && named != source)
            {
                Fail($"{node.Label}'s initial state '{source}' is not the stack's '{named}'");
            }

            if (source.Length > 0)
            {
                _names[2 + which] = source;
            }
        }

        private void Glue(OnnxNode node)
        {
            Symbol?[] inputs = [.. node.Inputs.Select(i => i.Length == 0 ? null : Of(i))];
            bool known = inputs.All(s => s is null || s.Kind == Kind.Known);
            if (node.OpType == "Shape" || (known && s_shapeOperators.Contains(node.OpType)))
            {
                bool zeros = node.OpType == "ConstantOfShape" && (OnnxStatic.Attribute(node, "value")?.T is not { } t
                    || (t.ElementType == OnnxElementType.Float && t.Floats.ToArray().All(v => v == 0)));
                SetAll(node, new Symbol(zeros ? Kind.Zeros : Kind.Known));
                return;
            }

            Symbol x = inputs.Length > 0 && inputs[0] is { } first ? first : throw Refusal(node, "has no data input");
            if (inputs.Skip(1).Any(s => s is not null && s.Kind != Kind.Known) && node.OpType != "Concat")
            {
                throw Refusal(node, "takes more than one tensor of the stack");
            }

            Symbol? result = (node.OpType, x.Kind) switch
            {
                ("Identity", _) => x,
                ("Cast", _) when OnnxStatic.Int(node, "to", 0) == 1 && x.Kind != Kind.Input => x,
                ("Cast", Kind.Input) when OnnxStatic.Int(node, "to", 0) is 6 or 7 && _graph.Inputs[x.Source].ElementType is 6 or 7 => x,
                ("Transpose" or "Squeeze" or "Unsqueeze" or "Reshape" or "Slice" or "Expand" or "Cast", Kind.Zeros) => x,
                ("Transpose", Kind.Input or Kind.Sequence) => x with { Roles = [.. OnnxStatic.Permutation(node, x.Roles!.Length, _where).Select(p => x.Roles[p])] },
                ("Squeeze", Kind.Sequence) => Squeeze(node, x),
                ("Squeeze", Kind.States) when !x.Squeezed && Axes(node) is [0] => x with { Squeezed = true },
                ("Reshape", Kind.Sequence) => Merge(node, x),
                ("Slice", Kind.Input) => Rows(node, x),
                ("Concat", Kind.States) => Concatenate(node, inputs),
                ("Concat", Kind.Zeros) when inputs.All(i => i is null || i.Kind is Kind.Zeros) => x,
                _ => null,
            };
            SetAll(node, result ?? throw Refusal(node, $"({node.OpType} of {Describe(x)}) is not glue of a recurrent stack"));
        }

        // Squeeze of the direction axis of a one-direction layer's Y: [T, 1, B, H] → [T, B, F].
        private Symbol? Squeeze(OnnxNode node, Symbol x)
        {
            long[]? axes = Axes(node);
            int d = Array.IndexOf(x.Roles!, "D");
            if (axes is not { Length: 1 } || d < 0 || _layers[x.Stage - 1].Directions != 1
                || OnnxStatic.Normalise(axes[0], x.Roles!.Length, node, _where) != d)
            {
                return null;
            }

            return x with { Roles = [.. x.Roles!.Where(r => r != "D").Select(r => r == "H" ? "F" : r)] };
        }

        // Reshape that joins the last two axes D and H into one axis F, keeping the others ([0, 0, −1] as PyTorch writes it).
        private Symbol? Merge(OnnxNode node, Symbol x)
        {
            string[] roles = x.Roles!;
            int d = Array.IndexOf(roles, "D");
            long[]? shape = Known(node, 1);
            RecurrentNetworkOptions o = _layers[x.Stage - 1];
            if (d != roles.Length - 2 || roles[d + 1] != "H" || shape is null || shape.Length != roles.Length - 1
                || OnnxStatic.Int(node, "allowzero", 0) != 0)
            {
                return null;
            }

            // The axes before D copied (0), the last one D·H or inferred.
            for (int i = 0; i < shape.Length; i++)
            {
                if (i == d ? shape[i] != -1 && shape[i] != o.LayerOutputSize : shape[i] != 0)
                {
                    return null;
                }
            }

            return x with { Roles = [.. roles[..d], "F"] };
        }

        // Rows of a graph input along its first axis (step 1): a layer's initial states.
        private Symbol? Rows(OnnxNode node, Symbol x)
        {
            bool attributes = _graph.Opset < 10;   // starts, ends, axes as attributes before opset 10
            long[]? starts = attributes ? OnnxStatic.Attribute(node, "starts")?.Ints : Known(node, 1);
            long[]? ends = attributes ? OnnxStatic.Attribute(node, "ends")?.Ints : Known(node, 2);
            long[]? axes = attributes ? OnnxStatic.Attribute(node, "axes")?.Ints : Known(node, 3), steps = attributes ? null : Known(node, 4);
            if (starts is not { Length: 1 } || ends is not { Length: 1 } || (axes is not null && axes is not [0])
                || (steps is not null && steps is not [1]) || !x.Roles!.SequenceEqual(["0", "1", "2"]) || starts[0] < 0 || ends[0] <= starts[0])
            {
                return null;
            }

            return new Symbol(Kind.InputRows, x.Source, First: (int)starts[0], Count: (int)Math.Min(ends[0] - starts[0], int.MaxValue));
        }

        // Concat along the first axis of consecutive layers' final states.
        private Symbol? Concatenate(OnnxNode node, Symbol?[] inputs)
        {
            if (OnnxStatic.Int(node, "axis", 0) != 0 || inputs.Any(s => s is null || s.Kind != Kind.States || s.State != inputs[0]!.State))
            {
                return null;
            }

            int next = inputs[0]!.First;
            foreach (Symbol? s in inputs)
            {
                if (s!.First != next)
                {
                    return null;
                }

                next += s.Count;
            }

            return inputs[0]! with { Count = next - inputs[0]!.First };
        }

        private long[]? Axes(OnnxNode node) => _graph.Opset < 13 ? OnnxStatic.Attribute(node, "axes")?.Ints : Known(node, 1);

        private long[]? Known(OnnxNode node, int index) =>
            index < node.Inputs.Length && node.Inputs[index].Length > 0 && model.Constants.TryGetValue(node.Inputs[index], out PlanValue? v) && v.IsStatic
                ? v.AsIntegers() : null;

        private OnnxTensor? ConstantTensor(string name) =>
            model.Constants.TryGetValue(name, out PlanValue? v) && v.Floats is { } f ? OnnxTensor.FromFloats(name, v.Shape, f) : null;

        private Symbol Of(string name) =>
            model.Constants.TryGetValue(name, out PlanValue? v)
                ? new Symbol(v.Floats is { } f && f.All(x => x == 0) ? Kind.Zeros : Kind.Known)
                : _symbols.TryGetValue(name, out Symbol? s) ? s : new Symbol(Kind.Known);

        private void Set(string name, Symbol s)
        {
            if (name.Length > 0)
            {
                _symbols[name] = s;
            }
        }

        private void SetAll(OnnxNode node, Symbol s)
        {
            foreach (string o in node.Outputs)
            {
                Set(o, s);
            }
        }

        private void Name(int index, string name, string what)
        {
            if (_names[index].Length > 0 && _names[index] != name)
            {
                Fail($"graph outputs '{_names[index]}' and '{name}' are both the stack's {what}");
            }

            _names[index] = name;
        }

        private string Describe(Symbol s) => s.Kind switch
        {
            Kind.Input => $"graph input '{_graph.Inputs[s.Source].Name}'",
            Kind.Sequence => $"layer {s.Stage - 1}'s output [{string.Join(", ", s.Roles!)}]",
            Kind.States => $"final {s.State} of layers {s.First}..{s.First + s.Count - 1}",
            Kind.InputRows => $"rows of graph input '{_graph.Inputs[s.Source].Name}'",
            _ => s.Kind.ToString().ToLowerInvariant(),
        };

        private InvalidDataException Refusal(OnnxNode node, string what) =>
            OnnxErrors.Create($"{_where}: not one recurrent stack: {node.Label} {what} (run it with OnnxModel).");

        [System.Diagnostics.CodeAnalysis.DoesNotReturn]
        private void Fail(string what) => throw OnnxErrors.Create($"{_where}: not one recurrent stack: {what}.");
    }
}
