using System.Buffers;
using System.Numerics.Tensors;
using Rnn.Simd.Internal;
using Rnn.Simd.Kernels.Activations;
using Rnn.Simd.Kernels.Gemm;
using Rnn.Simd.Kernels.Threading;

namespace Rnn.Simd.Layers;

/// <summary>The output nonlinearity f_out of a dense layer.</summary>
public enum OutputActivation
{
    /// <summary>y = z (regression).</summary>
    Identity,

    /// <summary>y = σ(z), element-wise (independent binary outputs).</summary>
    Sigmoid,

    /// <summary>y = softmax(z) over each row (a distribution over classes).</summary>
    Softmax,
}

/// <summary>
/// A dense layer y = f_out(W z + b), W [outputs, inputs] packed once: the output layer of an Elman or Jordan
/// network (seed 003, y_t = f_out(W_out h_t + b_out)) or any head on a recurrent network's outputs. Immutable.
/// </summary>
public sealed class DenseLayer
{
    private readonly PackedMatrix _weight;
    private readonly float[] _bias;        // [outputs], or empty

    /// <summary>Creates the layer from W [outputs, inputs] row-major and b [outputs] (empty = no bias).</summary>
    public DenseLayer(int inputs, int outputs, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, OutputActivation activation)
    {
        if (inputs < 1 || outputs < 1)
        {
            ThrowHelper.ArgumentOutOfRange(inputs < 1 ? nameof(inputs) : nameof(outputs), $"Sizes must be at least 1, were inputs={inputs} and outputs={outputs}.");
        }

        ThrowHelper.ThrowIfLengthIsNot(weight.Length, nameof(weight), "outputs·inputs", outputs, inputs);
        ThrowHelper.ThrowIfLengthIsNotEmptyOr(bias.Length, nameof(bias), "outputs", outputs);

        if (!Enum.IsDefined(activation))
        {
            ThrowHelper.Argument(nameof(activation), $"{activation} is not an output activation.");
        }

        Inputs = inputs;
        Outputs = outputs;
        Activation = activation;
        _weight = PackedMatrix.FromRowsAsColumns(weight, outputs, inputs, inputs);
        _bias = bias.ToArray();   // empty: no bias (nothing added, so −0 stays −0 as in PyTorch's bias=False)
    }

    /// <summary>Features per input row.</summary>
    public int Inputs { get; }

    /// <summary>Features per output row.</summary>
    public int Outputs { get; }

    /// <summary>f_out.</summary>
    public OutputActivation Activation { get; }

    /// <summary>y[rows, Outputs] = f_out(z[rows, Inputs] · Wᵀ + b). Allocates nothing.</summary>
    public void Forward(ReadOnlySpan<float> z, int rows, Span<float> y, ThreadTeam? threads = null, ArrayPool<float>? pool = null)
    {
        ThrowHelper.ThrowIfNegative(rows, nameof(rows));
        ThrowHelper.ThrowIfLengthIsNot(z.Length, nameof(z), "rows·inputs", rows, Inputs);
        ThrowHelper.ThrowIfLengthIsNot(y.Length, nameof(y), "rows·outputs", rows, Outputs);

        Gemm.MultiplyPacked(rows, z, Inputs, _weight, y, Outputs, accumulate: false, threads, pool);
        Finish(y, rows);
    }

    /// <summary>Adds the bias and applies f_out to rows already holding W z.</summary>
    internal void Finish(Span<float> y, int rows) => Finish(y, rows, Outputs, _bias, Activation);

    /// <summary>
    /// Adds <paramref name="bias"/> (empty: none) to each of <paramref name="rows"/> rows of <paramref name="outputs"/>
    /// features holding W z, then applies <paramref name="activation"/>: the one finish every dense head shares.
    /// </summary>
    internal static void Finish(Span<float> y, int rows, int outputs, ReadOnlySpan<float> bias, OutputActivation activation)
    {
        for (int r = 0; r < rows; r++)
        {
            Span<float> row = y.Slice(r * outputs, outputs);
            if (!bias.IsEmpty)
            {
                TensorPrimitives.Add(row, bias, row);
            }

            if (activation == OutputActivation.Sigmoid)
            {
                Activations.Forward(ActivationKind.Sigmoid, row, row);
            }
        }

        if (activation == OutputActivation.Softmax && rows > 0)
        {
            Activations.SoftmaxRows(y, outputs, y, outputs, rows, outputs);
        }
    }

    /// <summary>The packed weights (for products that accumulate into a buffer of their own).</summary>
    internal PackedMatrix Weight => _weight;

    /// <summary>b [outputs], or empty: none.</summary>
    internal ReadOnlySpan<float> Bias => _bias;
}
