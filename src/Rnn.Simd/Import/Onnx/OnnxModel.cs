using System.Buffers;
using Rnn.Simd.Internal;
using Rnn.Simd.Kernels.Threading;

namespace Rnn.Simd.Import.Onnx;

/// <summary>
/// An ONNX model run by the engine: the graphs exporters write around recurrent layers (PyTorch's
/// <c>torch.onnx.export</c>: shape arithmetic, zero initial states, transposes and reshapes between stacked
/// RNN/LSTM/GRU nodes, a linear head), and graphs with If branches and convolutions such as Silero VAD's (v5, v6,
/// legacy). Immutable and thread-safe.
/// </summary>
/// <remarks>
/// <para>At load the graph is checked (operators known, every name defined before use, no name produced twice; If's
/// branches the same way, with the names of the graphs around them visible) and every node whose inputs are
/// constants is folded, inside branches too; an If whose condition is constant becomes its branch. At the first
/// call with a set of input shapes (and values of the scalar int64 inputs that decide an If), a plan is made:
/// whatever depends only on constants, shapes and those values (Shape, Gather on shapes, ConstantOfShape, If's
/// choice, …) is computed then, every other tensor gets a slice of one workspace (or is a view of another), and
/// the call runs a straight list of steps. Later calls with those shapes and values reuse the plan and rent the
/// workspace from the pool: they allocate nothing.</para>
/// <para>Operators: RNN, LSTM, GRU (as <see cref="OnnxRecurrentLayer"/> reads them), MatMul, Gemm, Conv (1-D and
/// 2-D; strides, pads, auto_pad, dilations, groups, bias), Add, Sub, Mul, Div, Pow (numpy broadcasting), Relu,
/// Sigmoid, Tanh, Sqrt, Log, Exp, Neg, Abs, Softmax and LogSoftmax (last axis), ReduceMean, Pad (constant, reflect,
/// edge), Transpose, Reshape, Squeeze, Unsqueeze, Flatten, Slice, Concat, Gather, Expand, Identity, Cast (float ↔ float,
/// int ↔ int), If (a condition known when the plan is made); and, on values known when the plan is made,
/// Constant, Shape, Size, ConstantOfShape, Equal, Not, Range-free shape arithmetic, and any of the others. Anything
/// else is refused at load with the operator, the node and the opset named.</para>
/// </remarks>
public sealed class OnnxModel
{
    private static readonly HashSet<string> s_operators = new(StringComparer.Ordinal)
    {
        "RNN", "LSTM", "GRU", "MatMul", "Gemm", "Add", "Sub", "Mul", "Div", "Relu", "Sigmoid", "Tanh", "Softmax", "LogSoftmax",
        "Transpose", "Reshape", "Squeeze", "Unsqueeze", "Flatten", "Slice", "Concat", "Gather", "Identity", "Cast",
        "Constant", "Shape", "Size", "ConstantOfShape", "Equal", "Not", "If",
        "Conv", "Pad", "Pow", "Sqrt", "Log", "Exp", "Neg", "Abs", "ReduceMean", "Expand",
    };

    private readonly OnnxGraph _graph;
    private readonly Dictionary<string, PlanValue> _constants;
    private readonly Dictionary<OnnxNode, OnnxRecurrentLayer> _recurrent = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<OnnxGraph, Dictionary<string, PlanValue>> _scopes = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<object, object> _cache = new(ReferenceEqualityComparer.Instance);
    private readonly bool[] _valueInputs;
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

        Check(graph, new HashSet<string>(_constants.Keys, StringComparer.Ordinal));
        Fold(graph, _constants);
        _valueInputs = ValueInputs();
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

    /// <summary>The graph as read.</summary>
    internal OnnxGraph Graph => _graph;

    /// <summary>The values known at load (initializers and what folded), by name.</summary>
    internal IReadOnlyDictionary<string, PlanValue> Constants => _constants;

    /// <summary>Whether graph input <paramref name="index"/> is a scalar int64 whose value a plan is made for (it
    /// decides an If's branch, as Silero VAD's <c>sr</c> does).</summary>
    internal bool IsValueInput(int index) => _valueInputs[index];

    /// <summary>The values known at load in <paramref name="branch"/> (its own folded constants and those around it).</summary>
    internal IReadOnlyDictionary<string, PlanValue> Scope(OnnxGraph branch) =>
        _scopes.TryGetValue(branch, out Dictionary<string, PlanValue>? scope) ? scope : throw OnnxErrors.Create($"{Source}: a branch was not prepared at load.");

    /// <summary>What <paramref name="make"/> derives once from <paramref name="key"/> (packed convolution weights
    /// from a constant weight tensor), shared by every plan.</summary>
    internal T Cached<T>(object key, Func<T> make)
        where T : class
    {
        lock (_cache)
        {
            if (!_cache.TryGetValue(key, out object? value))
            {
                value = make();
                _cache[key] = value;
            }

            return (T)value;
        }
    }

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

    // Every name defined before use (no cycles), produced once, operators known; If's branches checked the same way
    // with the names around them visible.
    private void Check(OnnxGraph graph, HashSet<string> defined)
    {
        if (!ReferenceEquals(graph, _graph))
        {
            if (graph.Inputs.Count > 0)
            {
                OnnxErrors.Fail($"{Source}: a subgraph takes inputs ('{graph.Inputs[0].Name}'); If's branches take none.");
            }

            foreach (string name in graph.Initializers.Keys)
            {
                if (!defined.Add(name))
                {
                    OnnxErrors.Fail($"{Source}: subgraph initializer '{name}' redefines a name.");
                }
            }
        }

        foreach (OnnxValue v in graph.Inputs)
        {
            if (!defined.Add(v.Name))
            {
                OnnxErrors.Fail($"{Source}: graph input '{v.Name}' is defined twice.");
            }
        }

        foreach (OnnxNode node in graph.Nodes)
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

            if (node.OpType == "If")
            {
                if (node.Inputs.Length != 1 || node.Inputs[0].Length == 0)
                {
                    OnnxErrors.Fail($"{Source}: {node.Label} has {node.Inputs.Length} inputs; If takes one condition.");
                }

                foreach (string branch in (string[])["then_branch", "else_branch"])
                {
                    OnnxGraph g = OnnxStatic.Attribute(node, branch)?.Graph ?? throw OnnxErrors.Create($"{Source}: {node.Label} has no {branch} graph.");
                    if (g.Outputs.Count != node.Outputs.Length)
                    {
                        OnnxErrors.Fail($"{Source}: {node.Label}'s {branch} has {g.Outputs.Count} outputs; the node has {node.Outputs.Length}.");
                    }

                    Check(g, new HashSet<string>(defined, StringComparer.Ordinal));
                }
            }
            else if (OnnxGraph.Subgraphs(node).Any())
            {
                OnnxErrors.Fail($"{Source}: {node.Label} holds a subgraph; only If's branches are read.");
            }

            foreach (string output in node.Outputs)
            {
                if (output.Length > 0 && !defined.Add(output))
                {
                    OnnxErrors.Fail($"{Source}: '{output}' is produced twice ({node.Label}).");
                }
            }
        }

        foreach (OnnxValue v in graph.Outputs)
        {
            if (!defined.Contains(v.Name))
            {
                OnnxErrors.Fail($"{Source}: {(ReferenceEquals(graph, _graph) ? "graph" : "subgraph")} output '{v.Name}' is produced by no node.");
            }
        }
    }

    // Nodes whose inputs are all constants become constants (Constant nodes included); an If whose condition is
    // constant becomes its branch (folded in turn); the branches of other Ifs are folded each in its own scope.
    // Recurrent nodes get their layer here, from the (folded) constant weights.
    private void Fold(OnnxGraph graph, Dictionary<string, PlanValue> scope)
    {
        foreach (OnnxNode node in graph.Nodes)
        {
            if (node.OpType is "RNN" or "LSTM" or "GRU")
            {
                _recurrent[node] = OnnxRecurrentLayer.FromNode(node, name => ConstantTensor(scope, name), Opset, Source, Pool);
                continue;
            }

            if (node.OpType == "If")
            {
                OnnxGraph then = OnnxStatic.Attribute(node, "then_branch")!.Graph!, otherwise = OnnxStatic.Attribute(node, "else_branch")!.Graph!;
                if (scope.TryGetValue(node.Inputs[0], out PlanValue? condition))
                {
                    OnnxGraph chosen = OnnxStatic.Condition(node, condition, Source) ? then : otherwise;
                    Dictionary<string, PlanValue> inner = FoldBranch(chosen, scope);
                    if (chosen.Outputs.All(o => inner.ContainsKey(o.Name)))
                    {
                        for (int k = 0; k < node.Outputs.Length; k++)
                        {
                            scope[node.Outputs[k]] = inner[chosen.Outputs[k].Name];
                        }
                    }
                }
                else
                {
                    FoldBranch(then, scope);
                    FoldBranch(otherwise, scope);
                }

                continue;
            }

            if (node.OpType == "Shape" || node.Inputs.Any(i => i.Length > 0 && !scope.ContainsKey(i)))
            {
                continue;
            }

            PlanValue?[] inputs = [.. node.Inputs.Select(i => i.Length == 0 ? null : scope[i])];
            PlanValue[] results = OnnxStatic.CanEvaluate(node.OpType)
                ? OnnxStatic.Evaluate(node, inputs, Opset, Source)
                : OnnxPlan.EvaluateKnown(this, node, inputs);
            for (int k = 0; k < results.Length && k < node.Outputs.Length; k++)
            {
                scope[node.Outputs[k]] = results[k];
            }
        }
    }

    private Dictionary<string, PlanValue> FoldBranch(OnnxGraph branch, Dictionary<string, PlanValue> scope)
    {
        var inner = new Dictionary<string, PlanValue>(scope, StringComparer.Ordinal);
        foreach ((string name, OnnxTensor t) in branch.Initializers)
        {
            inner[name] = ToValue(t);
        }

        Fold(branch, inner);
        _scopes[branch] = inner;
        return inner;
    }

    private static OnnxTensor? ConstantTensor(Dictionary<string, PlanValue> scope, string name) =>
        scope.TryGetValue(name, out PlanValue? v) && v.Floats is { } f ? OnnxTensor.FromFloats(name, v.Shape, f) : null;

    // The scalar int64 inputs whose values reach an If's condition: a forward pass marking, for every name, which
    // inputs it depends on (a bit per input), through the branches too.
    private bool[] ValueInputs()
    {
        var result = new bool[_graph.Inputs.Count];
        var depends = new Dictionary<string, ulong>(StringComparer.Ordinal);
        for (int i = 0; i < _graph.Inputs.Count && i < 64; i++)
        {
            OnnxValue v = _graph.Inputs[i];
            if (v.ElementType is 6 or 7 && v.Dimensions is { Length: 0 })
            {
                depends[v.Name] = 1UL << i;
            }
        }

        if (depends.Count == 0)
        {
            return result;
        }

        ulong needed = 0;
        void Walk(OnnxGraph graph)
        {
            foreach (OnnxNode node in graph.Nodes)
            {
                ulong mask = 0;
                foreach (string input in node.Inputs)
                {
                    mask |= depends.GetValueOrDefault(input);
                }

                if (node.OpType == "If")
                {
                    needed |= mask;
                    foreach ((_, OnnxGraph branch) in OnnxGraph.Subgraphs(node))
                    {
                        Walk(branch);
                        foreach (OnnxValue o in branch.Outputs)
                        {
                            mask |= depends.GetValueOrDefault(o.Name);
                        }
                    }
                }

                foreach (string output in node.Outputs)
                {
                    if (mask != 0)
                    {
                        depends[output] = mask;
                    }
                }
            }
        }

        Walk(_graph);
        for (int i = 0; i < result.Length && i < 64; i++)
        {
            result[i] = (needed & (1UL << i)) != 0;
        }

        return result;
    }
}
