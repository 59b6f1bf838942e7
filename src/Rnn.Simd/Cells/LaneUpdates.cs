using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Rnn.Simd.Internal;
using Rnn.Simd.Kernels.Activations;

namespace Rnn.Simd.Cells;

/// <summary>
/// The cell updates of <see cref="CellUpdates"/> with the batch in the vector lanes: one unit's gate rows are
/// <c>lanes</c> batch rows wide and its biases are broadcast, so a vector holds one unit of several sequences.
/// Each lane runs exactly the IEEE operations of <see cref="CellUpdates"/>, in the same order, so the bits are the
/// row-major update's.
/// </summary>
/// <remarks>
/// Layouts, for the <c>units</c> units from <c>u0</c> (h is the hidden size, lanes a multiple of two vectors at
/// <c>width</c>):
/// <code>
///   gates   [unit][gate][lane]   the unit's rows in the engine's gate order (GateLayout), pre-activation
///   bias    [G·H]                the engine's folded biases: gate g of unit u at bias[g·H + u]
///   states  [unit][lane]         c, h_{t−1} and h_t panels
/// </code>
/// </remarks>
internal static unsafe class LaneUpdates
{
    /// <summary>LSTM: c = σ(f)·c + σ(i)·tanh(g) in place; h = σ(o)·tanh(c). The gates are overwritten (inference).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Lstm(VectorWidth width, int lanes, float* gates, float* bias, int h, int u0, int units, float* c, float* hOut)
    {
        Debug.Assert(width == VectorWidth.Scalar || lanes % (2 * (int)width) == 0, "The lanes fill pairs of vectors (a width's value is its float count).");
        Debug.Assert(GateLayout.LstmCell == 3, "i, f and o are the first three rows of a unit.");

        // The activations first, one per pass over the strip's gates (still in L1), then the state update.
        nint stride = 4 * lanes;
        for (int q = 0; q < GateLayout.LstmCell; q++)
        {
            GateActivation.ApplyLanes<SigmoidOperator>(width, gates + (q * lanes), stride, units, lanes, bias + (q * h) + u0);
        }

        GateActivation.ApplyLanes<TanhOperator>(width, gates + (GateLayout.LstmCell * lanes), stride, units, lanes, bias + (GateLayout.LstmCell * h) + u0);
        switch (width)
        {
            case VectorWidth.V512:
                LstmStateV512(lanes, gates, units, c, hOut);
                break;
            case VectorWidth.V256:
                LstmStateV256(lanes, gates, units, c, hOut);
                break;
            case VectorWidth.V128:
                LstmStateV128(lanes, gates, units, c, hOut);
                break;
            default:
                LstmStateScalar(lanes, gates, units, c, hOut);
                break;
        }
    }

    // c = f·c + i·g and h = o·tanh(c) from the activated gates; one method per width, as in CellUpdates.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void LstmStateV512(int lanes, float* gates, int units, float* c, float* hOut)
    {
        for (int u = 0; u < units; u++, gates += 4 * lanes, c += lanes, hOut += lanes)
        {
            for (int l = 0; l < lanes; l += Vector512<float>.Count)
            {
                float* g = gates + l;
                Vector512<float> cv = (Vector512.Load(g + lanes) * Vector512.Load(c + l)) + (Vector512.Load(g) * Vector512.Load(g + (3 * lanes)));
                cv.Store(c + l);
                (Vector512.Load(g + (2 * lanes)) * TanhOperator.Invoke(cv)).Store(hOut + l);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void LstmStateV256(int lanes, float* gates, int units, float* c, float* hOut)
    {
        for (int u = 0; u < units; u++, gates += 4 * lanes, c += lanes, hOut += lanes)
        {
            for (int l = 0; l < lanes; l += Vector256<float>.Count)
            {
                float* g = gates + l;
                Vector256<float> cv = (Vector256.Load(g + lanes) * Vector256.Load(c + l)) + (Vector256.Load(g) * Vector256.Load(g + (3 * lanes)));
                cv.Store(c + l);
                (Vector256.Load(g + (2 * lanes)) * TanhOperator.Invoke(cv)).Store(hOut + l);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void LstmStateV128(int lanes, float* gates, int units, float* c, float* hOut)
    {
        for (int u = 0; u < units; u++, gates += 4 * lanes, c += lanes, hOut += lanes)
        {
            for (int l = 0; l < lanes; l += Vector128<float>.Count)
            {
                float* g = gates + l;
                Vector128<float> cv = (Vector128.Load(g + lanes) * Vector128.Load(c + l)) + (Vector128.Load(g) * Vector128.Load(g + (3 * lanes)));
                cv.Store(c + l);
                (Vector128.Load(g + (2 * lanes)) * TanhOperator.Invoke(cv)).Store(hOut + l);
            }
        }
    }

    private static void LstmStateScalar(int lanes, float* gates, int units, float* c, float* hOut)
    {
        for (int u = 0; u < units; u++, gates += 4 * lanes, c += lanes, hOut += lanes)
        {
            for (int l = 0; l < lanes; l++)
            {
                float* g = gates + l;
                float cv = (g[lanes] * c[l]) + (g[0] * g[3 * lanes]);
                c[l] = cv;
                hOut[l] = g[2 * lanes] * TanhOperator.Invoke(cv);
            }
        }
    }

    /// <summary>
    /// GRU reset-after: r, z = σ((input + recurrent) + b); hn = recurrent_n + b_hn; n = tanh((input_n + b_n) + r·hn);
    /// h = n + z·(h_{t−1} − n). <paramref name="gates"/> holds the input products, <paramref name="recurrent"/> the
    /// recurrent ones, both [unit][r, z, n][lane]; <paramref name="newBias"/> is b_hn [H]. r and z overwrite their
    /// input products (inference).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void GruResetAfter(VectorWidth width, int lanes, float* gates, float* recurrent, float* bias, float* newBias, int h, int u0, int units, float* hPrev, float* hOut)
    {
        Debug.Assert(width == VectorWidth.Scalar || lanes % (2 * (int)width) == 0, "The lanes fill pairs of vectors (a width's value is its float count).");
        nint stride = 3 * lanes;
        GateActivation.ApplyLanes<SigmoidOperator>(width, gates, recurrent, stride, units, lanes, bias + u0);
        GateActivation.ApplyLanes<SigmoidOperator>(width, gates + lanes, recurrent + lanes, stride, units, lanes, bias + h + u0);
        switch (width)
        {
            case VectorWidth.V512:
                GruNewV512(lanes, gates, recurrent, bias + (2 * h) + u0, newBias + u0, units, hPrev, hOut);
                break;
            case VectorWidth.V256:
                GruNewV256(lanes, gates, recurrent, bias + (2 * h) + u0, newBias + u0, units, hPrev, hOut);
                break;
            case VectorWidth.V128:
                GruNewV128(lanes, gates, recurrent, bias + (2 * h) + u0, newBias + u0, units, hPrev, hOut);
                break;
            default:
                GruNewScalar(lanes, gates, recurrent, bias + (2 * h) + u0, newBias + u0, units, hPrev, hOut);
                break;
        }
    }

    // n and h from the activated r and z, b_n and b_hn per unit; one method per width.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void GruNewV512(int lanes, float* gates, float* recurrent, float* bn, float* bhn, int units, float* hPrev, float* hOut)
    {
        for (int u = 0; u < units; u++, gates += 3 * lanes, recurrent += 3 * lanes, hPrev += lanes, hOut += lanes)
        {
            Vector512<float> bnu = Vector512.Create(bn[u]), bhnu = Vector512.Create(bhn[u]);
            for (int l = 0; l < lanes; l += Vector512<float>.Count)
            {
                float* g = gates + l;
                Vector512<float> hn = Vector512.Load(recurrent + l + (2 * lanes)) + bhnu;
                Vector512<float> ng = TanhOperator.Invoke((Vector512.Load(g + (2 * lanes)) + bnu) + (Vector512.Load(g) * hn));
                (ng + (Vector512.Load(g + lanes) * (Vector512.Load(hPrev + l) - ng))).Store(hOut + l);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void GruNewV256(int lanes, float* gates, float* recurrent, float* bn, float* bhn, int units, float* hPrev, float* hOut)
    {
        for (int u = 0; u < units; u++, gates += 3 * lanes, recurrent += 3 * lanes, hPrev += lanes, hOut += lanes)
        {
            Vector256<float> bnu = Vector256.Create(bn[u]), bhnu = Vector256.Create(bhn[u]);
            for (int l = 0; l < lanes; l += Vector256<float>.Count)
            {
                float* g = gates + l;
                Vector256<float> hn = Vector256.Load(recurrent + l + (2 * lanes)) + bhnu;
                Vector256<float> ng = TanhOperator.Invoke((Vector256.Load(g + (2 * lanes)) + bnu) + (Vector256.Load(g) * hn));
                (ng + (Vector256.Load(g + lanes) * (Vector256.Load(hPrev + l) - ng))).Store(hOut + l);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void GruNewV128(int lanes, float* gates, float* recurrent, float* bn, float* bhn, int units, float* hPrev, float* hOut)
    {
        for (int u = 0; u < units; u++, gates += 3 * lanes, recurrent += 3 * lanes, hPrev += lanes, hOut += lanes)
        {
            Vector128<float> bnu = Vector128.Create(bn[u]), bhnu = Vector128.Create(bhn[u]);
            for (int l = 0; l < lanes; l += Vector128<float>.Count)
            {
                float* g = gates + l;
                Vector128<float> hn = Vector128.Load(recurrent + l + (2 * lanes)) + bhnu;
                Vector128<float> ng = TanhOperator.Invoke((Vector128.Load(g + (2 * lanes)) + bnu) + (Vector128.Load(g) * hn));
                (ng + (Vector128.Load(g + lanes) * (Vector128.Load(hPrev + l) - ng))).Store(hOut + l);
            }
        }
    }

    private static void GruNewScalar(int lanes, float* gates, float* recurrent, float* bn, float* bhn, int units, float* hPrev, float* hOut)
    {
        for (int u = 0; u < units; u++, gates += 3 * lanes, recurrent += 3 * lanes, hPrev += lanes, hOut += lanes)
        {
            for (int l = 0; l < lanes; l++)
            {
                float* g = gates + l;
                float hn = recurrent[l + (2 * lanes)] + bhn[u];
                float ng = TanhOperator.Invoke((g[2 * lanes] + bn[u]) + (g[0] * hn));
                hOut[l] = ng + (g[lanes] * (hPrev[l] - ng));
            }
        }
    }

    /// <summary>Elman: h = f(a + b); <paramref name="gates"/> [unit][lane] is overwritten with a + b.</summary>
    public static void Elman(ActivationKind activation, int lanes, float* gates, float* bias, int u0, int units, float* hOut)
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
}
