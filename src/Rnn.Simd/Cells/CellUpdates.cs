using System.Numerics.Tensors;
using Rnn.Simd.Kernels;

namespace Rnn.Simd.Cells;

/// <summary>
/// The element-wise part of each cell, run on one batch row after the matrix products: bias, gate
/// activations and the state update. Every operation is an exactly rounded IEEE add or multiply, or one of
/// our width-independent activations, so the results have the same bits at every vector width.
/// </summary>
internal static class CellUpdates
{
    /// <summary>
    /// Elman: h = f(a + b) with a = W_x x + W_h h_{t−1} already in <paramref name="gates"/> [H]; writes h into
    /// <paramref name="h"/> (may be <paramref name="gates"/>).
    /// </summary>
    public static void Elman(Span<float> gates, ReadOnlySpan<float> bias, ActivationKind activation, Span<float> h)
    {
        TensorPrimitives.Add(gates, bias, gates);
        Activations.Forward(activation, gates, h);
    }

    /// <summary>
    /// LSTM, seed 004 / DESIGN.md §2: with a = W [x; h_{t−1}] in <paramref name="gates"/> [4H] (rows i, f, o, g),
    /// i, f, o = σ(a + b), g = tanh(a + b); c = f ⊙ c_{t−1} + i ⊙ g; hCell = o ⊙ tanh(c). The activated gates
    /// stay in <paramref name="gates"/>; <paramref name="scratch"/> is [H]; <paramref name="tanhC"/> [H] receives tanh(c)
    /// (training keeps it for backward). <paramref name="scratch"/> and <paramref name="tanhC"/> may both be <paramref name="hCell"/>.
    /// </summary>
    public static void Lstm(Span<float> gates, ReadOnlySpan<float> bias, ReadOnlySpan<float> cPrev, Span<float> c, Span<float> hCell, Span<float> scratch, Span<float> tanhC)
    {
        int h = c.Length;
        TensorPrimitives.Add(gates, bias, gates);
        Span<float> sigmoidGates = gates[..(3 * h)];
        Activations.Forward(ActivationKind.Sigmoid, sigmoidGates, sigmoidGates);
        Span<float> g = gates.Slice(GateLayout.LstmCell * h, h);
        Activations.Forward(ActivationKind.Tanh, g, g);

        ReadOnlySpan<float> i = gates.Slice(GateLayout.LstmInput * h, h);
        ReadOnlySpan<float> f = gates.Slice(GateLayout.LstmForget * h, h);
        ReadOnlySpan<float> o = gates.Slice(GateLayout.LstmOutput * h, h);
        TensorPrimitives.Multiply(f, cPrev, c);          // f ⊙ c_{t−1}
        TensorPrimitives.Multiply(i, g, scratch);         // i ⊙ g
        TensorPrimitives.Add(c, scratch, c);
        Activations.Forward(ActivationKind.Tanh, c, tanhC);
        TensorPrimitives.Multiply(o, tanhC, hCell);       // o ⊙ tanh(c)
    }

    /// <summary>
    /// GRU, first part: r, z = σ(W_x x + W_h h + b) over the first 2H entries of <paramref name="inputGates"/>
    /// (the input products, [3H]) plus <paramref name="recurrentGates"/> (the recurrent products, ≥ [2H]). The
    /// activated r, z replace the first 2H entries of <paramref name="inputGates"/>.
    /// </summary>
    public static void GruResetUpdate(Span<float> inputGates, ReadOnlySpan<float> recurrentGates, ReadOnlySpan<float> bias)
    {
        int twoH = 2 * (inputGates.Length / 3);
        Span<float> rz = inputGates[..twoH];
        TensorPrimitives.Add(rz, recurrentGates[..twoH], rz);
        TensorPrimitives.Add(rz, bias[..twoH], rz);
        Activations.Forward(ActivationKind.Sigmoid, rz, rz);
    }

    /// <summary>
    /// GRU, second part, given r, z in <paramref name="inputGates"/>[0, 2H) and W_in x in [2H, 3H):
    /// n = tanh(W_in x + b_n + <paramref name="recurrentNew"/>), h = n + z ⊙ (h_{t−1} − n) (PyTorch's form of
    /// (1 − z) ⊙ n + z ⊙ h_{t−1}). recurrentNew is r ⊙ (W_hn h + b_hn) (reset-after) or W_hn (r ⊙ h) (reset-before).
    /// </summary>
    public static void GruNew(Span<float> inputGates, ReadOnlySpan<float> bias, ReadOnlySpan<float> recurrentNew, ReadOnlySpan<float> hPrev, Span<float> h, Span<float> scratch)
    {
        int size = h.Length;
        Span<float> n = inputGates.Slice(GateLayout.GruNew * size, size);
        ReadOnlySpan<float> z = inputGates.Slice(GateLayout.GruUpdate * size, size);
        TensorPrimitives.Add(n, bias.Slice(GateLayout.GruNew * size, size), n);
        TensorPrimitives.Add(n, recurrentNew, n);
        Activations.Forward(ActivationKind.Tanh, n, n);
        TensorPrimitives.Subtract(hPrev, n, scratch);     // h_{t−1} − n
        TensorPrimitives.Multiply(z, scratch, scratch);
        TensorPrimitives.Add(n, scratch, h);
    }

    /// <summary>
    /// Reset-after: <paramref name="hn"/> = W_hn h + b_hn, <paramref name="result"/> = r ⊙ hn (the two may be the same
    /// span; training keeps hn apart for backward).
    /// </summary>
    public static void GruResetAfterProduct(ReadOnlySpan<float> r, ReadOnlySpan<float> recurrentNew, ReadOnlySpan<float> newBias, Span<float> hn, Span<float> result)
    {
        TensorPrimitives.Add(recurrentNew, newBias, hn);
        TensorPrimitives.Multiply(r, hn, result);
    }
}
