using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Rnn.Simd.Kernels.Gemm;

/// <summary>AVX-512 micro-kernel: a 6×32 tile in 12 zmm accumulators (2 vectors of B per k, 6 broadcasts of A).</summary>
internal readonly unsafe struct MicroKernel512 : IGemmMicroKernel
{
    public static int MR => 6;

    public static int MRShort => 4;

    public static int NR => 32;

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void Tile(int kc, float* a, float* b, float* c, nint ldc, bool loadC)
    {
        Vector512<float> c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51;
        if (loadC)
        {
            c00 = Vector512.Load(c); c01 = Vector512.Load(c + 16);
            c10 = Vector512.Load(c + ldc); c11 = Vector512.Load(c + ldc + 16);
            c20 = Vector512.Load(c + (2 * ldc)); c21 = Vector512.Load(c + (2 * ldc) + 16);
            c30 = Vector512.Load(c + (3 * ldc)); c31 = Vector512.Load(c + (3 * ldc) + 16);
            c40 = Vector512.Load(c + (4 * ldc)); c41 = Vector512.Load(c + (4 * ldc) + 16);
            c50 = Vector512.Load(c + (5 * ldc)); c51 = Vector512.Load(c + (5 * ldc) + 16);
        }
        else
        {
            c00 = c01 = c10 = c11 = c20 = c21 = c30 = c31 = c40 = c41 = c50 = c51 = Vector512<float>.Zero;
        }

        // Two depths per iteration (half the loop overhead); b0/b1 are columns 0–15 and 16–31 of one row of the
        // B panel, and each a[r] is broadcast to all lanes. The chains still advance one k at a time, in order.
        Vector512<float> b0, b1, ar;
        int k = 0;
        for (; k + 2 <= kc; k += 2)
        {
            b0 = Vector512.Load(b);
            b1 = Vector512.Load(b + 16);
            ar = Vector512.Create(a[0]);
            c00 = Mad.Fma(ar, b0, c00); c01 = Mad.Fma(ar, b1, c01);
            ar = Vector512.Create(a[1]);
            c10 = Mad.Fma(ar, b0, c10); c11 = Mad.Fma(ar, b1, c11);
            ar = Vector512.Create(a[2]);
            c20 = Mad.Fma(ar, b0, c20); c21 = Mad.Fma(ar, b1, c21);
            ar = Vector512.Create(a[3]);
            c30 = Mad.Fma(ar, b0, c30); c31 = Mad.Fma(ar, b1, c31);
            ar = Vector512.Create(a[4]);
            c40 = Mad.Fma(ar, b0, c40); c41 = Mad.Fma(ar, b1, c41);
            ar = Vector512.Create(a[5]);
            c50 = Mad.Fma(ar, b0, c50); c51 = Mad.Fma(ar, b1, c51);
            b0 = Vector512.Load(b + 32);
            b1 = Vector512.Load(b + 48);
            ar = Vector512.Create(a[6]);
            c00 = Mad.Fma(ar, b0, c00); c01 = Mad.Fma(ar, b1, c01);
            ar = Vector512.Create(a[7]);
            c10 = Mad.Fma(ar, b0, c10); c11 = Mad.Fma(ar, b1, c11);
            ar = Vector512.Create(a[8]);
            c20 = Mad.Fma(ar, b0, c20); c21 = Mad.Fma(ar, b1, c21);
            ar = Vector512.Create(a[9]);
            c30 = Mad.Fma(ar, b0, c30); c31 = Mad.Fma(ar, b1, c31);
            ar = Vector512.Create(a[10]);
            c40 = Mad.Fma(ar, b0, c40); c41 = Mad.Fma(ar, b1, c41);
            ar = Vector512.Create(a[11]);
            c50 = Mad.Fma(ar, b0, c50); c51 = Mad.Fma(ar, b1, c51);
            a += 12;
            b += 64;
        }

        if (k < kc)
        {
            b0 = Vector512.Load(b);
            b1 = Vector512.Load(b + 16);
            ar = Vector512.Create(a[0]);
            c00 = Mad.Fma(ar, b0, c00); c01 = Mad.Fma(ar, b1, c01);
            ar = Vector512.Create(a[1]);
            c10 = Mad.Fma(ar, b0, c10); c11 = Mad.Fma(ar, b1, c11);
            ar = Vector512.Create(a[2]);
            c20 = Mad.Fma(ar, b0, c20); c21 = Mad.Fma(ar, b1, c21);
            ar = Vector512.Create(a[3]);
            c30 = Mad.Fma(ar, b0, c30); c31 = Mad.Fma(ar, b1, c31);
            ar = Vector512.Create(a[4]);
            c40 = Mad.Fma(ar, b0, c40); c41 = Mad.Fma(ar, b1, c41);
            ar = Vector512.Create(a[5]);
            c50 = Mad.Fma(ar, b0, c50); c51 = Mad.Fma(ar, b1, c51);
        }

        c00.Store(c); c01.Store(c + 16);
        c10.Store(c + ldc); c11.Store(c + ldc + 16);
        c20.Store(c + (2 * ldc)); c21.Store(c + (2 * ldc) + 16);
        c30.Store(c + (3 * ldc)); c31.Store(c + (3 * ldc) + 16);
        c40.Store(c + (4 * ldc)); c41.Store(c + (4 * ldc) + 16);
        c50.Store(c + (5 * ldc)); c51.Store(c + (5 * ldc) + 16);
    }

    /// <summary>The 4-row tile over 4-row A panels (a[k·4 + r]): M remainders of 4 (and 2 + 6 as 4 + 4) without a padded 6-row tile.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void TileShort(int kc, float* a, float* b, float* c, nint ldc, bool loadC)
    {
        Vector512<float> c00, c01, c10, c11, c20, c21, c30, c31;
        if (loadC)
        {
            c00 = Vector512.Load(c); c01 = Vector512.Load(c + 16);
            c10 = Vector512.Load(c + ldc); c11 = Vector512.Load(c + ldc + 16);
            c20 = Vector512.Load(c + (2 * ldc)); c21 = Vector512.Load(c + (2 * ldc) + 16);
            c30 = Vector512.Load(c + (3 * ldc)); c31 = Vector512.Load(c + (3 * ldc) + 16);
        }
        else
        {
            c00 = c01 = c10 = c11 = c20 = c21 = c30 = c31 = Vector512<float>.Zero;
        }

        // Eight chains (two vectors of B by four rows of A), one k at a time in order, as in Tile.
        for (int k = 0; k < kc; k++)
        {
            Vector512<float> b0 = Vector512.Load(b), b1 = Vector512.Load(b + 16);
            Vector512<float> a0 = Vector512.Create(a[0]);
            c00 = Mad.Fma(a0, b0, c00); c01 = Mad.Fma(a0, b1, c01);
            Vector512<float> a1 = Vector512.Create(a[1]);
            c10 = Mad.Fma(a1, b0, c10); c11 = Mad.Fma(a1, b1, c11);
            Vector512<float> a2 = Vector512.Create(a[2]);
            c20 = Mad.Fma(a2, b0, c20); c21 = Mad.Fma(a2, b1, c21);
            Vector512<float> a3 = Vector512.Create(a[3]);
            c30 = Mad.Fma(a3, b0, c30); c31 = Mad.Fma(a3, b1, c31);
            a += 4;
            b += 32;
        }

        c00.Store(c); c01.Store(c + 16);
        c10.Store(c + ldc); c11.Store(c + ldc + 16);
        c20.Store(c + (2 * ldc)); c21.Store(c + (2 * ldc) + 16);
        c30.Store(c + (3 * ldc)); c31.Store(c + (3 * ldc) + 16);
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
            float* yp = y + (p * 32);
            Vector512<float> y00, y01, y10, y11, y20, y21, y30, y31;
            if (loadY)
            {
                y00 = Vector512.Load(yp); y01 = Vector512.Load(yp + 16);
                y10 = Vector512.Load(yp + 32); y11 = Vector512.Load(yp + 48);
                y20 = Vector512.Load(yp + 64); y21 = Vector512.Load(yp + 80);
                y30 = Vector512.Load(yp + 96); y31 = Vector512.Load(yp + 112);
            }
            else
            {
                y00 = y01 = y10 = y11 = y20 = y21 = y30 = y31 = Vector512<float>.Zero;
            }

            for (nint k = 0; k < kc; k++)
            {
                Vector512<float> xk = Vector512.Create(x[k]);
                nint o = k * 32;
                y00 = Mad.Fma(xk, Vector512.Load(b0 + o), y00);
                y01 = Mad.Fma(xk, Vector512.Load(b0 + o + 16), y01);
                y10 = Mad.Fma(xk, Vector512.Load(b1 + o), y10);
                y11 = Mad.Fma(xk, Vector512.Load(b1 + o + 16), y11);
                y20 = Mad.Fma(xk, Vector512.Load(b2 + o), y20);
                y21 = Mad.Fma(xk, Vector512.Load(b2 + o + 16), y21);
                y30 = Mad.Fma(xk, Vector512.Load(b3 + o), y30);
                y31 = Mad.Fma(xk, Vector512.Load(b3 + o + 16), y31);
            }

            y00.Store(yp); y01.Store(yp + 16);
            y10.Store(yp + 32); y11.Store(yp + 48);
            y20.Store(yp + 64); y21.Store(yp + 80);
            y30.Store(yp + 96); y31.Store(yp + 112);
        }

        for (; p < panelCount; p++)
        {
            float* b0 = b + (p * panelStride);
            float* yp = y + (p * 32);
            Vector512<float> y00 = loadY ? Vector512.Load(yp) : Vector512<float>.Zero;
            Vector512<float> y01 = loadY ? Vector512.Load(yp + 16) : Vector512<float>.Zero;
            for (nint k = 0; k < kc; k++)
            {
                Vector512<float> xk = Vector512.Create(x[k]);
                y00 = Mad.Fma(xk, Vector512.Load(b0 + (k * 32)), y00);
                y01 = Mad.Fma(xk, Vector512.Load(b0 + (k * 32) + 16), y01);
            }

            y00.Store(yp); y01.Store(yp + 16);
        }
    }
}
