using System.Buffers;
using CommunityToolkit.HighPerformance.Buffers;
using Rnn.Simd.Internal;
using Rnn.Simd.Kernels.Activations;
using Rnn.Simd.Kernels.Gemm;
using Rnn.Simd.Kernels.Threading;
using Rnn.Simd.Layers;
using Rnn.Simd.Parameters;

namespace Rnn.Simd.Training;

/// <summary>
/// A dense layer y = f_out(W z + b) whose parameters live in a <see cref="ParameterSet"/> under nn.Linear's names
/// (<c>{prefix}weight</c> [outputs, inputs], <c>{prefix}bias</c> [outputs], the bias optional), with its backward pass:
/// the trainable twin of <see cref="DenseLayer"/> (a head on a recurrent network, the output layer of an Elman or
/// Jordan network).
/// </summary>
/// <remarks>
/// <para><see cref="Forward"/> computes exactly what <see cref="DenseLayer.Forward"/> computes (the same bits).
/// <see cref="Backward"/> takes the layer's input z and output y from the caller (a dense layer needs no tape) and
/// adds dL/dW, dL/db into <see cref="ParameterSet.Gradients"/> and dL/dz into the caller's buffer: gradients only
/// ever accumulate; zeroing is separate.</para>
/// <para>With a = W z + b and y = f_out(a): dL/da = dL/dy (identity), dL/dy ⊙ y ⊙ (1 − y) (sigmoid), or the softmax
/// Jacobian-vector product y ⊙ (dL/dy − Σ dL/dy ⊙ y) per row (softmax); then dL/dW += (dL/da)ᵀ z over the rows,
/// dL/db += Σ_rows dL/da and dL/dz += dL/da · W. For softmax followed by cross-entropy, make the layer
/// <see cref="OutputActivation.Identity"/> and take dL/dlogits from <see cref="Losses.SoftmaxCrossEntropy(ReadOnlySpan{float}, int, int, ReadOnlySpan{int}, Span{float}, LossReduction, int)"/>: that
/// is both cheaper and more accurate.</para>
/// <para>When the parameter values change (<see cref="ParameterSet.Version"/> moves), the next call re-packs the
/// weights in place. Driven by one thread at a time. No allocation per call (scratch comes from <see cref="Pool"/>);
/// results are bit-identical for every vector width and thread count.</para>
/// </remarks>
public sealed class TrainableDenseLayer
{
    private readonly ParameterTensor _weight;
    private readonly ParameterTensor? _bias;
    private readonly PackedMatrix _forwardWeight;   // W [outputs, inputs] packed for y = z · Wᵀ
    private readonly PackedMatrix _backWeight;      // W [outputs, inputs] packed as B for dz = da · W
    private long _packedVersion;

    /// <summary>
    /// Binds a layer to the tensors <c>{prefix}weight</c> [outputs, inputs] and, when present, <c>{prefix}bias</c>
    /// [outputs] of <paramref name="parameters"/> (see <see cref="Specs"/>); the set may hold other modules' tensors.
    /// </summary>
    /// <exception cref="ArgumentException">A size is below 1, the activation is undefined, the weight is missing, or a tensor has the wrong shape.</exception>
    public TrainableDenseLayer(int inputs, int outputs, OutputActivation activation, ParameterSet parameters, string prefix = "", ArrayPool<float>? pool = null)
    {
        ValidateSizes(inputs, outputs);
        if (!Enum.IsDefined(activation))
        {
            ThrowHelper.Argument(nameof(activation), $"{activation} is not an output activation.");
        }

        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(prefix);
        Inputs = inputs;
        Outputs = outputs;
        Activation = activation;
        Parameters = parameters;
        Prefix = prefix;
        Pool = pool ?? ArrayPool<float>.Shared;
        _weight = parameters.Bind(prefix + "weight", [outputs, inputs], required: true, nameof(parameters))!;
        _bias = parameters.Bind(prefix + "bias", [outputs], required: false, nameof(parameters));
        _forwardWeight = PackedMatrix.FromRowsAsColumns(parameters.Value(_weight), outputs, inputs, inputs);
        _backWeight = PackedMatrix.FromMatrix(parameters.Value(_weight), outputs, inputs, inputs);
        _packedVersion = parameters.Version;
    }

    /// <summary>Features per input row.</summary>
    public int Inputs { get; }

    /// <summary>Features per output row.</summary>
    public int Outputs { get; }

    /// <summary>f_out.</summary>
    public OutputActivation Activation { get; }

    /// <summary>Whether the layer has a bias (the tensor <c>{prefix}bias</c> was present).</summary>
    public bool HasBias => _bias is not null;

    /// <summary>The parameters (values and gradients) this layer reads and writes.</summary>
    public ParameterSet Parameters { get; }

    /// <summary>The name prefix of this layer's tensors in <see cref="Parameters"/>.</summary>
    public string Prefix { get; }

    /// <summary>The pool scratch is rented from.</summary>
    public ArrayPool<float> Pool { get; }

    /// <summary>
    /// The parameters of a layer under nn.Linear's names: <c>{prefix}weight</c> [outputs, inputs]
    /// (<see cref="ParameterRole.DenseWeight"/>) and, when <paramref name="bias"/>, <c>{prefix}bias</c> [outputs]
    /// (<see cref="ParameterRole.DenseBias"/>).
    /// </summary>
    /// <exception cref="ArgumentException">A size is below 1.</exception>
    public static IReadOnlyList<ParameterSpec> Specs(int inputs, int outputs, string prefix = "", bool bias = true)
    {
        ValidateSizes(inputs, outputs);
        ArgumentNullException.ThrowIfNull(prefix);
        var specs = new List<ParameterSpec> { new(prefix + "weight", [outputs, inputs], ParameterRole.DenseWeight) };
        if (bias)
        {
            specs.Add(new(prefix + "bias", [outputs], ParameterRole.DenseBias));
        }

        return specs;
    }

    /// <summary>A layer with its own parameter set (values zero until initialised or loaded).</summary>
    public static TrainableDenseLayer Create(int inputs, int outputs, OutputActivation activation, string prefix = "", bool bias = true, ArrayPool<float>? pool = null) =>
        new(inputs, outputs, activation, ParameterSet.Create(Specs(inputs, outputs, prefix, bias)), prefix, pool);

    /// <summary>An immutable inference layer with the current parameter values (a copy).</summary>
    public DenseLayer ToInferenceLayer() => new(Inputs, Outputs, WeightValues, BiasValues, Activation);

    /// <summary>W [outputs, inputs], the current values.</summary>
    internal ReadOnlySpan<float> WeightValues => Parameters.Value(_weight);

    /// <summary>b [outputs], the current values, or empty without a bias.</summary>
    internal ReadOnlySpan<float> BiasValues => _bias is null ? default : Parameters.Value(_bias);

    /// <summary>W packed for z · Wᵀ (current after <see cref="EnsurePacked"/>).</summary>
    internal PackedMatrix ForwardWeight => _forwardWeight;

    /// <summary>y[rows, Outputs] = f_out(z[rows, Inputs] · Wᵀ + b), as <see cref="DenseLayer.Forward"/>. Allocates nothing.</summary>
    /// <param name="z">The inputs [rows, Inputs].</param>
    /// <param name="rows">Rows ≥ 0.</param>
    /// <param name="y">Receives the outputs [rows, Outputs]; <see cref="Backward"/> needs them.</param>
    /// <param name="threads">Threads for the product, or null for the calling thread only.</param>
    public void Forward(ReadOnlySpan<float> z, int rows, Span<float> y, ThreadTeam? threads = null)
    {
        ThrowHelper.ThrowIfNegative(rows, nameof(rows));
        ThrowHelper.ThrowIfLengthIsNot(z.Length, nameof(z), "rows·inputs", rows, Inputs);
        ThrowHelper.ThrowIfLengthIsNot(y.Length, nameof(y), "rows·outputs", rows, Outputs);
        EnsurePacked();
        ForwardRows(z, rows, y, threads);
    }

    /// <summary>
    /// The backward pass of <see cref="Forward"/>: adds dL/dW and dL/db into <see cref="ParameterSet.Gradients"/> and
    /// dL/dz into <paramref name="gradInput"/>.
    /// </summary>
    /// <param name="z">The inputs the forward call saw [rows, Inputs].</param>
    /// <param name="y">The outputs it returned [rows, Outputs] (with the parameters unchanged since).</param>
    /// <param name="gradOutput">dL/dy [rows, Outputs].</param>
    /// <param name="rows">Rows ≥ 0.</param>
    /// <param name="gradInput">Receives (added into) dL/dz [rows, Inputs], or empty: not wanted. Must not overlap the other buffers.</param>
    /// <param name="threads">Threads for the products, or null for the calling thread only.</param>
    public void Backward(ReadOnlySpan<float> z, ReadOnlySpan<float> y, ReadOnlySpan<float> gradOutput, int rows, Span<float> gradInput = default, ThreadTeam? threads = null)
    {
        ThrowHelper.ThrowIfNegative(rows, nameof(rows));
        ThrowHelper.ThrowIfLengthIsNot(z.Length, nameof(z), "rows·inputs", rows, Inputs);
        ThrowHelper.ThrowIfLengthIsNot(y.Length, nameof(y), "rows·outputs", rows, Outputs);
        ThrowHelper.ThrowIfLengthIsNot(gradOutput.Length, nameof(gradOutput), "rows·outputs", rows, Outputs);
        ThrowHelper.ThrowIfLengthIsNotEmptyOr(gradInput.Length, (long)rows * Inputs, nameof(gradInput), "rows·inputs");
        if (rows == 0)
        {
            return;
        }

        EnsurePacked();

        // [rows, Outputs] dL/da | [Outputs] bias sums
        int preLength = rows * Outputs;
        using SpanOwner<float> scratch = SpanOwner<float>.Allocate(preLength + Outputs, Pool);
        Span<float> pre = scratch.Span[..preLength];
        ActivationBackward(y, gradOutput, pre, rows);
        if (!gradInput.IsEmpty)
        {
            InputGradient(pre, rows, gradInput, accumulate: true, threads);
        }

        AddParameterGradients(z, pre, rows, scratch.Span.Slice(preLength, Outputs), threads);
    }

    /// <summary>Re-packs the weights when the parameter values changed since the last pack.</summary>
    internal void EnsurePacked()
    {
        if (_packedVersion == Parameters.Version)
        {
            return;
        }

        ReadOnlySpan<float> w = Parameters.Value(_weight);
        _forwardWeight.Repack(w, Inputs);
        _backWeight.Repack(w, Inputs);
        _packedVersion = Parameters.Version;
    }

    /// <summary>y = f_out(z · Wᵀ + b) for validated buffers and packed weights.</summary>
    internal void ForwardRows(ReadOnlySpan<float> z, int rows, Span<float> y, ThreadTeam? threads)
    {
        Gemm.MultiplyPacked(rows, z, Inputs, _forwardWeight, y, Outputs, accumulate: false, threads, Pool);
        DenseLayer.Finish(y, rows, Outputs, BiasValues, Activation);
    }

    /// <summary>dL/da [rows, Outputs] from dL/dy and y; <paramref name="pre"/> may be <paramref name="gradOutput"/> itself.</summary>
    internal void ActivationBackward(ReadOnlySpan<float> y, ReadOnlySpan<float> gradOutput, Span<float> pre, int rows)
    {
        switch (Activation)
        {
            case OutputActivation.Sigmoid:
                Activations.Backward(ActivationKind.Sigmoid, y, gradOutput, pre);
                break;
            case OutputActivation.Softmax:
                Activations.SoftmaxRowsBackward(y, Outputs, gradOutput, Outputs, pre, Outputs, rows, Outputs);
                break;
            default:
                gradOutput.CopyTo(pre);
                break;
        }
    }

    /// <summary>dL/dz [rows, Inputs] = (accumulate ? dL/dz : 0) + dL/da · W.</summary>
    internal void InputGradient(ReadOnlySpan<float> pre, int rows, Span<float> gradInput, bool accumulate, ThreadTeam? threads) =>
        Gemm.MultiplyPacked(rows, pre, Outputs, _backWeight, gradInput, Inputs, accumulate, threads, Pool);

    /// <summary>dL/dW += (dL/da)ᵀ z and dL/db += Σ_rows dL/da; <paramref name="sum"/> is [Outputs] scratch.</summary>
    internal void AddParameterGradients(ReadOnlySpan<float> z, ReadOnlySpan<float> pre, int rows, Span<float> sum, ThreadTeam? threads)
    {
        Gemm.MultiplyAtB(Outputs, Inputs, rows, pre, Outputs, z, Inputs, Parameters.Gradient(_weight), Inputs, accumulate: true, threads, Pool);
        if (_bias is not null)
        {
            ColumnSums.Add(pre, rows, Outputs, sum, Parameters.Gradient(_bias));
        }
    }

    private static void ValidateSizes(int inputs, int outputs)
    {
        if (inputs < 1 || outputs < 1)
        {
            ThrowHelper.ArgumentOutOfRange(inputs < 1 ? nameof(inputs) : nameof(outputs), "Sizes must be at least 1.");
        }
    }
}
