using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Rnn.Simd.Kernels.Gemm;

/// <summary>SSE/NEON micro-kernel: a 6×8 tile in 12 vector accumulators (2 vectors of B per k, 6 broadcasts of A).</summary>
internal readonly unsafe struct MicroKernel128 : IGemmMicroKernel
{
    public static int MR => 6;

    public static int MRShort => 4;

    public static int NR => 8;

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void Tile(int kc, float* a, float* b, float* c, nint ldc, bool loadC)
    {
        Vector128<float> c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51;
        if (loadC)
        {
            c00 = Vector128.Load(c); c01 = Vector128.Load(c + 4);
            c10 = Vector128.Load(c + ldc); c11 = Vector128.Load(c + ldc + 4);
            c20 = Vector128.Load(c + (2 * ldc)); c21 = Vector128.Load(c + (2 * ldc) + 4);
            c30 = Vector128.Load(c + (3 * ldc)); c31 = Vector128.Load(c + (3 * ldc) + 4);
            c40 = Vector128.Load(c + (4 * ldc)); c41 = Vector128.Load(c + (4 * ldc) + 4);
            c50 = Vector128.Load(c + (5 * ldc)); c51 = Vector128.Load(c + (5 * ldc) + 4);
        }
        else
        {
            c00 = c01 = c10 = c11 = c20 = c21 = c30 = c31 = c40 = c41 = c50 = c51 = Vector128<float>.Zero;
        }

        // Two depths per iteration (half the loop overhead); b0/b1 are columns 0–3 and 4–7 of one row of the
        // B panel, and each a[r] is broadcast to all lanes. The chains still advance one k at a time, in order.
        Vector128<float> b0, b1, ar;
        int k = 0;
        for (; k + 2 <= kc; k += 2)
        {
            b0 = Vector128.Load(b);
            b1 = Vector128.Load(b + 4);
            ar = Vector128.Create(a[0]);
            c00 = Mad.Fma(ar, b0, c00); c01 = Mad.Fma(ar, b1, c01);
            ar = Vector128.Create(a[1]);
            c10 = Mad.Fma(ar, b0, c10); c11 = Mad.Fma(ar, b1, c11);
            ar = Vector128.Create(a[2]);
            c20 = Mad.Fma(ar, b0, c20); c21 = Mad.Fma(ar, b1, c21);
            ar = Vector128.Create(a[3]);
            c30 = Mad.Fma(ar, b0, c30); c31 = Mad.Fma(ar, b1, c31);
            ar = Vector128.Create(a[4]);
            c40 = Mad.Fma(ar, b0, c40); c41 = Mad.Fma(ar, b1, c41);
            ar = Vector128.Create(a[5]);
            c50 = Mad.Fma(ar, b0, c50); c51 = Mad.Fma(ar, b1, c51);
            b0 = Vector128.Load(b + 8);
            b1 = Vector128.Load(b + 12);
            ar = Vector128.Create(a[6]);
            c00 = Mad.Fma(ar, b0, c00); c01 = Mad.Fma(ar, b1, c01);
            ar = Vector128.Create(a[7]);
            c10 = Mad.Fma(ar, b0, c10); c11 = Mad.Fma(ar, b1, c11);
            ar = Vector128.Create(a[8]);
            c20 = Mad.Fma(ar, b0, c20); c21 = Mad.Fma(ar, b1, c21);
            ar = Vector128.Create(a[9]);
            c30 = Mad.Fma(ar, b0, c30); c31 = Mad.Fma(ar, b1, c31);
            ar = Vector128.Create(a[10]);
            c40 = Mad.Fma(ar, b0, c40); c41 = Mad.Fma(ar, b1, c41);
            ar = Vector128.Create(a[11]);
            c50 = Mad.Fma(ar, b0, c50); c51 = Mad.Fma(ar, b1, c51);
            a += 12;
            b += 16;
        }

        if (k < kc)
        {
            b0 = Vector128.Load(b);
            b1 = Vector128.Load(b + 4);
            ar = Vector128.Create(a[0]);
            c00 = Mad.Fma(ar, b0, c00); c01 = Mad.Fma(ar, b1, c01);
            ar = Vector128.Create(a[1]);
            c10 = Mad.Fma(ar, b0, c10); c11 = Mad.Fma(ar, b1, c11);
            ar = Vector128.Create(a[2]);
            c20 = Mad.Fma(ar, b0, c20); c21 = Mad.Fma(ar, b1, c21);
            ar = Vector128.Create(a[3]);
            c30 = Mad.Fma(ar, b0, c30); c31 = Mad.Fma(ar, b1, c31);
            ar = Vector128.Create(a[4]);
            c40 = Mad.Fma(ar, b0, c40); c41 = Mad.Fma(ar, b1, c41);
            ar = Vector128.Create(a[5]);
            c50 = Mad.Fma(ar, b0, c50); c51 = Mad.Fma(ar, b1, c51);
        }

        c00.Store(c); c01.Store(c + 4);
        c10.Store(c + ldc); c11.Store(c + ldc + 4);
        c20.Store(c + (2 * ldc)); c21.Store(c + (2 * ldc) + 4);
        c30.Store(c + (3 * ldc)); c31.Store(c + (3 * ldc) + 4);
        c40.Store(c + (4 * ldc)); c41.Store(c + (4 * ldc) + 4);
        c50.Store(c + (5 * ldc)); c51.Store(c + (5 * ldc) + 4);
    }

    /// <summary>The 4-row tile over 4-row A panels (a[k·4 + r]): M remainders of 4 (and 2 + 6 as 4 + 4) without a padded 6-row tile.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void TileShort(int kc, float* a, float* b, float* c, nint ldc, bool loadC)
    {
        Vector128<float> c00, c01, c10, c11, c20, c21, c30, c31;
        if (loadC)
        {
            c00 = Vector128.Load(c); c01 = Vector128.Load(c + 4);
            c10 = Vector128.Load(c + ldc); c11 = Vector128.Load(c + ldc + 4);
            c20 = Vector128.Load(c + (2 * ldc)); c21 = Vector128.Load(c + (2 * ldc) + 4);
            c30 = Vector128.Load(c + (3 * ldc)); c31 = Vector128.Load(c + (3 * ldc) + 4);
        }
        else
        {
            c00 = c01 = c10 = c11 = c20 = c21 = c30 = c31 = Vector128<float>.Zero;
        }

        // Eight chains (two vectors of B by four rows of A), one k at a time in order, as in Tile.
        for (int k = 0; k < kc; k++)
        {
            Vector128<float> b0 = Vector128.Load(b), b1 = Vector128.Load(b + 4);
            Vector128<float> a0 = Vector128.Create(a[0]);
            c00 = Mad.Fma(a0, b0, c00); c01 = Mad.Fma(a0, b1, c01);
            Vector128<float> a1 = Vector128.Create(a[1]);
            c10 = Mad.Fma(a1, b0, c10); c11 = Mad.Fma(a1, b1, c11);
            Vector128<float> a2 = Vector128.Create(a[2]);
            c20 = Mad.Fma(a2, b0, c20); c21 = Mad.Fma(a2, b1, c21);
            Vector128<float> a3 = Vector128.Create(a[3]);
            c30 = Mad.Fma(a3, b0, c30); c31 = Mad.Fma(a3, b1, c31);
            a += 4;
            b += 8;
        }

        c00.Store(c); c01.Store(c + 4);
        c10.Store(c + ldc); c11.Store(c + ldc + 4);
        c20.Store(c + (2 * ldc)); c21.Store(c + (2 * ldc) + 4);
        c30.Store(c + (3 * ldc)); c31.Store(c + (3 * ldc) + 4);
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void Gemv(int kc, float* x, float* b, nint panelStride, int panelCount, float* y, bool loadY)
    {
        int p = 0;

        // Four panels at once: eight independent FMA chains hide the FMA latency, and four streams keep
        // the hardware prefetchers busy. Each chain still runs over k in order.
        for (; p + 4 <= panelCount; p += 4)
        {
            float* b0 = b + (p * panelStride);
            float* b1 = b0 + panelStride;
            float* b2 = b1 + panelStride;
            float* b3 = b2 + panelStride;
            float* yp = y + (p * 8);
            Vector128<float> y00, y01, y10, y11, y20, y21, y30, y31;
            if (loadY)
            {
                y00 = Vector128.Load(yp); y01 = Vector128.Load(yp + 4);
                y10 = Vector128.Load(yp + 8); y11 = Vector128.Load(yp + 12);
                y20 = Vector128.Load(yp + 16); y21 = Vector128.Load(yp + 20);
                y30 = Vector128.Load(yp + 24); y31 = Vector128.Load(yp + 28);
            }
            else
            {
                y00 = y01 = y10 = y11 = y20 = y21 = y30 = y31 = Vector128<float>.Zero;
            }

            for (nint k = 0; k < kc; k++)
            {
                Vector128<float> xk = Vector128.Create(x[k]);
                nint o = k * 8;
                y00 = Mad.Fma(xk, Vector128.Load(b0 + o), y00);
                y01 = Mad.Fma(xk, Vector128.Load(b0 + o + 4), y01);
                y10 = Mad.Fma(xk, Vector128.Load(b1 + o), y10);
                y11 = Mad.Fma(xk, Vector128.Load(b1 + o + 4), y11);
                y20 = Mad.Fma(xk, Vector128.Load(b2 + o), y20);
                y21 = Mad.Fma(xk, Vector128.Load(b2 + o + 4), y21);
                y30 = Mad.Fma(xk, Vector128.Load(b3 + o), y30);
                y31 = Mad.Fma(xk, Vector128.Load(b3 + o + 4), y31);
            }

            y00.Store(yp); y01.Store(yp + 4);
            y10.Store(yp + 8); y11.Store(yp + 12);
            y20.Store(yp + 16); y21.Store(yp + 20);
            y30.Store(yp + 24); y31.Store(yp + 28);
        }

        for (; p < panelCount; p++)
        {
            float* b0 = b + (p * panelStride);
            float* yp = y + (p * 8);
            Vector128<float> y00 = loadY ? Vector128.Load(yp) : Vector128<float>.Zero;
            Vector128<float> y01 = loadY ? Vector128.Load(yp + 4) : Vector128<float>.Zero;
            for (nint k = 0; k < kc; k++)
            {
                Vector128<float> xk = Vector128.Create(x[k]);
                y00 = Mad.Fma(xk, Vector128.Load(b0 + (k * 8)), y00);
                y01 = Mad.Fma(xk, Vector128.Load(b0 + (k * 8) + 4), y01);
            }

            y00.Store(yp); y01.Store(yp + 4);
        }
    }
}
