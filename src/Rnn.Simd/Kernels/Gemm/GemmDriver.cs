using System.Buffers;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using CommunityToolkit.HighPerformance.Buffers;
using Rnn.Simd.Kernels.Threading;

namespace Rnn.Simd.Kernels.Gemm;

/// <summary>
/// The GEMM loop nest, packing and threading, written once and specialised per micro-kernel by the JIT
/// (<typeparamref name="TKernel"/> is a struct, so MR, NR and the tile calls become constants and direct calls).
/// </summary>
internal static unsafe class GemmDriver<TKernel>
    where TKernel : struct, IGemmMicroKernel
{
    /// <summary>Runs <paramref name="problem"/> on up to <paramref name="team"/>'s threads with scratch from <paramref name="pool"/>.</summary>
    public static void Run(in GemmProblem problem, ThreadTeam? team, ArrayPool<float> pool)
    {
        if (problem.M == 0 || problem.N == 0)
        {
            return;
        }

        if (problem.K == 0)
        {
            // An empty sum: overwrite with zeros, or leave C as it is when accumulating.
            if (!problem.Accumulate)
            {
                for (int i = 0; i < problem.M; i++)
                {
                    new Span<float>(problem.C + (i * problem.Ldc), problem.N).Clear();
                }
            }

            return;
        }

        int parts = Parallelism(problem, team);
        bool splitColumns = SplitColumns(problem, parts);
        int scratchPerPart = UsesGemv(problem) ? TKernel.NR + GemmBlocking.AlignFloats : ScratchFloats(problem);
        using SpanOwner<float> scratch = SpanOwner<float>.Allocate(scratchPerPart * parts, pool);
        fixed (float* scratchBase = scratch.Span)
        {
            var job = new Job
            {
                Problem = problem,
                Parts = parts,
                SplitColumns = splitColumns,
                Scratch = scratchBase,
                ScratchPerPart = scratchPerPart,
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

    private static int Parallelism(in GemmProblem p, ThreadTeam? team)
    {
        if (team is null || team.ThreadCount == 1 || (long)p.M * p.N * p.K < GemmBlocking.MinParallelMacs)
        {
            return 1;
        }

        // Never more parts than there are column panels or row panels to hand out.
        int units = Math.Max(CeilDiv(p.N, TKernel.NR), p.M == 1 ? 0 : CeilDiv(p.M, TKernel.MR));
        return Math.Min(team.ThreadCount, units);
    }

    private static bool SplitColumns(in GemmProblem p, int parts)
    {
        // Splitting columns makes every part pack all of A; splitting rows, all of B (unless B is pre-packed). So
        // rows when A is the larger side and there are rows enough for balanced parts (the weight gradients' dGᵀ·x
        // and backward's dG·W over all T·B rows), columns otherwise, and rows when there are too few column panels.
        int columnPanels = CeilDiv(p.N, TKernel.NR), rowPanels = CeilDiv(p.M, TKernel.MR);
        if (p.M == 1)
        {
            return true;
        }

        if (p.M > p.N && rowPanels >= 4 * parts)
        {
            return false;
        }

        return columnPanels >= 2 * parts || columnPanels >= rowPanels;
    }

    private static int ScratchFloats(in GemmProblem p)
    {
        int kc = Math.Min(GemmBlocking.KC, p.K);
        int mc = RoundUp(Math.Min(GemmBlocking.MC, p.M), TKernel.MR);
        int nc = p.BPacked != null ? 0 : RoundUp(Math.Min(GemmBlocking.NC, p.N), TKernel.NR);
        return (mc * kc) + (kc * nc) + (TKernel.MR * TKernel.NR) + (3 * GemmBlocking.AlignFloats);
    }

    private struct Job : IParallelJob
    {
        public GemmProblem Problem;
        public int Parts;
        public bool SplitColumns;
        public float* Scratch;
        public int ScratchPerPart;

        public readonly void Execute(int part)
        {
            float* scratch = Scratch + ((nint)part * ScratchPerPart);
            GemmProblem p = Problem;
            if (Parts > 1)
            {
                (int start, int end) = SplitColumns ? Share(p.N, TKernel.NR, part, Parts) : Share(p.M, TKernel.MR, part, Parts);
                if (end <= start)
                {
                    return;
                }

                p = SplitColumns ? p.Columns(start, end - start, TKernel.NR) : p.Rows(start, end - start);
            }

            if (UsesGemv(p))
            {
                Gemv(p, Align(scratch));
            }
            else
            {
                Blocked(p, scratch);
            }
        }
    }

    /// <summary>The blocked loop nest of <see cref="GemmBlocking"/> over one (sub-)problem.</summary>
    private static void Blocked(in GemmProblem p, float* scratch)
    {
        int mr = TKernel.MR, nr = TKernel.NR;
        int kcMax = Math.Min(GemmBlocking.KC, p.K);
        int mcMax = RoundUp(Math.Min(GemmBlocking.MC, p.M), mr);
        float* aPack = Align(scratch);                                 // [mcMax / MR][kc][MR]
        float* tile = Align(aPack + ((nint)mcMax * kcMax));             // [MR][NR] edge tiles
        float* bPack = Align(tile + (mr * nr));                         // [NC / NR][kc][NR] unless B is pre-packed

        for (int jc = 0; jc < p.N; jc += GemmBlocking.NC)
        {
            int nc = Math.Min(GemmBlocking.NC, p.N - jc);
            for (int pc = 0; pc < p.K; pc += GemmBlocking.KC)
            {
                int kc = Math.Min(GemmBlocking.KC, p.K - pc);
                bool loadC = p.Accumulate || pc > 0;

                float* bBlock;
                nint bPanelStride;
                if (p.BPacked != null)
                {
                    // Pre-packed panels hold the whole depth: depth block pc starts pc·NR into each panel.
                    bBlock = p.BPacked + ((jc / nr) * p.BPanelStride) + ((nint)pc * nr);
                    bPanelStride = p.BPanelStride;
                }
                else
                {
                    float* bSrc = p.TransB ? p.B + (jc * p.Ldb) + pc : p.B + (pc * p.Ldb) + jc;
                    bPanelStride = (nint)kc * nr;
                    GemmPacking<TKernel>.PackB(bSrc, p.Ldb, p.TransB, kc, nc, bPack, bPanelStride);
                    bBlock = bPack;
                }

                for (int ic = 0; ic < p.M; ic += GemmBlocking.MC)
                {
                    int mc = Math.Min(GemmBlocking.MC, p.M - ic);
                    float* aSrc = p.TransA ? p.A + (pc * p.Lda) + ic : p.A + (ic * p.Lda) + pc;
                    GemmPacking<TKernel>.PackA(aSrc, p.Lda, p.TransA, mc, kc, aPack);
                    Macro(p, ic, jc, mc, nc, kc, aPack, bBlock, bPanelStride, tile, loadC);
                }
            }
        }
    }

    /// <summary>All tiles of one packed [mc, kc] × [kc, nc] block pair (row panels as <see cref="GemmPacking{TKernel}.RowSplit"/> cuts them).</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Macro(in GemmProblem p, int ic, int jc, int mc, int nc, int kc, float* aPack, float* bBlock, nint bPanelStride, float* tile, bool loadC)
    {
        int mr = TKernel.MR, ms = TKernel.MRShort, nr = TKernel.NR;
        (int full, int shortRows) = GemmPacking<TKernel>.RowSplit(mc);

        // BLIS order: one B micro-panel [kc, NR] stays in L1 while the A micro-panels of the block stream
        // past it from L2.
        for (int jr = 0; jr < nc; jr += nr)
        {
            float* bPanel = bBlock + ((jr / nr) * bPanelStride);
            int cols = Math.Min(nr, nc - jr);
            float* cColumn = p.C + (ic * p.Ldc) + jc + jr;

            for (int ir = 0; ir < mc;)
            {
                bool isShort = ir >= full && ir < full + shortRows;
                int height = isShort ? ms : mr;
                float* aPanel = aPack + ((nint)ir * kc);
                int rows = Math.Min(height, mc - ir);
                float* c = cColumn + (ir * p.Ldc);
                if (rows == height && cols == nr)
                {
                    if (isShort)
                    {
                        TKernel.TileShort(kc, aPanel, bPanel, c, p.Ldc, loadC);
                    }
                    else
                    {
                        TKernel.Tile(kc, aPanel, bPanel, c, p.Ldc, loadC);
                    }
                }
                else
                {
                    EdgeTile(kc, aPanel, bPanel, c, p.Ldc, rows, cols, height, tile, loadC);
                }

                ir += height;
            }
        }
    }

    /// <summary>A partial tile: computed full size (<paramref name="height"/> rows) in a temporary tile, then only its valid part is copied to C.</summary>
    private static void EdgeTile(int kc, float* aPanel, float* bPanel, float* c, nint ldc, int rows, int cols, int height, float* tile, bool loadC)
    {
        int nr = TKernel.NR;
        if (loadC)
        {
            new Span<float>(tile, TKernel.MR * nr).Clear();
            for (int r = 0; r < rows; r++)
            {
                new ReadOnlySpan<float>(c + (r * ldc), cols).CopyTo(new Span<float>(tile + (r * nr), cols));
            }
        }

        if (height == TKernel.MR)
        {
            TKernel.Tile(kc, aPanel, bPanel, tile, nr, loadC);
        }
        else
        {
            TKernel.TileShort(kc, aPanel, bPanel, tile, nr, loadC);
        }

        for (int r = 0; r < rows; r++)
        {
            new ReadOnlySpan<float>(tile + (r * nr), cols).CopyTo(new Span<float>(c + (r * ldc), cols));
        }
    }

    /// <summary>The batch-1 path: one row of A against pre-packed B, streaming every panel once over the full depth.</summary>
    private static void Gemv(in GemmProblem p, float* tail)
    {
        Debug.Assert(p.M == 1 && p.BPacked != null);
        int nr = TKernel.NR;
        float* x = p.A;
        int fullPanels = p.N / nr;
        int rest = p.N - (fullPanels * nr);
        if (p.DescendingPanels)
        {
            if (rest > 0)
            {
                GemvTail(p, fullPanels, rest, tail);
            }

            // Groups of GemvGroup panels from the last to the first (the kernel streams a group's panels together).
            for (int end = fullPanels; end > 0; end -= GemvGroup)
            {
                int start = Math.Max(0, end - GemvGroup);
                TKernel.Gemv(p.K, x, p.BPacked + (start * p.BPanelStride), p.BPanelStride, end - start, p.C + (start * nr), p.Accumulate);
            }

            return;
        }

        if (fullPanels > 0)
        {
            TKernel.Gemv(p.K, x, p.BPacked, p.BPanelStride, fullPanels, p.C, p.Accumulate);
        }

        if (rest > 0)
        {
            GemvTail(p, fullPanels, rest, tail);
        }
    }

    /// <summary>Panels streamed together by the batch-1 kernels (four at every width).</summary>
    private const int GemvGroup = 4;

    /// <summary>The last, partial panel of the batch-1 path, through a full-width temporary row.</summary>
    private static void GemvTail(in GemmProblem p, int fullPanels, int rest, float* tail)
    {
        float* c = p.C + (fullPanels * TKernel.NR);
        if (p.Accumulate)
        {
            new ReadOnlySpan<float>(c, rest).CopyTo(new Span<float>(tail, rest));
        }

        TKernel.Gemv(p.K, p.A, p.BPacked + (fullPanels * p.BPanelStride), p.BPanelStride, 1, tail, p.Accumulate);
        new ReadOnlySpan<float>(tail, rest).CopyTo(new Span<float>(c, rest));
    }

    /// <summary>One contiguous row of A against pre-packed B streams the panels instead of tiling.</summary>
    private static bool UsesGemv(in GemmProblem p) => p.M == 1 && p.BPacked != null && (!p.TransA || p.Lda == 1);

    /// <summary>Part <paramref name="part"/> of <paramref name="parts"/> of [0, length), cut at multiples of <paramref name="unit"/>.</summary>
    private static (int Start, int End) Share(int length, int unit, int part, int parts)
    {
        int units = CeilDiv(length, unit);
        int first = (int)((long)units * part / parts);
        int last = (int)((long)units * (part + 1) / parts);
        return (first * unit, Math.Min(last * unit, length));
    }

    private static int CeilDiv(int a, int b) => (a + b - 1) / b;

    private static int RoundUp(int a, int b) => CeilDiv(a, b) * b;

    private static float* Align(float* p) => (float*)(((nuint)p + 63) & ~(nuint)63);
}
