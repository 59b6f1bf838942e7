using System.Runtime.CompilerServices;

namespace Rnn.Simd.Kernels.Gemm;

/// <summary>
/// Scalar reduced kernel (L = 2, as NR = 4): the same decoding word by word and the same chains with
/// <see cref="MathF.FusedMultiplyAdd"/>, the reference the vector kernels match bit for bit.
/// </summary>
internal readonly unsafe struct ReducedKernelScalar : IReducedKernel
{
    private const int L = 2;

    public static int Lanes => L;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float High(uint w) => BitConverter.UInt32BitsToSingle(w & 0xFFFF0000u);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Low(uint w) => BitConverter.UInt32BitsToSingle(w << 16);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Byte(uint w, int j) => (sbyte)(w >> (8 * j)) * ReducedWeights.Int8Lift;

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void GemvBFloat16(int kc, float* x, uint* b, nint panelStride, int panelCount, float* y, bool loadY)
    {
        for (int p = 0; p < panelCount; p++)
        {
            uint* bp = b + (p * panelStride);
            float* yp = y + (p * 2 * L);
            float s0 = 0f, s1 = 0f, s2 = 0f, s3 = 0f;   // columns 0, 1 (high halves) and 2, 3 (low halves)
            if (loadY)
            {
                s0 = yp[0]; s1 = yp[1]; s2 = yp[2]; s3 = yp[3];
            }

            for (int k = 0; k < kc; k++)
            {
                float xk = x[k];
                uint w0 = bp[0], w1 = bp[1];
                s0 = Mad.Fma(xk, High(w0), s0);
                s1 = Mad.Fma(xk, High(w1), s1);
                s2 = Mad.Fma(xk, Low(w0), s2);
                s3 = Mad.Fma(xk, Low(w1), s3);
                bp += L;
            }

            yp[0] = s0; yp[1] = s1; yp[2] = s2; yp[3] = s3;
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void GemvInt8(int kc, float* x, uint* b, nint panelStride, int panelCount, float* scales, float* y, bool loadY)
    {
        // Column j·L + i of a panel is byte j of word i: eight sums of Σ x_k·q_k from +0.
        float* s = stackalloc float[4 * L];
        for (int p = 0; p < panelCount; p++)
        {
            uint* bp = b + (p * panelStride);
            new Span<float>(s, 4 * L).Clear();
            for (int k = 0; k < kc; k++)
            {
                float xk = x[k];
                for (int i = 0; i < L; i++)
                {
                    uint w = bp[i];
                    for (int j = 0; j < 4; j++)
                    {
                        s[(j * L) + i] = Mad.Fma(xk, Byte(w, j), s[(j * L) + i]);
                    }
                }

                bp += L;
            }

            float* yp = y + (p * 4 * L);
            float* sp = scales + (p * 4 * L);
            for (int c = 0; c < 4 * L; c++)
            {
                yp[c] = Mad.Fma(s[c], sp[c], loadY ? yp[c] : 0f);
            }
        }
    }

    public static void WidenBFloat16(int kc, uint* b, nint panelStride, int panelCount, float* dst, nint dstStride)
    {
        for (int p = 0; p < panelCount; p++)
        {
            uint* src = b + (p * panelStride);
            float* d = dst + (p * dstStride);
            for (int k = 0; k < kc; k++)
            {
                for (int i = 0; i < L; i++)
                {
                    d[(k * 2 * L) + i] = High(src[(k * L) + i]);
                    d[(k * 2 * L) + L + i] = Low(src[(k * L) + i]);
                }
            }
        }
    }

    public static void WidenInt8(int kc, uint* b, nint panelStride, int panelCount, float* dst, nint dstStride)
    {
        for (int p = 0; p < panelCount; p++)
        {
            uint* src = b + (p * panelStride);
            for (int k = 0; k < kc; k++)
            {
                for (int i = 0; i < L; i++)
                {
                    uint w = src[(k * L) + i];
                    for (int j = 0; j < 4; j++)
                    {
                        // Columns j·L + i: bytes 0 and 1 fill float panel 2p, bytes 2 and 3 panel 2p + 1.
                        float* d = dst + (((2 * p) + (j >> 1)) * dstStride);
                        d[(k * 2 * L) + ((j & 1) * L) + i] = Byte(w, j);
                    }
                }
            }
        }
    }
}
