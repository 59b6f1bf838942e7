using Rnn.Simd.Cells;
using Rnn.Simd.Internal;

namespace Rnn.Simd.Parameters;

/// <summary>What a parameter tensor is for: initialisers and weight decay choose by it.</summary>
public enum ParameterRole
{
    /// <summary>Input-to-gates weights, PyTorch's <c>weight_ih</c> [G·H, In].</summary>
    InputWeight,

    /// <summary>Recurrent weights, PyTorch's <c>weight_hh</c> [G·H, Hout].</summary>
    RecurrentWeight,

    /// <summary>LSTM projection weights, PyTorch's <c>weight_hr</c> [P, H].</summary>
    ProjectionWeight,

    /// <summary>Input-side gate biases, PyTorch's <c>bias_ih</c> [G·H].</summary>
    InputBias,

    /// <summary>Recurrent-side gate biases, PyTorch's <c>bias_hh</c> [G·H].</summary>
    RecurrentBias,

    /// <summary>A dense (fully connected) layer's weights [out, in].</summary>
    DenseWeight,

    /// <summary>A dense layer's biases [out].</summary>
    DenseBias,

    /// <summary>An embedding table [vocabulary, dimension], nn.Embedding's <c>weight</c>: one row per token.</summary>
    Embedding,

    /// <summary>LSTM peephole weights [3H] (p_i, p_f, p_o), ONNX's <c>P</c>.</summary>
    PeepholeWeight,
}

/// <summary>The declaration of one parameter tensor: its PyTorch name, shape and role.</summary>
/// <param name="Name">Full name, prefix included (e.g. <c>rnn.weight_ih_l0</c>).</param>
/// <param name="Shape">Row-major shape, PyTorch's layout.</param>
/// <param name="Role">What the tensor is for.</param>
/// <param name="GateBlocks">Gate blocks stacked along the first dimension (4 for LSTM weights and biases, 3 for GRU, else 1).</param>
/// <param name="Cell">The cell the tensor belongs to, or null for non-recurrent layers.</param>
public sealed record ParameterSpec(string Name, int[] Shape, ParameterRole Role, int GateBlocks = 1, CellType? Cell = null);

/// <summary>One parameter tensor inside a <see cref="ParameterSet"/>: its declaration and where its floats live.</summary>
public sealed class ParameterTensor
{
    internal ParameterTensor(ParameterSpec spec, int offset, int length)
    {
        Spec = spec;
        Offset = offset;
        Length = length;
    }

    /// <summary>The declaration.</summary>
    public ParameterSpec Spec { get; }

    /// <summary>Full name (PyTorch's, prefix included).</summary>
    public string Name => Spec.Name;

    /// <summary>Row-major shape.</summary>
    public IReadOnlyList<int> Shape => Spec.Shape;

    /// <summary>Role.</summary>
    public ParameterRole Role => Spec.Role;

    /// <summary>Start of this tensor in <see cref="ParameterSet.Values"/> and <see cref="ParameterSet.Gradients"/>.</summary>
    public int Offset { get; }

    /// <summary>Number of floats.</summary>
    public int Length { get; }

    /// <inheritdoc/>
    public override string ToString() => $"{Name} [{string.Join(", ", Spec.Shape)}]";
}

/// <summary>
/// Every trainable parameter of a model in one flat array, with the gradients in a second flat array of the same
/// layout. Tensors keep PyTorch's names, shapes and gate orders, so a state dict maps onto a set one to one, and
/// optimisers, clipping and the non-finite guard each run one pass over one array.
/// </summary>
/// <remarks>
/// Not thread-safe for writing: one training loop owns a set. <see cref="Version"/> counts changes to the values;
/// networks built on a set re-pack their weights when it moves. Whoever writes <see cref="Values"/> directly calls
/// <see cref="MarkChanged"/>.
/// </remarks>
public sealed class ParameterSet
{
    private readonly ParameterTensor[] _tensors;
    private readonly Dictionary<string, ParameterTensor> _byName;
    private readonly float[] _values;
    private readonly float[] _gradients;

    private ParameterSet(ParameterTensor[] tensors, int length)
    {
        _tensors = tensors;
        _byName = new Dictionary<string, ParameterTensor>(StringComparer.Ordinal);
        foreach (ParameterTensor t in tensors)
        {
            _byName.Add(t.Name, t);
        }

        _values = new float[length];
        _gradients = new float[length];
    }

    /// <summary>Creates a set (values and gradients zero) from declarations, in their order.</summary>
    /// <exception cref="ArgumentException">A name repeats, or a shape is empty, negative or too large.</exception>
    public static ParameterSet Create(IEnumerable<ParameterSpec> specs)
    {
        ArgumentNullException.ThrowIfNull(specs);
        var tensors = new List<ParameterTensor>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        long offset = 0;
        foreach (ParameterSpec spec in specs)
        {
            if (spec is null || string.IsNullOrEmpty(spec.Name) || spec.Shape is null || spec.Shape.Length == 0)
            {
                ThrowHelper.Argument(nameof(specs), "Every parameter needs a name and a shape.");
            }

            if (!names.Add(spec.Name))
            {
                ThrowHelper.Argument(nameof(specs), $"Parameter '{spec.Name}' is declared twice.");
            }

            long length = 1;
            foreach (int d in spec.Shape)
            {
                if (d < 1)
                {
                    ThrowHelper.Argument(nameof(specs), $"Parameter '{spec.Name}' has a dimension of {d}.");
                }

                length *= d;
                if (length > Array.MaxLength)
                {
                    ThrowHelper.Argument(nameof(specs), $"Parameter '{spec.Name}' is too large.");
                }
            }

            tensors.Add(new ParameterTensor(spec with { Shape = (int[])spec.Shape.Clone() }, (int)offset, (int)length));
            offset += length;
            if (offset > Array.MaxLength)
            {
                ThrowHelper.Argument(nameof(specs), "The parameters together are too large for one array.");
            }
        }

        return new ParameterSet([.. tensors], (int)offset);
    }

    /// <summary>The tensors, in declaration order (which is also their order in the flat arrays).</summary>
    public IReadOnlyList<ParameterTensor> Tensors => _tensors;

    /// <summary>Total floats over all tensors.</summary>
    public int Length => _values.Length;

    /// <summary>All values, tensor after tensor.</summary>
    public Span<float> Values => _values;

    /// <summary>All gradients, in the layout of <see cref="Values"/>. Backward passes add into them.</summary>
    public Span<float> Gradients => _gradients;

    /// <summary>Counts changes of <see cref="Values"/> (optimiser steps, initialisation, loading, <see cref="MarkChanged"/>).</summary>
    public long Version { get; private set; }

    /// <summary>The tensor called <paramref name="name"/>.</summary>
    /// <exception cref="KeyNotFoundException">No such tensor.</exception>
    public ParameterTensor this[string name] =>
        _byName.TryGetValue(name, out ParameterTensor? t) ? t : throw new KeyNotFoundException($"No parameter named '{name}'.");

    /// <summary>Whether a tensor of that name exists.</summary>
    public bool TryGet(string name, out ParameterTensor tensor)
    {
        bool found = _byName.TryGetValue(name, out ParameterTensor? t);
        tensor = t!;
        return found;
    }

    /// <summary>
    /// The tensor a layer binds to: <paramref name="name"/> with exactly <paramref name="shape"/>, or null when it is absent
    /// and not <paramref name="required"/>. Throws an <see cref="ArgumentException"/> naming <paramref name="paramName"/> otherwise.
    /// </summary>
    internal ParameterTensor? Bind(string name, int[] shape, bool required, string paramName)
    {
        if (!_byName.TryGetValue(name, out ParameterTensor? tensor))
        {
            if (required)
            {
                ThrowHelper.Argument(paramName, $"Parameter '{name}' is missing.");
            }

            return null;
        }

        if (!tensor.Shape.SequenceEqual(shape))
        {
            ThrowHelper.Argument(paramName, $"Parameter '{name}' has shape [{string.Join(", ", tensor.Shape)}]; expected [{string.Join(", ", shape)}].");
        }

        return tensor;
    }

    /// <summary>The values of one tensor.</summary>
    public Span<float> Value(ParameterTensor tensor) => _values.AsSpan(Check(tensor).Offset, tensor.Length);

    /// <summary>The gradients of one tensor.</summary>
    public Span<float> Gradient(ParameterTensor tensor) => _gradients.AsSpan(Check(tensor).Offset, tensor.Length);

    /// <summary>The values of the tensor called <paramref name="name"/>.</summary>
    public Span<float> Value(string name) => Value(this[name]);

    /// <summary>The gradients of the tensor called <paramref name="name"/>.</summary>
    public Span<float> Gradient(string name) => Gradient(this[name]);

    /// <summary>Sets every gradient to zero (backward passes only ever add).</summary>
    public void ZeroGradients() => _gradients.AsSpan().Clear();

    /// <summary>Records that <see cref="Values"/> changed, so that networks re-pack before their next use.</summary>
    public void MarkChanged() => Version++;

    /// <summary>Whether every gradient is finite (no NaN, no ±∞).</summary>
    public bool GradientsAreFinite()
    {
        foreach (float g in _gradients)
        {
            if (!float.IsFinite(g))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Copies values from PyTorch-named arrays; every tensor of the set must be present with its exact size.</summary>
    /// <exception cref="ArgumentException">A tensor is missing or has the wrong size.</exception>
    public void Load(IReadOnlyDictionary<string, float[]> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        foreach (ParameterTensor t in _tensors)
        {
            if (!values.TryGetValue(t.Name, out float[]? data) || data is null)
            {
                ThrowHelper.Argument(nameof(values), $"Parameter '{t.Name}' is missing.");
            }

            if (data.Length != t.Length)
            {
                ThrowHelper.Argument(nameof(values), $"Parameter '{t.Name}' has {data.Length} elements; expected {t.Length} ({t}).");
            }
        }

        foreach (ParameterTensor t in _tensors)
        {
            values[t.Name].CopyTo(Value(t));
        }

        MarkChanged();
    }

    /// <summary>Copies of the values under their names (a state dict).</summary>
    public Dictionary<string, float[]> ToDictionary()
    {
        var result = new Dictionary<string, float[]>(StringComparer.Ordinal);
        foreach (ParameterTensor t in _tensors)
        {
            result.Add(t.Name, Value(t).ToArray());
        }

        return result;
    }

    private ParameterTensor Check(ParameterTensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        if (!_byName.TryGetValue(tensor.Name, out ParameterTensor? own) || !ReferenceEquals(own, tensor))
        {
            ThrowHelper.Argument(nameof(tensor), $"Tensor '{tensor.Name}' belongs to another parameter set.");
        }

        return tensor;
    }
}
