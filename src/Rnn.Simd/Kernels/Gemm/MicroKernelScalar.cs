using System.Runtime.CompilerServices;

namespace Rnn.Simd.Kernels.Gemm;

/// <summary>
/// Scalar micro-kernel: a 4×4 tile of MathF.FusedMultiplyAdd chains. The reference the vector kernels must
/// match bit for bit, and the path taken with DOTNET_EnableHWIntrinsic=0 (FMA is then emulated, exactly).
/// </summary>
internal readonly unsafe struct MicroKernelScalar : IGemmMicroKernel
{
    public static int MR => 4;

    public static int MRShort => 4;

    public static int NR => 4;

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void Tile(int kc, float* a, float* b, float* c, nint ldc, bool loadC)
    {
        // Four rows of four accumulators; row r lives at c + r·ldc.
        for (int r = 0; r < 4; r += 2)
        {
            float* c0 = c + (r * ldc);
            float* c1 = c0 + ldc;
            float s00 = 0f, s01 = 0f, s02 = 0f, s03 = 0f, s10 = 0f, s11 = 0f, s12 = 0f, s13 = 0f;
            if (loadC)
            {
                s00 = c0[0]; s01 = c0[1]; s02 = c0[2]; s03 = c0[3];
                s10 = c1[0]; s11 = c1[1]; s12 = c1[2]; s13 = c1[3];
            }

            float* ap = a + r;
            float* bp = b;
            for (int k = 0; k < kc; k++)
            {
                float a0 = ap[0], a1 = ap[1];
                float b0 = bp[0], b1 = bp[1], b2 = bp[2], b3 = bp[3];
                s00 = Mad.Fma(a0, b0, s00); s01 = Mad.Fma(a0, b1, s01);
                s02 = Mad.Fma(a0, b2, s02); s03 = Mad.Fma(a0, b3, s03);
                s10 = Mad.Fma(a1, b0, s10); s11 = Mad.Fma(a1, b1, s11);
                s12 = Mad.Fma(a1, b2, s12); s13 = Mad.Fma(a1, b3, s13);
                ap += 4;
                bp += 4;
            }

            c0[0] = s00; c0[1] = s01; c0[2] = s02; c0[3] = s03;
            c1[0] = s10; c1[1] = s11; c1[2] = s12; c1[3] = s13;
        }
    }

    /// <summary>MR is already 4: the short tile is the tile.</summary>
    public static void TileShort(int kc, float* a, float* b, float* c, nint ldc, bool loadC) => Tile(kc, a, b, c, ldc, loadC);

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void Gemv(int kc, float* x, float* b, nint panelStride, int panelCount, float* y, bool loadY)
    {
        for (int p = 0; p < panelCount; p++)
        {
            float* bp = b + (p * panelStride);
            float* yp = y + (p * 4);
            float s0 = 0f, s1 = 0f, s2 = 0f, s3 = 0f;
            if (loadY)
            {
                s0 = yp[0]; s1 = yp[1]; s2 = yp[2]; s3 = yp[3];
            }

            for (int k = 0; k < kc; k++)
            {
                float xk = x[k];
                s0 = Mad.Fma(xk, bp[0], s0);
                s1 = Mad.Fma(xk, bp[1], s1);
                s2 = Mad.Fma(xk, bp[2], s2);
                s3 = Mad.Fma(xk, bp[3], s3);
                bp += 4;
            }

            yp[0] = s0; yp[1] = s1; yp[2] = s2; yp[3] = s3;
        }
    }
}
