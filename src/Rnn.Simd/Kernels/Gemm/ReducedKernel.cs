using System.Runtime.CompilerServices;

namespace Rnn.Simd.Kernels.Gemm;

/// <summary>
/// The reduced kernel of every vector width (<see cref="ReducedWidth512"/>, <see cref="ReducedWidth256"/>,
/// <see cref="ReducedWidth128"/>): see <see cref="IReducedKernel"/> for the layouts. The loops are written once;
/// the width supplies L, the vector operations and the widenings, all inlined.
/// </summary>
internal readonly unsafe struct ReducedKernel<TWidth, TVector> : IReducedKernel
    where TWidth : struct, IReducedWidth<TVector>
    where TVector : struct
{
    public static int Lanes => TWidth.Lanes;

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void GemvBFloat16(int kc, float* x, uint* b, nint panelStride, int panelCount, float* y, bool loadY)
    {
        int l = TWidth.Lanes, p = 0;
        nint depth = kc;

        // Four panels at once: eight chains, four streams, as the float kernel.
        for (; p + 4 <= panelCount; p += 4)
        {
            uint* b0 = b + (p * panelStride);
            uint* b1 = b0 + panelStride;
            uint* b2 = b1 + panelStride;
            uint* b3 = b2 + panelStride;
            float* yp = y + (p * 2 * l);
            TVector y00, y01, y10, y11, y20, y21, y30, y31;
            if (loadY)
            {
                y00 = TWidth.Load(yp); y01 = TWidth.Load(yp + l);
                y10 = TWidth.Load(yp + (2 * l)); y11 = TWidth.Load(yp + (3 * l));
                y20 = TWidth.Load(yp + (4 * l)); y21 = TWidth.Load(yp + (5 * l));
                y30 = TWidth.Load(yp + (6 * l)); y31 = TWidth.Load(yp + (7 * l));
            }
            else
            {
                y00 = y01 = y10 = y11 = y20 = y21 = y30 = y31 = TWidth.Zero;
            }

            for (nint k = 0; k < depth; k++)
            {
                TVector xk = TWidth.Broadcast(x + k);
                nint o = k * l;
                TVector w0 = TWidth.Load(b0 + o), w1 = TWidth.Load(b1 + o);
                TVector w2 = TWidth.Load(b2 + o), w3 = TWidth.Load(b3 + o);
                y00 = TWidth.Fma(xk, TWidth.High(w0), y00); y01 = TWidth.Fma(xk, TWidth.Low(w0), y01);
                y10 = TWidth.Fma(xk, TWidth.High(w1), y10); y11 = TWidth.Fma(xk, TWidth.Low(w1), y11);
                y20 = TWidth.Fma(xk, TWidth.High(w2), y20); y21 = TWidth.Fma(xk, TWidth.Low(w2), y21);
                y30 = TWidth.Fma(xk, TWidth.High(w3), y30); y31 = TWidth.Fma(xk, TWidth.Low(w3), y31);
            }

            TWidth.Store(y00, yp); TWidth.Store(y01, yp + l);
            TWidth.Store(y10, yp + (2 * l)); TWidth.Store(y11, yp + (3 * l));
            TWidth.Store(y20, yp + (4 * l)); TWidth.Store(y21, yp + (5 * l));
            TWidth.Store(y30, yp + (6 * l)); TWidth.Store(y31, yp + (7 * l));
        }

        for (; p < panelCount; p++)
        {
            uint* b0 = b + (p * panelStride);
            float* yp = y + (p * 2 * l);
            TVector y00 = loadY ? TWidth.Load(yp) : TWidth.Zero;
            TVector y01 = loadY ? TWidth.Load(yp + l) : TWidth.Zero;
            for (nint k = 0; k < depth; k++)
            {
                TVector xk = TWidth.Broadcast(x + k);
                TVector w0 = TWidth.Load(b0 + (k * l));
                y00 = TWidth.Fma(xk, TWidth.High(w0), y00); y01 = TWidth.Fma(xk, TWidth.Low(w0), y01);
            }

            TWidth.Store(y00, yp); TWidth.Store(y01, yp + l);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void GemvInt8(int kc, float* x, uint* b, nint panelStride, int panelCount, float* scales, float* y, bool loadY)
    {
        int l = TWidth.Lanes, p = 0;
        nint depth = kc;
        var bc = new ByteConstants<TVector>(TWidth.Byte1Indices, TWidth.Byte2Indices, TWidth.TopByteMask);

        // Two panels at once: eight chains of Σ x_k·q_k from +0, then one fma with the scales per column.
        for (; p + 2 <= panelCount; p += 2)
        {
            uint* b0 = b + (p * panelStride);
            uint* b1 = b0 + panelStride;
            TVector s00, s01, s02, s03, s10, s11, s12, s13;
            s00 = s01 = s02 = s03 = s10 = s11 = s12 = s13 = TWidth.Zero;
            for (nint k = 0; k < depth; k++)
            {
                TVector xk = TWidth.Broadcast(x + k);
                TVector w0 = TWidth.Load(b0 + (k * l)), w1 = TWidth.Load(b1 + (k * l));
                s00 = TWidth.Fma(xk, TWidth.Byte(w0, 0, bc), s00); s01 = TWidth.Fma(xk, TWidth.Byte(w0, 1, bc), s01);
                s02 = TWidth.Fma(xk, TWidth.Byte(w0, 2, bc), s02); s03 = TWidth.Fma(xk, TWidth.Byte(w0, 3, bc), s03);
                s10 = TWidth.Fma(xk, TWidth.Byte(w1, 0, bc), s10); s11 = TWidth.Fma(xk, TWidth.Byte(w1, 1, bc), s11);
                s12 = TWidth.Fma(xk, TWidth.Byte(w1, 2, bc), s12); s13 = TWidth.Fma(xk, TWidth.Byte(w1, 3, bc), s13);
            }

            nint c = p * 4 * l;
            Scale(s00, scales + c, y + c, loadY); Scale(s01, scales + c + l, y + c + l, loadY);
            Scale(s02, scales + c + (2 * l), y + c + (2 * l), loadY); Scale(s03, scales + c + (3 * l), y + c + (3 * l), loadY);
            c += 4 * l;
            Scale(s10, scales + c, y + c, loadY); Scale(s11, scales + c + l, y + c + l, loadY);
            Scale(s12, scales + c + (2 * l), y + c + (2 * l), loadY); Scale(s13, scales + c + (3 * l), y + c + (3 * l), loadY);
        }

        for (; p < panelCount; p++)
        {
            uint* b0 = b + (p * panelStride);
            TVector s00, s01, s02, s03;
            s00 = s01 = s02 = s03 = TWidth.Zero;
            for (nint k = 0; k < depth; k++)
            {
                TVector xk = TWidth.Broadcast(x + k);
                TVector w0 = TWidth.Load(b0 + (k * l));
                s00 = TWidth.Fma(xk, TWidth.Byte(w0, 0, bc), s00); s01 = TWidth.Fma(xk, TWidth.Byte(w0, 1, bc), s01);
                s02 = TWidth.Fma(xk, TWidth.Byte(w0, 2, bc), s02); s03 = TWidth.Fma(xk, TWidth.Byte(w0, 3, bc), s03);
            }

            nint c = p * 4 * l;
            Scale(s00, scales + c, y + c, loadY); Scale(s01, scales + c + l, y + c + l, loadY);
            Scale(s02, scales + c + (2 * l), y + c + (2 * l), loadY); Scale(s03, scales + c + (3 * l), y + c + (3 * l), loadY);
        }
    }

    public static void WidenBFloat16(int kc, uint* b, nint panelStride, int panelCount, float* dst, nint dstStride)
    {
        int l = TWidth.Lanes;
        nint depth = kc;
        for (int p = 0; p < panelCount; p++)
        {
            uint* src = b + (p * panelStride);
            float* d = dst + (p * dstStride);
            for (nint k = 0; k < depth; k++)
            {
                TVector w = TWidth.Load(src + (k * l));
                TWidth.Store(TWidth.High(w), d + (k * 2 * l));
                TWidth.Store(TWidth.Low(w), d + (k * 2 * l) + l);
            }
        }
    }

    public static void WidenInt8(int kc, uint* b, nint panelStride, int panelCount, float* dst, nint dstStride)
    {
        int l = TWidth.Lanes;
        nint depth = kc;
        var bc = new ByteConstants<TVector>(TWidth.Byte1Indices, TWidth.Byte2Indices, TWidth.TopByteMask);
        for (int p = 0; p < panelCount; p++)
        {
            uint* src = b + (p * panelStride);
            float* d0 = dst + (2 * p * dstStride);
            float* d1 = d0 + dstStride;
            for (nint k = 0; k < depth; k++)
            {
                TVector w = TWidth.Load(src + (k * l));
                TWidth.Store(TWidth.Byte(w, 0, bc), d0 + (k * 2 * l)); TWidth.Store(TWidth.Byte(w, 1, bc), d0 + (k * 2 * l) + l);
                TWidth.Store(TWidth.Byte(w, 2, bc), d1 + (k * 2 * l)); TWidth.Store(TWidth.Byte(w, 3, bc), d1 + (k * 2 * l) + l);
            }
        }
    }

    /// <summary>y = fma(Σ, s·2⁻²⁴, loadY ? y : +0) for one vector of columns.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Scale(TVector sum, float* scale, float* y, bool loadY) =>
        TWidth.Store(TWidth.Fma(sum, TWidth.Load(scale), loadY ? TWidth.Load(y) : TWidth.Zero), y);
}
