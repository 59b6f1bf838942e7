using System.Buffers;
using CommunityToolkit.HighPerformance.Buffers;
using Rnn.Simd.Cells;
using Rnn.Simd.Internal;
using Rnn.Simd.Kernels.Threading;
using Rnn.Simd.Layers;

namespace Rnn.Simd.Import.Onnx;

/// <summary>
/// An ONNX model whose graph is one recurrent operator (RNN, LSTM or GRU), run by the engine: the weights are
/// permuted from ONNX's gate orders (LSTM i, o, f, c; GRU z, r, h) and split biases into the engine's layout once,
/// at load, and <see cref="Run"/> takes and gives tensors in the node's own layouts. Immutable and thread-safe;
/// a call allocates nothing after the first at a given shape (its temporaries come from the pool).
/// </summary>
/// <remarks>
/// <para>Read: inputs X, W, R, B, sequence_lens, initial_h, initial_c; outputs Y, Y_h, Y_c (each optional);
/// <c>direction</c> forward, reverse or bidirectional; <c>layout</c> 0 and 1; <c>hidden_size</c>; GRU
/// <c>linear_before_reset</c> 0 (the engine's reset-before GRU) and 1 (PyTorch's GRU); <c>activations</c> (every
/// ONNX function, with <c>activation_alpha</c>/<c>activation_beta</c> consumed in order by the functions that take
/// them, as ONNX Runtime reads them), <c>clip</c>,
/// <c>input_forget</c>, peepholes (P). W, R, B (and P) must be constants: initializers, or graph inputs
/// bound at load (ONNX's node tests feed the weights as inputs).</para>
/// <para>Refused at load with an <see cref="InvalidDataException"/> naming the node and the attribute (not run
/// wrongly): an unknown activation, any other operator in the
/// graph (<see cref="OnnxModel"/> runs graphs).</para>
/// </remarks>
public sealed class OnnxRecurrentLayer
{
    private static readonly int[] s_lstmOrder = [0, 2, 3, 1];   // PyTorch's block p (i, f, g, o) is ONNX's block order[p] (i, o, f, c)
    private static readonly int[] s_gruOrder = [1, 0, 2];       // PyTorch's (r, z, n) from ONNX's (z, r, h)
    private static readonly int[] s_rnnOrder = [0];

    private OnnxRecurrentLayer(RecurrentNetwork network, string opType, int layout, OnnxNode node, long opset)
    {
        Network = network;
        OperatorType = opType;
        Layout = layout;
        Opset = opset;
        string Input(int i) => i < node.Inputs.Length ? node.Inputs[i] : "";
        string Output(int i) => i < node.Outputs.Length ? node.Outputs[i] : "";
        InputName = Input(0);
        SequenceLengthsName = Input(4);
        InitialHiddenName = Input(5);
        InitialCellName = Input(6);
        OutputName = Output(0);
        FinalHiddenName = Output(1);
        FinalCellName = Output(2);
    }

    /// <summary>The engine's network the node became (stream it with <see cref="RecurrentNetwork.Step"/>).</summary>
    public RecurrentNetwork Network { get; }

    /// <summary>RNN, LSTM or GRU.</summary>
    public string OperatorType { get; }

    /// <summary>The node's <c>layout</c>: 0 for X [T, B, In], Y [T, D, B, H]; 1 for X [B, T, In], Y [B, T, D, H].</summary>
    public int Layout { get; }

    /// <summary>The model's default-domain opset.</summary>
    public long Opset { get; }

    /// <summary>Graph names of the node's X, sequence_lens, initial_h, initial_c, Y, Y_h and Y_c ("" when absent).</summary>
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

    /// <summary>Loads <paramref name="path"/>.</summary>
    /// <param name="path">An .onnx file whose graph is one RNN, LSTM or GRU node.</param>
    /// <param name="boundInputs">Graph inputs to treat as constants (weights fed as inputs), by input name; or null.</param>
    /// <param name="pool">Buffers for calls; <see cref="ArrayPool{T}.Shared"/> when null.</param>
    /// <exception cref="InvalidDataException">The file is malformed, or holds what this loader refuses; the message
    /// names the file, the node and what.</exception>
    public static OnnxRecurrentLayer Load(string path, IReadOnlyDictionary<string, OnnxTensor>? boundInputs = null, ArrayPool<float>? pool = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        return FromGraph(OnnxGraph.Parse(File.ReadAllBytes(path), path, Path.GetDirectoryName(Path.GetFullPath(path))), path, boundInputs, pool);
    }

    /// <summary>Runs the node. Shapes are the node's: for layout 0 X [T, B, In], Y [T, D, B, H], states [D, B, H];
    /// for layout 1 X [B, T, In], Y [B, T, D, H], states [B, D, H].</summary>
    /// <param name="x">X.</param>
    /// <param name="steps">T.</param>
    /// <param name="batch">B.</param>
    /// <param name="y">Y, or empty: not wanted. Zero at steps past a sequence's length.</param>
    /// <param name="yH">Y_h, or empty.</param>
    /// <param name="yC">Y_c (LSTM), or empty.</param>
    /// <param name="initialH">initial_h, or empty for zeros.</param>
    /// <param name="initialC">initial_c (LSTM), or empty for zeros.</param>
    /// <param name="sequenceLengths">sequence_lens [B] in [0, T], or empty for T.</param>
    /// <param name="threads">Threads for the matrix products, or null.</param>
    /// <exception cref="ArgumentException">A span's length does not fit the shapes.</exception>
    public void Run(
        ReadOnlySpan<float> x, int steps, int batch, Span<float> y, Span<float> yH = default, Span<float> yC = default,
        ReadOnlySpan<float> initialH = default, ReadOnlySpan<float> initialC = default, ReadOnlySpan<int> sequenceLengths = default, ThreadTeam? threads = null)
    {
        RecurrentNetworkOptions o = Network.Options;
        int d = o.Directions, h = o.HiddenSize;
        ThrowHelper.ThrowIfNegative(steps, nameof(steps));
        if (batch < 1)
        {
            ThrowHelper.ArgumentOutOfRange(nameof(batch), $"Must be at least 1, was {batch}.");
        }

        ThrowHelper.ThrowIfLengthIsNotEmptyOr(y.Length, nameof(y), "T·D·B·H", steps, d, batch, h);
        ThrowHelper.ThrowIfLengthIsNotEmptyOr(yH.Length, nameof(yH), "D·B·H", d, batch, h);
        ThrowHelper.ThrowIfLengthIsNotEmptyOr(initialH.Length, nameof(initialH), "D·B·H", d, batch, h);
        if (o.Cell != CellType.Lstm && (!yC.IsEmpty || !initialC.IsEmpty))
        {
            ThrowHelper.Argument(yC.IsEmpty ? nameof(initialC) : nameof(yC), $"Only LSTM has a cell state; this node is {OperatorType}.");
        }

        int states = d * batch * h;
        bool transposeStates = Layout == 1 && d == 2;
        bool scatterY = Layout == 0 && d == 2;
        using SpanOwner<float> scratch = SpanOwner<float>.Allocate(
            (y.IsEmpty || scatterY ? steps * batch * d * h : 0) + (transposeStates ? 4 * states : 0), Network.Pool);
        Span<float> rest = scratch.Span;
        Span<float> output = y;
        if (y.IsEmpty || scatterY)
        {
            output = rest[..(steps * batch * d * h)];
            rest = rest[output.Length..];
        }

        ReadOnlySpan<float> h0 = initialH, c0 = initialC;
        Span<float> hN = yH, cN = yC;
        if (transposeStates)
        {
            h0 = initialH.IsEmpty ? default : SwapOuter(initialH, rest[..states], batch, d, h);
            c0 = initialC.IsEmpty ? default : SwapOuter(initialC, rest.Slice(states, states), batch, d, h);
            hN = yH.IsEmpty ? default : rest.Slice(2 * states, states);
            cN = yC.IsEmpty ? default : rest.Slice(3 * states, states);
        }

        Network.Forward(x, steps, batch, output, h0, c0, hN, cN, sequenceLengths, batchFirst: Layout == 1, threads: threads);
        if (scatterY && !y.IsEmpty)
        {
            // [T, B, D·H] → [T, D, B, H].
            for (int t = 0; t < steps; t++)
            {
                for (int b = 0; b < batch; b++)
                {
                    for (int dir = 0; dir < d; dir++)
                    {
                        output.Slice((((t * batch) + b) * d * h) + (dir * h), h).CopyTo(y.Slice((((t * d) + dir) * batch * h) + (b * h), h));
                    }
                }
            }
        }

        if (transposeStates)
        {
            // [D, B, H] → [B, D, H].
            if (!yH.IsEmpty)
            {
                SwapOuter(hN, yH, d, batch, h);
            }

            if (!yC.IsEmpty)
            {
                SwapOuter(cN, yC, d, batch, h);
            }
        }
    }

    internal static OnnxRecurrentLayer FromGraph(OnnxGraph graph, string where, IReadOnlyDictionary<string, OnnxTensor>? boundInputs, ArrayPool<float>? pool)
    {
        long opset = graph.Opset;
        OnnxNode? node = null;
        foreach (OnnxNode n in graph.Nodes)
        {
            if (n.Domain is not ("" or "ai.onnx") || n.OpType is not ("RNN" or "LSTM" or "GRU"))
            {
                Refuse(where, $"operator {(n.Domain.Length > 0 ? n.Domain + "." : "")}{n.OpType} ({n.Label}, opset {opset}) is not supported: this loader reads graphs of one RNN, LSTM or GRU node");
            }

            if (node is not null)
            {
                Refuse(where, $"the graph holds more than one recurrent node ({node.Label}, {n.Label}); this loader reads one");
            }

            node = n;
        }

        if (node is null)
        {
            Refuse(where, "the graph holds no RNN, LSTM or GRU node");
        }

        return FromNode(node, name => graph.Initializers.TryGetValue(name, out OnnxTensor? t) || (boundInputs is not null && boundInputs.TryGetValue(name, out t)) ? t : null, opset, where, pool);
    }

    /// <summary>The layer of one recurrent node whose W, R, B (P) come from <paramref name="constant"/> (null: not a constant).</summary>
    internal static OnnxRecurrentLayer FromNode(OnnxNode node, Func<string, OnnxTensor?> constant, long opset, string where, ArrayPool<float>? pool)
    {
        var torch = new Dictionary<string, float[]>(StringComparer.Ordinal);
        (RecurrentNetworkOptions options, int layout) = ReadNode(node, constant, where, 0, torch);
        return new OnnxRecurrentLayer(RecurrentNetwork.FromPyTorch(options, torch, pool: pool), node.OpType, layout, node, opset);
    }

    /// <summary>
    /// The engine's options for one recurrent node (one layer) and its layout; its weights go into
    /// <paramref name="torch"/> under PyTorch's names for layer <paramref name="layer"/>, permuted from ONNX's gate orders.
    /// </summary>
    internal static (RecurrentNetworkOptions Options, int Layout) ReadNode(
        OnnxNode node, Func<string, OnnxTensor?> constant, string where, int layer, Dictionary<string, float[]> torch)
    {
        OnnxTensor? Constant(int index, string role)
        {
            string name = index < node.Inputs.Length ? node.Inputs[index] : "";
            if (name.Length == 0)
            {
                return null;
            }

            if (constant(name) is OnnxTensor t)
            {
                if (t.ElementType != OnnxElementType.Float)
                {
                    Refuse(where, $"{node.Label}: {role} '{name}' is {t.ElementType}; it must be float32");
                }

                return t;
            }

            Refuse(where, $"{node.Label}: {role} '{name}' is neither an initializer nor a bound input; the weights must be constants");
            return null;
        }

        string op = node.OpType;
        (CellType cell, int gates, int[] order) = op switch
        {
            "LSTM" => (CellType.Lstm, 4, s_lstmOrder),
            "GRU" => (CellType.Gru, 3, s_gruOrder),
            _ => (CellType.Rnn, 1, s_rnnOrder),
        };

        string direction = Attribute(node, "direction")?.S ?? "forward";
        if (direction is not ("forward" or "reverse" or "bidirectional"))
        {
            Refuse(where, $"{node.Label}: direction '{direction}' (forward, reverse or bidirectional)");
        }

        int d = direction == "bidirectional" ? 2 : 1;
        long layout = Attribute(node, "layout")?.I ?? 0;
        if (layout is not (0 or 1))
        {
            Refuse(where, $"{node.Label}: layout {layout} (0 or 1)");
        }

        float clip = Attribute(node, "clip")?.F ?? 0f;
        if (!float.IsFinite(clip) || clip < 0 || (Attribute(node, "clip") is not null && clip == 0))
        {
            Refuse(where, $"{node.Label}: clip {clip} (a positive threshold)");
        }

        bool coupled = (Attribute(node, "input_forget")?.I ?? 0) != 0;
        if (coupled && op != "LSTM")
        {
            Refuse(where, $"{node.Label}: input_forget is an LSTM attribute");
        }

        (Nonlinearity nonlinearity, CellActivation[]? activations) = Activations(node, op, d, where);
        OnnxTensor w = Constant(1, "W") ?? throw Refusal(where, $"{node.Label}: input W is missing");
        OnnxTensor r = Constant(2, "R") ?? throw Refusal(where, $"{node.Label}: input R is missing");
        OnnxTensor? bias = Constant(3, "B");
        if (w.Dimensions.Count != 3 || w.Dimensions[0] != d || w.Dimensions[1] % gates != 0 || w.Dimensions[1] == 0 || w.Dimensions[2] < 1)
        {
            Refuse(where, $"{node.Label}: W is [{string.Join(", ", w.Dimensions)}]; expected [{d}, {gates}·hidden_size, input_size]");
        }

        int h = (int)(w.Dimensions[1] / gates), input = (int)w.Dimensions[2];
        long declared = Attribute(node, "hidden_size")?.I ?? h;
        if (declared != h)
        {
            Refuse(where, $"{node.Label}: hidden_size is {declared} but W holds {h} units per gate");
        }

        if (!r.Dimensions.SequenceEqual([d, gates * h, h]))
        {
            Refuse(where, $"{node.Label}: R is [{string.Join(", ", r.Dimensions)}]; expected [{d}, {gates * h}, {h}]");
        }

        if (bias is not null && !bias.Dimensions.SequenceEqual([d, 2L * gates * h]))
        {
            Refuse(where, $"{node.Label}: B is [{string.Join(", ", bias.Dimensions)}]; expected [{d}, {2 * gates * h}]");
        }

        OnnxTensor? peephole = op == "LSTM" ? Constant(7, "P") : null;
        if (peephole is not null && !peephole.Dimensions.SequenceEqual([d, 3L * h]))
        {
            Refuse(where, $"{node.Label}: P is [{string.Join(", ", peephole.Dimensions)}]; expected [{d}, {3 * h}]");
        }

        var options = new RecurrentNetworkOptions
        {
            Cell = cell, InputSize = input, HiddenSize = h, Bidirectional = d == 2, Reverse = direction == "reverse", Nonlinearity = nonlinearity,
            Activations = activations, CellClip = clip, CoupledInputForget = coupled, Peepholes = peephole is not null,
            GruVariant = (Attribute(node, "linear_before_reset")?.I ?? 0) != 0 ? GruVariant.ResetAfter : GruVariant.ResetBefore,
        };
        int gh = gates * h;
        for (int dir = 0; dir < d; dir++)
        {
            string suffix = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{layer}{(dir == 1 ? "_reverse" : "")}");
            torch["weight_ih_l" + suffix] = Permute(w.Floats.Slice(dir * gh * input, gh * input), order, h * input);
            torch["weight_hh_l" + suffix] = Permute(r.Floats.Slice(dir * gh * h, gh * h), order, h * h);
            ReadOnlySpan<float> b = bias is null ? new float[2 * gh] : bias.Floats.Slice(dir * 2 * gh, 2 * gh);
            torch["bias_ih_l" + suffix] = Permute(b[..gh], order, h);
            torch["bias_hh_l" + suffix] = Permute(b[gh..], order, h);
            if (peephole is not null)
            {
                // ONNX's P is (i, o, f); the engine's peepholes are (i, f, o).
                torch["weight_peephole_l" + suffix] = Permute(peephole.Floats.Slice(dir * 3 * h, 3 * h), [0, 2, 1], h);
            }
        }

        return (options, (int)layout);
    }

    // ONNX's activations (with activation_alpha/beta) → the engine's: null for
    // the defaults, so that the fast path runs; an Elman network's single Tanh or Relu becomes its Nonlinearity.
    private static (Nonlinearity Nonlinearity, CellActivation[]? Activations) Activations(OnnxNode node, string op, int d, string where)
    {
        OnnxAttribute? a = Attribute(node, "activations");
        OnnxAttribute? alpha = Attribute(node, "activation_alpha"), beta = Attribute(node, "activation_beta");
        int per = op switch { "LSTM" => 3, "GRU" => 2, _ => 1 };
        if (a is null)
        {
            if (alpha is not null || beta is not null)
            {
                Refuse(where, $"{node.Label}: activation_alpha/beta without activations");
            }

            return (Nonlinearity.Tanh, null);
        }

        string[] names = a.Strings;
        if (names.Length != per * d)
        {
            Refuse(where, $"{node.Label}: {a.Strings.Length} activations; {op} takes {per} per direction ({per * d})");
        }

        // activation_alpha and activation_beta are consumed in the order of the activations, each value by the next
        // function that takes the parameter (as ONNX Runtime reads them); functions left without one keep ONNX's default.
        var result = new CellActivation[names.Length];
        int nextAlpha = 0, nextBeta = 0;
        for (int i = 0; i < names.Length; i++)
        {
            if (!Enum.TryParse(names[i], ignoreCase: true, out ActivationFunction function) || !Enum.IsDefined(function) || int.TryParse(names[i], out _))
            {
                Refuse(where, $"{node.Label}: activation '{names[i]}' is not one of {string.Join(", ", Enum.GetNames<ActivationFunction>())}");
            }

            CellActivation f = CellActivation.Of(function);
            if (function is ActivationFunction.Affine or ActivationFunction.LeakyRelu or ActivationFunction.ThresholdedRelu
                or ActivationFunction.ScaledTanh or ActivationFunction.HardSigmoid or ActivationFunction.Elu
                && alpha is not null && nextAlpha < alpha.Floats.Length)
            {
                f = f with { Alpha = alpha.Floats[nextAlpha++] };
            }

            if (function is ActivationFunction.Affine or ActivationFunction.ScaledTanh or ActivationFunction.HardSigmoid
                && beta is not null && nextBeta < beta.Floats.Length)
            {
                f = f with { Beta = beta.Floats[nextBeta++] };
            }

            result[i] = f;
        }

        CellActivation[] defaults = [.. Enumerable.Range(0, names.Length).Select(i => CellActivation.Of(op == "RNN" ? ActivationFunction.Tanh : i % per == 0 ? ActivationFunction.Sigmoid : ActivationFunction.Tanh))];
        if (result.SequenceEqual(defaults))
        {
            return (Nonlinearity.Tanh, null);
        }

        if (op == "RNN" && result.All(f => f == CellActivation.Of(ActivationFunction.Relu)))
        {
            return (Nonlinearity.Relu, null);
        }

        return (Nonlinearity.Tanh, result);
    }

    private static OnnxAttribute? Attribute(OnnxNode node, string name) => node.Attributes.TryGetValue(name, out OnnxAttribute? a) ? a : null;

    // One direction's [G·block] rows in ONNX's gate order → PyTorch's.
    private static float[] Permute(ReadOnlySpan<float> source, int[] order, int block)
    {
        var result = new float[source.Length];
        for (int p = 0; p < order.Length; p++)
        {
            source.Slice(order[p] * block, block).CopyTo(result.AsSpan(p * block, block));
        }

        return result;
    }

    // [A, C, H] → [C, A, H].
    private static Span<float> SwapOuter(ReadOnlySpan<float> source, Span<float> target, int a, int c, int h)
    {
        for (int i = 0; i < a; i++)
        {
            for (int j = 0; j < c; j++)
            {
                source.Slice(((i * c) + j) * h, h).CopyTo(target.Slice(((j * a) + i) * h, h));
            }
        }

        return target;
    }

    private static InvalidDataException Refusal(string where, string what) => OnnxErrors.Create($"{where}: {what}.");

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private static void Refuse(string where, string what) => throw Refusal(where, what);
}
