using System.Buffers;
using System.Numerics.Tensors;
using Rnn.Simd.Cells;
using Rnn.Simd.Kernels.Activations;
using Rnn.Simd.Kernels.Gemm;
using Rnn.Simd.Kernels.Threading;

namespace Rnn.Simd.Layers;

/// <summary>
/// The Jordan forward arithmetic (seed 002), written once for <see cref="JordanNetwork"/> (inference) and
/// <see cref="Training.TrainableJordanNetwork"/> (training, which records what backward needs): per step t and row,
/// h_t = f_hid(W_in x_t + W_rec ŷ_{t−1} + b) and y_t = f_out(W_out h_t + b_out), with ŷ_{t−1} whatever the caller feeds.
/// </summary>
/// <remarks>
/// The hidden pre-activation is one FMA chain over [x; ŷ_{t−1}]: <see cref="InputTerms"/> forms the input terms of all
/// steps in one product and each <see cref="Step"/> continues the same chains with its recurrent terms. W_in and W_rec
/// are depth ranges of packed matrices: <see cref="JordanNetwork"/> keeps them as one fused [W_in | W_rec], training as
/// two matrices; either way each product is the same problem for the GEMM driver, so the bits are the same.
/// </remarks>
internal readonly ref struct JordanForward
{
    /// <summary>The sizes and activations.</summary>
    public required JordanNetworkOptions Options { get; init; }

    /// <summary>W_in packed for x · W_inᵀ: depth rows [0, X).</summary>
    public required PackedMatrix Input { get; init; }

    /// <summary>W_rec packed for ŷ · W_recᵀ: depth rows [<see cref="RecurrentStart"/>, + O).</summary>
    public required PackedMatrix Recurrent { get; init; }

    /// <summary>W_rec's first depth row in <see cref="Recurrent"/> (X in the fused [W_in | W_rec], else 0).</summary>
    public int RecurrentStart { get; init; }

    /// <summary>b [H], or empty: none.</summary>
    public ReadOnlySpan<float> Bias { get; init; }

    /// <summary>W_out packed for h · W_outᵀ.</summary>
    public required PackedMatrix OutputWeight { get; init; }

    /// <summary>b_out [O], or empty: none.</summary>
    public ReadOnlySpan<float> OutputBias { get; init; }

    /// <summary>Threads for the products, or null for the calling thread only.</summary>
    public ThreadTeam? Threads { get; init; }

    /// <summary>The pool the products rent their scratch from.</summary>
    public required ArrayPool<float> Pool { get; init; }

    /// <summary>gates [rows, H] = x [rows, X] · W_inᵀ: the input terms of every step of a call in one product.</summary>
    public void InputTerms(ReadOnlySpan<float> x, int rows, Span<float> gates)
    {
        int inputSize = Options.InputSize, h = Options.HiddenSize;
        Gemm.MultiplyPackedRange(rows, x, inputSize, Input, 0, inputSize, h, gates, h, accumulate: false, Threads, Pool);
    }

    /// <summary>
    /// One step of <paramref name="batch"/> rows: <paramref name="gates"/> [B, H] holding the step's input terms gains
    /// ŷ_{t−1} · W_recᵀ from <paramref name="fed"/> [B, O]; then h_t = f_hid(gates + b) into <paramref name="hidden"/>
    /// [B, H] (may be <paramref name="gates"/>) and y_t = f_out(W_out h_t + b_out) into <paramref name="output"/> [B, O].
    /// </summary>
    public void Step(int batch, ReadOnlySpan<float> fed, Span<float> gates, Span<float> hidden, Span<float> output)
    {
        int h = Options.HiddenSize, o = Options.OutputSize;
        Gemm.MultiplyPackedRange(batch, fed, o, Recurrent, RecurrentStart, o, h, gates, h, accumulate: true, Threads, Pool);
        ActivationKind activation = Options.HiddenActivation.ToActivationKind();
        for (int b = 0; b < batch; b++)
        {
            Span<float> row = gates.Slice(b * h, h);
            if (!Bias.IsEmpty)
            {
                TensorPrimitives.Add(row, Bias, row);
            }

            Activations.Forward(activation, row, hidden.Slice(b * h, h));
        }

        Gemm.MultiplyPacked(batch, hidden, h, OutputWeight, output, o, accumulate: false, Threads, Pool);
        DenseLayer.Finish(output, batch, o, OutputBias, Options.OutputActivation);
    }
}
