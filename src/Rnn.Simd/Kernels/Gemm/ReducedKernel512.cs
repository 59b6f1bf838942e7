using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Rnn.Simd.Kernels.Gemm;

/// <summary>AVX-512 reduced kernel (L = 16): see <see cref="IReducedKernel"/> for the layouts.</summary>
internal readonly unsafe struct ReducedKernel512 : IReducedKernel
{
    private const int L = 16;

    public static int Lanes => L;

    /// <summary>The column of the high halves: the word with its low 16 bits cleared is that bf16 as a float.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> High(Vector512<uint> w) => (w & Vector512.Create(0xFFFF0000u)).AsSingle();

    /// <summary>The column of the low halves, shifted into the high half.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Low(Vector512<uint> w) => Vector512.ShiftLeft(w, 16).AsSingle();

    /// <summary>
    /// Byte j of each word moved to the word's top byte, the rest zero: the integer q·2²⁴, converted exactly to float
    /// (the int8 scale carries the 2⁻²⁴). Bytes 0 and 3 take a shift or a mask; bytes 1 and 2 one byte shuffle with
    /// constant indices (an index past the vector gives a zero byte).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Byte(Vector512<int> w, int j) => Vector512.ConvertToSingle(j switch
    {
        0 => Vector512.ShiftLeft(w, 24),
        1 => Vector512.Shuffle(w.AsByte(), Vector512.Create((byte)255, 255, 255, 1, 255, 255, 255, 5, 255, 255, 255, 9, 255, 255, 255, 13, 255, 255, 255, 17, 255, 255, 255, 21, 255, 255, 255, 25, 255, 255, 255, 29, 255, 255, 255, 33, 255, 255, 255, 37, 255, 255, 255, 41, 255, 255, 255, 45, 255, 255, 255, 49, 255, 255, 255, 53, 255, 255, 255, 57, 255, 255, 255, 61)).AsInt32(),
        2 => Vector512.Shuffle(w.AsByte(), Vector512.Create((byte)255, 255, 255, 2, 255, 255, 255, 6, 255, 255, 255, 10, 255, 255, 255, 14, 255, 255, 255, 18, 255, 255, 255, 22, 255, 255, 255, 26, 255, 255, 255, 30, 255, 255, 255, 34, 255, 255, 255, 38, 255, 255, 255, 42, 255, 255, 255, 46, 255, 255, 255, 50, 255, 255, 255, 54, 255, 255, 255, 58, 255, 255, 255, 62)).AsInt32(),
        _ => w & Vector512.Create(unchecked((int)0xFF000000)),
    });

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void GemvBFloat16(int kc, float* x, uint* b, nint panelStride, int panelCount, float* y, bool loadY)
    {
        int p = 0;

        // Four panels at once: eight chains, four streams, as the float kernel.
        for (; p + 4 <= panelCount; p += 4)
        {
            uint* b0 = b + (p * panelStride);
            uint* b1 = b0 + panelStride;
            uint* b2 = b1 + panelStride;
            uint* b3 = b2 + panelStride;
            float* yp = y + (p * 2 * L);
            Vector512<float> y00, y01, y10, y11, y20, y21, y30, y31;
            if (loadY)
            {
                y00 = Vector512.Load(yp); y01 = Vector512.Load(yp + L);
                y10 = Vector512.Load(yp + (2 * L)); y11 = Vector512.Load(yp + (3 * L));
                y20 = Vector512.Load(yp + (4 * L)); y21 = Vector512.Load(yp + (5 * L));
                y30 = Vector512.Load(yp + (6 * L)); y31 = Vector512.Load(yp + (7 * L));
            }
            else
            {
                y00 = y01 = y10 = y11 = y20 = y21 = y30 = y31 = Vector512<float>.Zero;
            }

            for (nint k = 0; k < kc; k++)
            {
                Vector512<float> xk = Vector512.Create(x[k]);
                nint o = k * L;
                Vector512<uint> w0 = Vector512.Load(b0 + o), w1 = Vector512.Load(b1 + o);
                Vector512<uint> w2 = Vector512.Load(b2 + o), w3 = Vector512.Load(b3 + o);
                y00 = Mad.Fma(xk, High(w0), y00); y01 = Mad.Fma(xk, Low(w0), y01);
                y10 = Mad.Fma(xk, High(w1), y10); y11 = Mad.Fma(xk, Low(w1), y11);
                y20 = Mad.Fma(xk, High(w2), y20); y21 = Mad.Fma(xk, Low(w2), y21);
                y30 = Mad.Fma(xk, High(w3), y30); y31 = Mad.Fma(xk, Low(w3), y31);
            }

            y00.Store(yp); y01.Store(yp + L);
            y10.Store(yp + (2 * L)); y11.Store(yp + (3 * L));
            y20.Store(yp + (4 * L)); y21.Store(yp + (5 * L));
            y30.Store(yp + (6 * L)); y31.Store(yp + (7 * L));
        }

        for (; p < panelCount; p++)
        {
            uint* b0 = b + (p * panelStride);
            float* yp = y + (p * 2 * L);
            Vector512<float> y00 = loadY ? Vector512.Load(yp) : Vector512<float>.Zero;
            Vector512<float> y01 = loadY ? Vector512.Load(yp + L) : Vector512<float>.Zero;
            for (nint k = 0; k < kc; k++)
            {
                Vector512<float> xk = Vector512.Create(x[k]);
                Vector512<uint> w0 = Vector512.Load(b0 + (k * L));
                y00 = Mad.Fma(xk, High(w0), y00); y01 = Mad.Fma(xk, Low(w0), y01);
            }

            y00.Store(yp); y01.Store(yp + L);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void GemvInt8(int kc, float* x, uint* b, nint panelStride, int panelCount, float* scales, float* y, bool loadY)
    {
        int p = 0;

        // Two panels at once: eight chains of Σ x_k·q_k from +0, then one fma with the scales per column.
        for (; p + 2 <= panelCount; p += 2)
        {
            int* b0 = (int*)b + (p * panelStride);
            int* b1 = b0 + panelStride;
            Vector512<float> s00, s01, s02, s03, s10, s11, s12, s13;
            s00 = s01 = s02 = s03 = s10 = s11 = s12 = s13 = Vector512<float>.Zero;
            for (nint k = 0; k < kc; k++)
            {
                Vector512<float> xk = Vector512.Create(x[k]);
                Vector512<int> w0 = Vector512.Load(b0 + (k * L)), w1 = Vector512.Load(b1 + (k * L));
                s00 = Mad.Fma(xk, Byte(w0, 0), s00); s01 = Mad.Fma(xk, Byte(w0, 1), s01);
                s02 = Mad.Fma(xk, Byte(w0, 2), s02); s03 = Mad.Fma(xk, Byte(w0, 3), s03);
                s10 = Mad.Fma(xk, Byte(w1, 0), s10); s11 = Mad.Fma(xk, Byte(w1, 1), s11);
                s12 = Mad.Fma(xk, Byte(w1, 2), s12); s13 = Mad.Fma(xk, Byte(w1, 3), s13);
            }

            nint c = p * 4 * L;
            Scale(s00, scales + c, y + c, loadY); Scale(s01, scales + c + L, y + c + L, loadY);
            Scale(s02, scales + c + (2 * L), y + c + (2 * L), loadY); Scale(s03, scales + c + (3 * L), y + c + (3 * L), loadY);
            c += 4 * L;
            Scale(s10, scales + c, y + c, loadY); Scale(s11, scales + c + L, y + c + L, loadY);
            Scale(s12, scales + c + (2 * L), y + c + (2 * L), loadY); Scale(s13, scales + c + (3 * L), y + c + (3 * L), loadY);
        }

        for (; p < panelCount; p++)
        {
            int* b0 = (int*)b + (p * panelStride);
            Vector512<float> s00, s01, s02, s03;
            s00 = s01 = s02 = s03 = Vector512<float>.Zero;
            for (nint k = 0; k < kc; k++)
            {
                Vector512<float> xk = Vector512.Create(x[k]);
                Vector512<int> w0 = Vector512.Load(b0 + (k * L));
                s00 = Mad.Fma(xk, Byte(w0, 0), s00); s01 = Mad.Fma(xk, Byte(w0, 1), s01);
                s02 = Mad.Fma(xk, Byte(w0, 2), s02); s03 = Mad.Fma(xk, Byte(w0, 3), s03);
            }

            nint c = p * 4 * L;
            Scale(s00, scales + c, y + c, loadY); Scale(s01, scales + c + L, y + c + L, loadY);
            Scale(s02, scales + c + (2 * L), y + c + (2 * L), loadY); Scale(s03, scales + c + (3 * L), y + c + (3 * L), loadY);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Scale(Vector512<float> sum, float* scale, float* y, bool loadY) =>
        Mad.Fma(sum, Vector512.Load(scale), loadY ? Vector512.Load(y) : Vector512<float>.Zero).Store(y);

    public static void WidenBFloat16(int kc, uint* b, nint panelStride, int panelCount, float* dst, nint dstStride)
    {
        for (int p = 0; p < panelCount; p++)
        {
            uint* src = b + (p * panelStride);
            float* d = dst + (p * dstStride);
            for (nint k = 0; k < kc; k++)
            {
                Vector512<uint> w = Vector512.Load(src + (k * L));
                High(w).Store(d + (k * 2 * L));
                Low(w).Store(d + (k * 2 * L) + L);
            }
        }
    }

    public static void WidenInt8(int kc, uint* b, nint panelStride, int panelCount, float* dst, nint dstStride)
    {
        for (int p = 0; p < panelCount; p++)
        {
            int* src = (int*)b + (p * panelStride);
            float* d0 = dst + (2 * p * dstStride);
            float* d1 = d0 + dstStride;
            for (nint k = 0; k < kc; k++)
            {
                Vector512<int> w = Vector512.Load(src + (k * L));
                Byte(w, 0).Store(d0 + (k * 2 * L)); Byte(w, 1).Store(d0 + (k * 2 * L) + L);
                Byte(w, 2).Store(d1 + (k * 2 * L)); Byte(w, 3).Store(d1 + (k * 2 * L) + L);
            }
        }
    }
}
