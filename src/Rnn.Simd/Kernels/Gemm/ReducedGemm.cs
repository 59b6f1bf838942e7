using System.Buffers;
using System.Diagnostics;
using System.Runtime.Intrinsics;
using CommunityToolkit.HighPerformance.Buffers;
using Rnn.Simd.Internal;
using Rnn.Simd.Kernels.Threading;

namespace Rnn.Simd.Kernels.Gemm;

/// <summary>
/// Products with a reduced-precision <see cref="PackedMatrix"/> (bf16 or int8 weights, float32 arithmetic), reached
/// from <see cref="Gemm.MultiplyPacked"/> and <see cref="Gemm.MultiplyPackedRange"/> after their validation.
/// </summary>
/// <remarks>
/// <para>Every output element is the chain of the float path over the rounded weights: bf16 is
/// acc = (accumulate ? C : +0), acc = fma(x_k, w_k, acc) for k in order; int8 is Σ = +0, Σ = fma(x_k, q_k·2²⁴, Σ) for k
/// in order, then C = fma(Σ, s·2⁻²⁴, accumulate ? C : +0) (<see cref="ReducedWeights.Int8Lift"/>). The routes below differ only in how the weights reach the
/// registers, so every route, width and thread count gives the same bits:</para>
/// <list type="bullet">
/// <item>compact panels, one or two rows: the reduced batch-1 kernels stream the panels once a row, widening in
/// registers (threads split the panels);</item>
/// <item>three rows or more, or a small matrix held as float panels: the float GEMM over float panels of the rounded
/// values (int8: unscaled sums, then scaled). A compact matrix widens its panels into such float panels once, on its
/// first product with three rows or more (<see cref="PackedMatrix.FloatPanels"/>): widening per call cost more than it
/// saved (LSTM H = 512, B = 16, T = 100 ran at 0.73–0.99× float32 that way), so batched rows run at float32 speed
/// and only a network that serves batches pays the float32 memory once more.</item>
/// </list>
/// </remarks>
internal static unsafe class ReducedGemm
{
    /// <summary>Rows up to which each row streams the compact panels rather than the widened tiles.</summary>
    public const int MaxGemvRows = 2;

    /// <summary>
    /// <paramref name="problem"/> (A, C, M, N = columns used, K = depth count, Accumulate) against
    /// <paramref name="b"/>'s depths from <paramref name="depthStart"/>.
    /// </summary>
    public static void Run(in GemmProblem problem, PackedMatrix b, int depthStart, ThreadTeam? team, ArrayPool<float> pool)
    {
        Debug.Assert(b.Precision != WeightPrecision.Float32 && !problem.TransA);
        if (problem.M == 0 || problem.N == 0 || problem.K == 0)
        {
            // Nothing to multiply: the float driver's empty sum (zeros, or C left as it is) at every precision.
            Gemm.Dispatch(problem, team, pool, b.Width);
            return;
        }

        if (b.Compact is not null && problem.M <= MaxGemvRows)
        {
            switch (b.Width)
            {
                case VectorWidth.V512:
                    Compact<ReducedKernel<ReducedWidth512, Vector512<float>>>.Run(problem, b, depthStart, team);
                    break;
                case VectorWidth.V256:
                    Compact<ReducedKernel<ReducedWidth256, Vector256<float>>>.Run(problem, b, depthStart, team);
                    break;
                case VectorWidth.V128:
                    Compact<ReducedKernel<ReducedWidth128, Vector128<float>>>.Run(problem, b, depthStart, team);
                    break;
                default:
                    Compact<ReducedKernelScalar>.Run(problem, b, depthStart, team);
                    break;
            }

            GC.KeepAlive(b);
            return;
        }

        // Float panels of the rounded values (held, or widened once from the compact ones on first use).
        GemmProblem tiles = problem;
        tiles.BPacked = b.FloatPanels + ((nint)depthStart * b.Nr);
        tiles.BPanelStride = b.PanelStride;
        if (b.Precision == WeightPrecision.BFloat16)
        {
            Gemm.Dispatch(tiles, team, pool, b.Width);
            GC.KeepAlive(b);
            return;
        }

        using SpanOwner<float> sums = SpanOwner<float>.Allocate(problem.M * problem.N, pool);
        fixed (float* s = sums.Span)
        {
            tiles.C = s;
            tiles.Ldc = problem.N;
            tiles.Accumulate = false;
            Gemm.Dispatch(tiles, team, pool, b.Width);
            ApplyScales(s, problem.N, problem.C, problem.Ldc, problem.M, problem.N, b.ScalesFor(depthStart, problem.K), problem.Accumulate);
        }

        GC.KeepAlive(b);
    }

    /// <summary>C[i, j] = fma(sums[i, j], scales[j], accumulate ? C[i, j] : +0): the int8 row scales, once, for the float routes (the kernels do the same fma).</summary>
    private static void ApplyScales(float* sums, nint lds, float* c, nint ldc, int m, int n, float* scales, bool accumulate)
    {
        for (int i = 0; i < m; i++)
        {
            float* s = sums + (i * lds), ci = c + (i * ldc);
            for (int j = 0; j < n; j++)
            {
                ci[j] = Mad.Fma(s[j], scales[j], accumulate ? ci[j] : 0f);
            }
        }
    }

    private static class Compact<TKernel>
        where TKernel : struct, IReducedKernel
    {
        public static void Run(in GemmProblem p, PackedMatrix b, int depthStart, ThreadTeam? team)
        {
            ReducedPanels r = b.Compact!;
            bool int8 = b.Precision == WeightPrecision.Int8;
            uint* panels = r.Words + ((nint)depthStart * r.Lanes);
            int parts = team is null || team.ThreadCount == 1 || (long)p.M * p.N * p.K < GemmBlocking.MinParallelMacs
                ? 1
                : Math.Min(team.ThreadCount, CeilDiv(p.N, r.Columns));
            for (int i = 0; i < p.M; i++)
            {
                var job = new RowJob
                {
                    K = p.K, N = p.N, X = p.A + (i * p.Lda), Y = p.C + (i * p.Ldc), Accumulate = p.Accumulate,
                    Panels = panels, PanelStride = r.PanelStride, Columns = r.Columns, Scales = int8 ? b.ScalesFor(depthStart, p.K) : null,
                    Int8 = int8, Parts = parts,
                };
                if (parts == 1)
                {
                    job.Execute(0);
                }
                else
                {
                    team!.Run(ref job, parts);
                }
            }
        }

        /// <summary>One row through the reduced batch-1 kernel; part q of Parts takes a contiguous share of the panels.</summary>
        private struct RowJob : IParallelJob
        {
            public int K, N, Columns, Parts;
            public float* X, Y, Scales;
            public uint* Panels;
            public nint PanelStride;
            public bool Accumulate, Int8;

            public readonly void Execute(int part)
            {
                int panelTotal = CeilDiv(N, Columns), full = N / Columns;
                int first = (int)((long)panelTotal * part / Parts), last = (int)((long)panelTotal * (part + 1) / Parts);
                int fullEnd = Math.Min(last, full);
                if (fullEnd > first)
                {
                    Gemv(first, fullEnd - first, Y + (first * Columns));
                }

                if (last > full)
                {
                    // The last, partial panel: computed whole in a temporary row, then only its valid columns copied.
                    int rest = N - (full * Columns);
                    float* tail = stackalloc float[4 * 16];
                    float* y = Y + (full * Columns);
                    if (Accumulate)
                    {
                        new ReadOnlySpan<float>(y, rest).CopyTo(new Span<float>(tail, rest));
                    }

                    Gemv(full, 1, tail);
                    new ReadOnlySpan<float>(tail, rest).CopyTo(new Span<float>(y, rest));
                }
            }

            private readonly void Gemv(int first, int count, float* y)
            {
                uint* b = Panels + (first * PanelStride);
                if (Int8)
                {
                    TKernel.GemvInt8(K, X, b, PanelStride, count, Scales + (first * Columns), y, Accumulate);
                }
                else
                {
                    TKernel.GemvBFloat16(K, X, b, PanelStride, count, y, Accumulate);
                }
            }
        }
    }

    private static int CeilDiv(int a, int b) => (a + b - 1) / b;

}
