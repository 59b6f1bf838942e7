namespace Rnn.Simd.Cells;

/// <summary>
/// The element-wise step of the cells with ONNX's extras (<c>RecurrentNetworkOptions</c>: chosen activations
/// with α and β, cell clip, coupled input-forget gate, LSTM peepholes): one row, one element at a time, after the
/// matrix products. The built-in fast paths (<see cref="LstmCell"/>, <see cref="GruCell"/>, <see cref="ElmanCell"/>)
/// stay as they are; these run only when an extra is set. Each element sees the same operations in the same order on
/// every vector width, so the bits do not depend on it.
/// </summary>
/// <remarks>
/// Clip bounds the input of every gate activation to [−clip, clip] (0 = none), as ONNX defines <c>clip</c>; the
/// cell state itself is not clipped. Gate rows are in the engine's order (<see cref="GateLayout"/>): LSTM i, f, o, g;
/// GRU r, z, n. Biases are the folded ones (b_ih + b_hh, GRU reset-after's n row b_in only).
/// </remarks>
internal static class ExtendedCell
{
    /// <summary>Elman: h = f(clip(a + b)).</summary>
    public static void Elman(ReadOnlySpan<float> gates, ReadOnlySpan<float> bias, CellActivation f, float clip, Span<float> h)
    {
        for (int u = 0; u < h.Length; u++)
        {
            h[u] = f.Apply(Clip(gates[u] + bias[u], clip));
        }
    }

    /// <summary>
    /// LSTM: i = f(clip(a_i + p_i c_{t−1})), f = 1 − i when coupled else f(clip(a_f + p_f c_{t−1})), g = g(clip(a_g)),
    /// c = f c_{t−1} + i g, o = f(clip(a_o + p_o c)), h = o h(c). <paramref name="peephole"/> is [p_i, p_f, p_o] or empty.
    /// </summary>
    public static void Lstm(
        ReadOnlySpan<float> gates, ReadOnlySpan<float> bias, ReadOnlySpan<float> peephole, ReadOnlySpan<float> cPrev, Span<float> c, Span<float> h,
        CellActivation gate, CellActivation candidate, CellActivation output, float clip, bool coupled)
    {
        int n = c.Length;
        bool peep = !peephole.IsEmpty;
        for (int u = 0; u < n; u++)
        {
            float cp = cPrev[u];
            int iu = (GateLayout.LstmInput * n) + u, fu = (GateLayout.LstmForget * n) + u, ou = (GateLayout.LstmOutput * n) + u, gu = (GateLayout.LstmCell * n) + u;
            float ai = gates[iu] + bias[iu], af = gates[fu] + bias[fu];
            if (peep)
            {
                ai += peephole[u] * cp;
                af += peephole[n + u] * cp;
            }

            float i = gate.Apply(Clip(ai, clip));
            float f = coupled ? 1f - i : gate.Apply(Clip(af, clip));
            float g = candidate.Apply(Clip(gates[gu] + bias[gu], clip));
            float cv = (f * cp) + (i * g);
            float ao = gates[ou] + bias[ou];
            if (peep)
            {
                ao += peephole[(2 * n) + u] * cv;
            }

            c[u] = cv;
            h[u] = gate.Apply(Clip(ao, clip)) * output.Apply(cv);
        }
    }

    /// <summary>GRU, first part: r, z = f(clip(x-products + h-products + b)) over the first 2H entries of
    /// <paramref name="gates"/>, which receive the activated gates.</summary>
    public static void GruGates(Span<float> gates, ReadOnlySpan<float> recurrent, ReadOnlySpan<float> bias, CellActivation gate, float clip, int n)
    {
        for (int k = 0; k < 2 * n; k++)
        {
            gates[k] = gate.Apply(Clip(gates[k] + recurrent[k] + bias[k], clip));
        }
    }

    /// <summary>
    /// GRU, second part: n = g(clip(a_n)) with a_n = (W_in x + b_n) + r ⊙ (W_hn h + b_hn) (reset-after:
    /// <paramref name="recurrentNew"/> is W_hn h, <paramref name="newBias"/> b_hn) or W_in x + b_n + W_hn (r ⊙ h)
    /// (reset-before: <paramref name="recurrentNew"/> is that product, <paramref name="newBias"/> empty); h = n + z (h_{t−1} − n).
    /// </summary>
    public static void GruState(
        ReadOnlySpan<float> gates, ReadOnlySpan<float> bias, ReadOnlySpan<float> recurrentNew, ReadOnlySpan<float> newBias, ReadOnlySpan<float> hPrev, Span<float> h,
        CellActivation candidate, float clip)
    {
        int n = h.Length;
        for (int u = 0; u < n; u++)
        {
            float r = gates[(GateLayout.GruReset * n) + u], z = gates[(GateLayout.GruUpdate * n) + u];
            int nu = (GateLayout.GruNew * n) + u;
            float a = newBias.IsEmpty
                ? gates[nu] + bias[nu] + recurrentNew[u]
                : (gates[nu] + bias[nu]) + (r * (recurrentNew[u] + newBias[u]));
            float nv = candidate.Apply(Clip(a, clip));
            h[u] = nv + (z * (hPrev[u] - nv));
        }
    }

    private static float Clip(float x, float clip) => clip > 0f ? Math.Clamp(x, -clip, clip) : x;
}
