using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Rnn.Simd.Internal;
using Rnn.Simd.Kernels;

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
    /// <summary>LSTM: c = σ(f)·c + σ(i)·tanh(g) in place; h = σ(o)·tanh(c). The gates are not kept (inference).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Lstm(VectorWidth width, int lanes, float* gates, float* bias, int h, int u0, int units, float* c, float* hOut)
    {
        Debug.Assert(width == VectorWidth.Scalar || lanes % (2 * VectorLength(width)) == 0);
        switch (width)
        {
            case VectorWidth.V512:
                LstmV512(lanes, gates, bias, h, u0, units, c, hOut);
                break;
            case VectorWidth.V256:
                LstmV256(lanes, gates, bias, h, u0, units, c, hOut);
                break;
            case VectorWidth.V128:
                LstmV128(lanes, gates, bias, h, u0, units, c, hOut);
                break;
            default:
                LstmScalar(lanes, gates, bias, h, u0, units, c, hOut);
                break;
        }
    }

    // One method per width, as in CellUpdates (one method for all widths ran out of the JIT's inlining budget).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void LstmV512(int lanes, float* gates, float* bias, int h, int u0, int units, float* c, float* hOut)
    {
        for (int u = 0; u < units; u++, gates += 4 * lanes, c += lanes, hOut += lanes)
        {
            float* b = bias + u0 + u;
            Vector512<float> bi = Vector512.Create(b[0]), bf = Vector512.Create(b[h]), bo = Vector512.Create(b[2 * h]), bg = Vector512.Create(b[3 * h]);
            for (int l = 0; l < lanes; l += Vector512<float>.Count)
            {
                float* g = gates + l;
                Vector512<float> ig = SigmoidOperator.Invoke(Vector512.Load(g) + bi);
                Vector512<float> fg = SigmoidOperator.Invoke(Vector512.Load(g + lanes) + bf);
                Vector512<float> og = SigmoidOperator.Invoke(Vector512.Load(g + (2 * lanes)) + bo);
                Vector512<float> gg = TanhOperator.Invoke(Vector512.Load(g + (3 * lanes)) + bg);
                Vector512<float> cv = (fg * Vector512.Load(c + l)) + (ig * gg);
                cv.Store(c + l);
                (og * TanhOperator.Invoke(cv)).Store(hOut + l);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void LstmV256(int lanes, float* gates, float* bias, int h, int u0, int units, float* c, float* hOut)
    {
        for (int u = 0; u < units; u++, gates += 4 * lanes, c += lanes, hOut += lanes)
        {
            float* b = bias + u0 + u;
            Vector256<float> bi = Vector256.Create(b[0]), bf = Vector256.Create(b[h]), bo = Vector256.Create(b[2 * h]), bg = Vector256.Create(b[3 * h]);
            for (int l = 0; l < lanes; l += Vector256<float>.Count)
            {
                float* g = gates + l;
                Vector256<float> ig = SigmoidOperator.Invoke(Vector256.Load(g) + bi);
                Vector256<float> fg = SigmoidOperator.Invoke(Vector256.Load(g + lanes) + bf);
                Vector256<float> og = SigmoidOperator.Invoke(Vector256.Load(g + (2 * lanes)) + bo);
                Vector256<float> gg = TanhOperator.Invoke(Vector256.Load(g + (3 * lanes)) + bg);
                Vector256<float> cv = (fg * Vector256.Load(c + l)) + (ig * gg);
                cv.Store(c + l);
                (og * TanhOperator.Invoke(cv)).Store(hOut + l);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void LstmV128(int lanes, float* gates, float* bias, int h, int u0, int units, float* c, float* hOut)
    {
        for (int u = 0; u < units; u++, gates += 4 * lanes, c += lanes, hOut += lanes)
        {
            float* b = bias + u0 + u;
            Vector128<float> bi = Vector128.Create(b[0]), bf = Vector128.Create(b[h]), bo = Vector128.Create(b[2 * h]), bg = Vector128.Create(b[3 * h]);
            for (int l = 0; l < lanes; l += Vector128<float>.Count)
            {
                float* g = gates + l;
                Vector128<float> ig = SigmoidOperator.Invoke(Vector128.Load(g) + bi);
                Vector128<float> fg = SigmoidOperator.Invoke(Vector128.Load(g + lanes) + bf);
                Vector128<float> og = SigmoidOperator.Invoke(Vector128.Load(g + (2 * lanes)) + bo);
                Vector128<float> gg = TanhOperator.Invoke(Vector128.Load(g + (3 * lanes)) + bg);
                Vector128<float> cv = (fg * Vector128.Load(c + l)) + (ig * gg);
                cv.Store(c + l);
                (og * TanhOperator.Invoke(cv)).Store(hOut + l);
            }
        }
    }

    private static void LstmScalar(int lanes, float* gates, float* bias, int h, int u0, int units, float* c, float* hOut)
    {
        for (int u = 0; u < units; u++, gates += 4 * lanes, c += lanes, hOut += lanes)
        {
            float* b = bias + u0 + u;
            for (int l = 0; l < lanes; l++)
            {
                float* g = gates + l;
                float ig = SigmoidOperator.Invoke(g[0] + b[0]);
                float fg = SigmoidOperator.Invoke(g[lanes] + b[h]);
                float og = SigmoidOperator.Invoke(g[2 * lanes] + b[2 * h]);
                float gg = TanhOperator.Invoke(g[3 * lanes] + b[3 * h]);
                float cv = (fg * c[l]) + (ig * gg);
                c[l] = cv;
                hOut[l] = og * TanhOperator.Invoke(cv);
            }
        }
    }

    /// <summary>
    /// GRU reset-after: r, z = σ((input + recurrent) + b); hn = recurrent_n + b_hn; n = tanh((input_n + b_n) + r·hn);
    /// h = n + z·(h_{t−1} − n). <paramref name="gates"/> holds the input products, <paramref name="recurrent"/> the
    /// recurrent ones, both [unit][r, z, n][lane]; <paramref name="newBias"/> is b_hn [H].
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void GruResetAfter(VectorWidth width, int lanes, float* gates, float* recurrent, float* bias, float* newBias, int h, int u0, int units, float* hPrev, float* hOut)
    {
        Debug.Assert(width == VectorWidth.Scalar || lanes % (2 * VectorLength(width)) == 0);
        switch (width)
        {
            case VectorWidth.V512:
                GruV512(lanes, gates, recurrent, bias, newBias, h, u0, units, hPrev, hOut);
                break;
            case VectorWidth.V256:
                GruV256(lanes, gates, recurrent, bias, newBias, h, u0, units, hPrev, hOut);
                break;
            case VectorWidth.V128:
                GruV128(lanes, gates, recurrent, bias, newBias, h, u0, units, hPrev, hOut);
                break;
            default:
                GruScalar(lanes, gates, recurrent, bias, newBias, h, u0, units, hPrev, hOut);
                break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void GruV512(int lanes, float* gates, float* recurrent, float* bias, float* newBias, int h, int u0, int units, float* hPrev, float* hOut)
    {
        for (int u = 0; u < units; u++, gates += 3 * lanes, recurrent += 3 * lanes, hPrev += lanes, hOut += lanes)
        {
            float* b = bias + u0 + u;
            Vector512<float> br = Vector512.Create(b[0]), bz = Vector512.Create(b[h]), bn = Vector512.Create(b[2 * h]), bhn = Vector512.Create(newBias[u0 + u]);
            for (int l = 0; l < lanes; l += Vector512<float>.Count)
            {
                float* g = gates + l, rec = recurrent + l;
                Vector512<float> rg = SigmoidOperator.Invoke((Vector512.Load(g) + Vector512.Load(rec)) + br);
                Vector512<float> zg = SigmoidOperator.Invoke((Vector512.Load(g + lanes) + Vector512.Load(rec + lanes)) + bz);
                Vector512<float> hn = Vector512.Load(rec + (2 * lanes)) + bhn;
                Vector512<float> ng = TanhOperator.Invoke((Vector512.Load(g + (2 * lanes)) + bn) + (rg * hn));
                (ng + (zg * (Vector512.Load(hPrev + l) - ng))).Store(hOut + l);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void GruV256(int lanes, float* gates, float* recurrent, float* bias, float* newBias, int h, int u0, int units, float* hPrev, float* hOut)
    {
        for (int u = 0; u < units; u++, gates += 3 * lanes, recurrent += 3 * lanes, hPrev += lanes, hOut += lanes)
        {
            float* b = bias + u0 + u;
            Vector256<float> br = Vector256.Create(b[0]), bz = Vector256.Create(b[h]), bn = Vector256.Create(b[2 * h]), bhn = Vector256.Create(newBias[u0 + u]);
            for (int l = 0; l < lanes; l += Vector256<float>.Count)
            {
                float* g = gates + l, rec = recurrent + l;
                Vector256<float> rg = SigmoidOperator.Invoke((Vector256.Load(g) + Vector256.Load(rec)) + br);
                Vector256<float> zg = SigmoidOperator.Invoke((Vector256.Load(g + lanes) + Vector256.Load(rec + lanes)) + bz);
                Vector256<float> hn = Vector256.Load(rec + (2 * lanes)) + bhn;
                Vector256<float> ng = TanhOperator.Invoke((Vector256.Load(g + (2 * lanes)) + bn) + (rg * hn));
                (ng + (zg * (Vector256.Load(hPrev + l) - ng))).Store(hOut + l);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void GruV128(int lanes, float* gates, float* recurrent, float* bias, float* newBias, int h, int u0, int units, float* hPrev, float* hOut)
    {
        for (int u = 0; u < units; u++, gates += 3 * lanes, recurrent += 3 * lanes, hPrev += lanes, hOut += lanes)
        {
            float* b = bias + u0 + u;
            Vector128<float> br = Vector128.Create(b[0]), bz = Vector128.Create(b[h]), bn = Vector128.Create(b[2 * h]), bhn = Vector128.Create(newBias[u0 + u]);
            for (int l = 0; l < lanes; l += Vector128<float>.Count)
            {
                float* g = gates + l, rec = recurrent + l;
                Vector128<float> rg = SigmoidOperator.Invoke((Vector128.Load(g) + Vector128.Load(rec)) + br);
                Vector128<float> zg = SigmoidOperator.Invoke((Vector128.Load(g + lanes) + Vector128.Load(rec + lanes)) + bz);
                Vector128<float> hn = Vector128.Load(rec + (2 * lanes)) + bhn;
                Vector128<float> ng = TanhOperator.Invoke((Vector128.Load(g + (2 * lanes)) + bn) + (rg * hn));
                (ng + (zg * (Vector128.Load(hPrev + l) - ng))).Store(hOut + l);
            }
        }
    }

    private static void GruScalar(int lanes, float* gates, float* recurrent, float* bias, float* newBias, int h, int u0, int units, float* hPrev, float* hOut)
    {
        for (int u = 0; u < units; u++, gates += 3 * lanes, recurrent += 3 * lanes, hPrev += lanes, hOut += lanes)
        {
            float* b = bias + u0 + u;
            float bhn = newBias[u0 + u];
            for (int l = 0; l < lanes; l++)
            {
                float* g = gates + l, rec = recurrent + l;
                float rg = SigmoidOperator.Invoke((g[0] + rec[0]) + b[0]);
                float zg = SigmoidOperator.Invoke((g[lanes] + rec[lanes]) + b[h]);
                float hn = rec[2 * lanes] + bhn;
                float ng = TanhOperator.Invoke((g[2 * lanes] + b[2 * h]) + (rg * hn));
                hOut[l] = ng + (zg * (hPrev[l] - ng));
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

    private static int VectorLength(VectorWidth width) => width switch
    {
        VectorWidth.V512 => Vector512<float>.Count,
        VectorWidth.V256 => Vector256<float>.Count,
        _ => Vector128<float>.Count,
    };
}
