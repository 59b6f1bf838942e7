using System.Numerics.Tensors;
using Rnn.Simd.Kernels.Activations;

namespace Rnn.Simd.Cells;

/// <summary>
/// The Elman cell, its element-wise parts: h = f(a + b) with a = W_x x + W_h h_{t−1} and f the hidden nonlinearity
/// (<see cref="Nonlinearity"/>). Its row-major forward (<see cref="Forward"/>), its forward with the batch in the vector lanes (<see cref="Lanes"/>)
/// and its row backward (<see cref="Backward"/>) live here; the matrix products, threading and sequence lengths are
/// the layers' (Layers/DirectionRun, DirectionLanes, DirectionBackward).
/// </summary>
internal static unsafe class ElmanCell
{
    /// <summary>
    /// Elman: h = f(a + b) with a = W_x x + W_h h_{t−1} already in <paramref name="gates"/> [H]; writes h into
    /// <paramref name="h"/> (may be <paramref name="gates"/>).
    /// </summary>
    public static void Forward(Span<float> gates, ReadOnlySpan<float> bias, ActivationKind activation, Span<float> h)
    {
        TensorPrimitives.Add(gates, bias, gates);
        Activations.Forward(activation, gates, h);
    }

    /// <summary>
    /// <see cref="Forward"/> with the batch in the vector lanes: h = f(a + b); <paramref name="gates"/> [unit][lane] is
    /// overwritten with a + b.
    /// </summary>
    /// <remarks>Layouts as in <see cref="LstmCell.Lanes"/>.</remarks>
    public static void Lanes(ActivationKind activation, int lanes, float* gates, float* bias, int u0, int units, float* hOut)
    {
        float* g = gates;
        for (int u = 0; u < units; u++)
        {
            float b = bias[u0 + u];
            for (int l = 0; l < lanes; l++, g++)
            {
                *g += b;
            }
        }

        Activations.Forward(activation, new ReadOnlySpan<float>(gates, units * lanes), new Span<float>(hOut, units * lanes));
    }

    /// <summary>
    /// Elman backward for one row: dL/da = dL/dh ⊙ f'(a), with f' taken from the recorded output <paramref name="h"/>
    /// (<see cref="Activations.Backward(ActivationKind, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float})"/>).
    /// </summary>
    public static void Backward(ActivationKind activation, ReadOnlySpan<float> h, ReadOnlySpan<float> dh, Span<float> da)
        => Activations.Backward(activation, h, dh, da);
}
