using System.Buffers;
using Rnn.Simd.Internal;
using Rnn.Simd.Kernels.Threading;

namespace Rnn.Simd.Import.Onnx;

/// <summary>
/// An ONNX model run by the engine: the graphs exporters write around recurrent layers (PyTorch's
/// <c>torch.onnx.export</c>: shape arithmetic, zero initial states, transposes and reshapes between stacked
/// RNN/LSTM/GRU nodes, a linear head). Immutable and thread-safe.
/// </summary>
/// <remarks>
/// <para>At load the graph is checked (operators known, every name defined before use, no name produced twice)
/// and every node whose inputs are constants is folded. At the first call with a set of input shapes, a plan is
/// made: whatever depends only on constants and shapes (Shape, Gather on shapes, ConstantOfShape, …) is computed
/// then, every other tensor gets a slice of one workspace, and the call runs a list of steps. Later calls with
/// those shapes reuse the plan and rent the workspace from the pool: they allocate nothing.</para>
/// <para>Operators: RNN, LSTM, GRU (as <see cref="OnnxRecurrentLayer"/> reads them), MatMul, Gemm, Add, Sub, Mul,
/// Div, Relu, Sigmoid, Tanh, Softmax and LogSoftmax (last axis), Transpose, Reshape, Squeeze, Unsqueeze, Flatten,
/// Slice, Concat, Gather, Identity, Cast (float ↔ float, int ↔ int); and, on values known when the plan is made,
/// Constant, Shape, Size, ConstantOfShape, Equal, Not, Range-free shape arithmetic. Anything else is refused at load
/// with the operator, the node and the opset named.</para>
/// </remarks>
public sealed class OnnxModel
{
    private static readonly HashSet<string> s_operators = new(StringComparer.Ordinal)
    {
        "RNN", "LSTM", "GRU", "MatMul", "Gemm", "Add", "Sub", "Mul", "Div", "Relu", "Sigmoid", "Tanh", "Softmax", "LogSoftmax",
        "Transpose", "Reshape", "Squeeze", "Unsqueeze", "Flatten", "Slice", "Concat", "Gather", "Identity", "Cast",
        "Constant", "Shape", "Size", "ConstantOfShape", "Equal", "Not",
    };

    private readonly OnnxGraph _graph;
    private readonly Dictionary<string, PlanValue> _constants;
    private readonly Dictionary<OnnxNode, OnnxRecurrentLayer> _recurrent = [];
    private readonly object _gate = new();
    private OnnxPlan[] _plans = [];

    private OnnxModel(OnnxGraph graph, string where, ArrayPool<float> pool)
    {
        _graph = graph;
        Source = where;
        Pool = pool;
        Opset = graph.Opset;
        InputNames = [.. graph.Inputs.Select(v => v.Name)];
        OutputNames = [.. graph.Outputs.Select(v => v.Name)];
        _constants = new Dictionary<string, PlanValue>(StringComparer.Ordinal);
        foreach ((string name, OnnxTensor t) in graph.Initializers)
        {
            _constants[name] = ToValue(t);
        }

        Check();
        Fold();
    }

    /// <summary>Where the model was read from.</summary>
    public string Source { get; }

    /// <summary>The default-domain opset.</summary>
    public long Opset { get; }

    /// <summary>The graph's inputs (initializers excluded), in order: a call's feeds.</summary>
    public IReadOnlyList<string> InputNames { get; }

    /// <summary>The graph's outputs, in order: a call's results.</summary>
    public IReadOnlyList<string> OutputNames { get; }

    /// <summary>Buffers for calls.</summary>
    public ArrayPool<float> Pool { get; }

    /// <summary>Loads an .onnx file; tensors it keeps in external files are read from inside its folder only.</summary>
    /// <exception cref="InvalidDataException">The file is malformed or holds what is refused; one line naming the file.</exception>
    public static OnnxModel Load(string path, ArrayPool<float>? pool = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        return new OnnxModel(OnnxGraph.Parse(File.ReadAllBytes(path), path, Path.GetDirectoryName(Path.GetFullPath(path))), path, pool ?? ArrayPool<float>.Shared);
    }

    /// <summary>Loads a model from bytes; <paramref name="name"/> names it in errors. Tensors in external files are
    /// refused (their folder is unknown): load such a model from its file.</summary>
    public static OnnxModel Load(ReadOnlySpan<byte> bytes, string name = "model", ArrayPool<float>? pool = null) =>
        new(OnnxGraph.Parse(bytes, name), name, pool ?? ArrayPool<float>.Shared);

    /// <summary>The shape of output <paramref name="index"/> for these inputs (makes the plan for their shapes if needed).</summary>
    public IReadOnlyList<long> OutputShape(int index, ReadOnlySpan<OnnxFeed> inputs)
    {
        ThrowHelper.ThrowIfNegative(index, nameof(index));
        if (index >= OutputNames.Count)
        {
            ThrowHelper.ArgumentOutOfRange(nameof(index), $"The model has {OutputNames.Count} outputs.");
        }

        return PlanFor(inputs).Outputs[index].Shape;
    }

    /// <summary>Runs the model: <paramref name="inputs"/> in <see cref="InputNames"/>' order, results written into
    /// <paramref name="outputs"/> in <see cref="OutputNames"/>' order (each exactly its <see cref="OutputShape"/>'s size; an
    /// empty one is not wanted).</summary>
    /// <exception cref="ArgumentException">A feed's type or shape does not fit the graph, or an output's length its shape.</exception>
    public void Run(ReadOnlySpan<OnnxFeed> inputs, ReadOnlySpan<Memory<float>> outputs, ThreadTeam? threads = null)
    {
        OnnxPlan plan = PlanFor(inputs);
        ThrowHelper.ThrowIfLengthIsNot(outputs.Length, OutputNames.Count, nameof(outputs), "one per graph output");
        for (int i = 0; i < outputs.Length; i++)
        {
            if (!outputs[i].IsEmpty && outputs[i].Length != plan.Outputs[i].Length)
            {
                ThrowHelper.Argument(nameof(outputs), $"Output '{OutputNames[i]}' has {plan.Outputs[i].Length} values ({plan.Outputs[i]}); its memory holds {outputs[i].Length}.");
            }
        }

        plan.Run(inputs, outputs, threads, Pool);
    }

    internal OnnxRecurrentLayer Recurrent(OnnxNode node) => _recurrent[node];

    internal static PlanValue ToValue(OnnxTensor t) => t.ElementType == OnnxElementType.Float
        ? PlanValue.Static([.. t.Dimensions], t.Floats.ToArray())
        : PlanValue.Static([.. t.Dimensions], t.Integers.ToArray());

    private OnnxPlan PlanFor(ReadOnlySpan<OnnxFeed> inputs)
    {
        ThrowHelper.ThrowIfLengthIsNot(inputs.Length, InputNames.Count, nameof(inputs), "one feed per graph input");
        foreach (OnnxPlan p in Volatile.Read(ref _plans))
        {
            if (p.Matches(inputs))
            {
                return p;
            }
        }

        OnnxPlan plan = OnnxPlan.Make(this, _graph, _constants, inputs);
        lock (_gate)
        {
            _plans = [.. _plans, plan];
        }

        return plan;
    }

    private void Check()
    {
        var defined = new HashSet<string>(_constants.Keys, StringComparer.Ordinal);
        foreach (OnnxValue v in _graph.Inputs)
        {
            if (!defined.Add(v.Name))
            {
                OnnxErrors.Fail($"{Source}: graph input '{v.Name}' is defined twice.");
            }
        }

        foreach (OnnxNode node in _graph.Nodes)
        {
            if (node.Domain is not ("" or "ai.onnx") || !s_operators.Contains(node.OpType))
            {
                OnnxErrors.Fail($"{Source}: operator {(node.Domain.Length > 0 ? node.Domain + "." : "")}{node.OpType} ({node.Label}, opset {Opset}) is not supported.");
            }

            foreach (string input in node.Inputs)
            {
                if (input.Length > 0 && !defined.Contains(input))
                {
                    OnnxErrors.Fail($"{Source}: {node.Label} reads '{input}', which no earlier node, input or initializer defines (nodes must be in order; a cycle is refused).");
                }
            }

            foreach (string output in node.Outputs)
            {
                if (output.Length > 0 && !defined.Add(output))
                {
                    OnnxErrors.Fail($"{Source}: '{output}' is produced twice ({node.Label}).");
                }
            }

            if (node.OpType is "RNN" or "LSTM" or "GRU")
            {
                _recurrent[node] = OnnxRecurrentLayer.FromNode(node, name => _graph.Initializers.TryGetValue(name, out OnnxTensor? t) ? t : null, Opset, Source, Pool);
            }
        }

        foreach (OnnxValue v in _graph.Outputs)
        {
            if (!defined.Contains(v.Name))
            {
                OnnxErrors.Fail($"{Source}: graph output '{v.Name}' is produced by no node.");
            }
        }
    }

    // Nodes whose inputs are all constants become constants (Constant nodes included).
    private void Fold()
    {
        foreach (OnnxNode node in _graph.Nodes)
        {
            if (node.OpType is "RNN" or "LSTM" or "GRU" || node.OpType == "Shape" || node.Inputs.Any(i => i.Length > 0 && !_constants.ContainsKey(i)))
            {
                continue;
            }

            PlanValue?[] inputs = [.. node.Inputs.Select(i => i.Length == 0 ? null : _constants[i])];
            PlanValue[] results = OnnxStatic.Evaluate(node, inputs, Opset, Source);
            for (int k = 0; k < results.Length && k < node.Outputs.Length; k++)
            {
                _constants[node.Outputs[k]] = results[k];
            }
        }
    }
}
