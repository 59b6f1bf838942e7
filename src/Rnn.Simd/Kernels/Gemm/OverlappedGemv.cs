using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Rnn.Simd.Kernels.Threading;

namespace Rnn.Simd.Kernels.Gemm;

/// <summary>
/// A batch-1 recurrent product that carries a slice of a later input projection along (Vector512, float32 panels).
/// </summary>
/// <remarks>
/// <para>At batch 1 a step's recurrent product streams W_h from L3 (4 MiB at LSTM H = 512) and leaves the FMA units
/// mostly idle; the input projection of all steps is a compute-bound product. Here each group of four W_h panels
/// streams through the batch-1 kernel together with one 16 × 16 tile of the projection of the next
/// <see cref="Rows"/> steps (16 rows of x against 16 columns of W_x), so the projection's FMAs fill the slots the
/// stream leaves free (Zen 4, LSTM X = H = 512: a step with a sixteenth of the next chunk's projection costs
/// ≈ 7 µs more than the bare product, against ≈ 20 µs for that projection on its own).</para>
/// <para>The sums are those of <see cref="Gemm"/>: each element of y continues its chain over k in order from y (or
/// from 0), each projected element is one chain over k in order from 0, so the bits are the same as the separate
/// products at every width and thread count.</para>
/// </remarks>
internal static unsafe class OverlappedGemv
{
    /// <summary>Rows (steps) of one projection chunk, and the height of a tile.</summary>
    public const int Rows = 16;

    /// <summary>Columns of one tile (one Vector512).</summary>
    public const int TileColumns = 16;

    private const int Nr = 32;
    private const int Group = 4;

    /// <summary>How far ahead the tile's stream of W_x is prefetched (16 depths of a 32-float panel row).</summary>
    private const int TilePrefetchFloats = 16 * Nr;

    /// <summary>Whether <paramref name="w"/>'s panels serve this path: float32 panels of the 32-wide Vector512 layout.</summary>
    public static bool Serves(PackedMatrix w) => w.Precision == WeightPrecision.Float32 && w.Width == VectorWidth.V512 && w.Nr == Nr;

    /// <summary>Packs rows [16, k] of x (row stride <paramref name="ldx"/>) into the tiles' A panel, a[k·16 + r].</summary>
    public static void PackRows(ReadOnlySpan<float> x, int ldx, int k, Span<float> panel)
    {
        for (int r = 0; r < Rows; r++)
        {
            ReadOnlySpan<float> row = x.Slice(r * ldx, k);
            for (int i = 0; i < k; i++)
            {
                panel[(i * Rows) + r] = row[i];
            }
        }
    }

    /// <summary>
    /// y[0, n) = (accumulate ? y : 0) + h[0, depthCount) · W[depthStart …, 0 … n) (the batch-1 product), and, when
    /// <paramref name="a"/> is not null, this step's share of C[16, n] = A · W[0 … inputDepth, 0 … n) (A packed by
    /// <see cref="PackRows"/>; tile j covers columns 16·j … 16·j + 15): each thread's tiles are spread evenly over
    /// <paramref name="tileSteps"/> steps, and step <paramref name="tileStep"/> computes its part of them.
    /// </summary>
    public static void Run(
        float* h, int depthStart, int depthCount, PackedMatrix w, int n, float* y, bool accumulate, bool descending,
        float* a, int inputDepth, float* c, int ldc, int tileStep, int tileSteps, ThreadTeam? team)
    {
        int panels = n / Nr;
        int parts = team is null || (long)n * depthCount < GemmBlocking.MinParallelMacs ? 1 : Math.Min(team.ThreadCount, Math.Max(1, panels / Group));
        var job = new Job
        {
            H = h, W = w.Panels + ((nint)depthStart * Nr), Stride = w.PanelStride, Depth = depthCount, Panels = panels, Y = y, LoadY = accumulate,
            Descending = descending, A = a, WX = w.Panels, InputDepth = inputDepth, C = c, Ldc = ldc, TileStep = tileStep, TileSteps = tileSteps,
            Parts = parts,
        };
        if (parts == 1)
        {
            job.Execute(0);
        }
        else
        {
            team!.Run(ref job, parts);
        }

        GC.KeepAlive(w);
    }

    private struct Job : IParallelJob
    {
        public float* H, W, Y, A, WX, C;
        public nint Stride;
        public int Depth, Panels, InputDepth, Ldc, TileStep, TileSteps, Parts;
        public bool LoadY, Descending;

        public readonly void Execute(int part)
        {
            // Whole groups of four panels per part; the last part takes a partial group.
            int groups = (Panels + Group - 1) / Group;
            int g0 = (int)((long)groups * part / Parts), g1 = (int)((long)groups * (part + 1) / Parts);
            int p0 = g0 * Group, p1 = Math.Min(Panels, g1 * Group);
            if (p1 <= p0)
            {
                return;
            }

            // This part's tiles are the 16-column halves of its own panels, spread evenly over the chunk's steps.
            int tilesTotal = A == null ? 0 : 2 * (p1 - p0);
            int perStep = TileSteps <= 0 ? 0 : (tilesTotal + TileSteps - 1) / TileSteps;
            int tile = p0 * 2 + Math.Min(tilesTotal, TileStep * perStep), tileEnd = p0 * 2 + Math.Min(tilesTotal, (TileStep + 1) * perStep);

            int count = (p1 - p0 + Group - 1) / Group;
            for (int i = 0; i < count; i++)
            {
                int g = Descending ? count - 1 - i : i;
                int first = p0 + (g * Group), width = Math.Min(Group, p1 - first);
                float* b = W + (first * Stride);
                float* y = Y + (first * Nr);
                if (tile < tileEnd && width == Group)
                {
                    GemvTile(Depth, H, b, Stride, y, LoadY, InputDepth, A, TileB(tile), C + (tile * TileColumns), Ldc);
                    tile++;
                }
                else
                {
                    MicroKernel512.Gemv(Depth, H, b, Stride, width, y, LoadY);
                }
            }

            for (; tile < tileEnd; tile++)
            {
                Tile(InputDepth, A, TileB(tile), C + (tile * TileColumns), Ldc, loadC: false);
            }
        }

        private readonly float* TileB(int tile) => WX + ((tile / 2) * Stride) + ((tile % 2) * TileColumns);
    }

    /// <summary>
    /// Four panels' batch-1 product (as <see cref="MicroKernel512.Gemv"/>) and one 16 × 16 tile from zero
    /// (c[r, j] = Σ_k a[k·16 + r] · bx[k·32 + j]) in one loop over the common depth; the longer one then continues
    /// alone from what was stored (a float stored and reloaded continues its chain unchanged).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void GemvTile(int kc, float* x, float* b0, nint panelStride, float* y, bool loadY, int kt, float* a, float* bx, float* c, nint ldc)
    {
        float* b1 = b0 + panelStride;
        float* b2 = b1 + panelStride;
        float* b3 = b2 + panelStride;
        Vector512<float> y00, y01, y10, y11, y20, y21, y30, y31;
        if (loadY)
        {
            y00 = Vector512.Load(y); y01 = Vector512.Load(y + 16);
            y10 = Vector512.Load(y + 32); y11 = Vector512.Load(y + 48);
            y20 = Vector512.Load(y + 64); y21 = Vector512.Load(y + 80);
            y30 = Vector512.Load(y + 96); y31 = Vector512.Load(y + 112);
        }
        else
        {
            y00 = y01 = y10 = y11 = y20 = y21 = y30 = y31 = Vector512<float>.Zero;
        }

        TileRows t = default;
        int common = Math.Min(kc, kt);
        for (nint k = 0; k < common; k++)
        {
            Vector512<float> xk = Vector512.Create(x[k]);
            nint o = k * Nr;
            y00 = Mad.Fma(xk, Vector512.Load(b0 + o), y00);
            y01 = Mad.Fma(xk, Vector512.Load(b0 + o + 16), y01);
            y10 = Mad.Fma(xk, Vector512.Load(b1 + o), y10);
            y11 = Mad.Fma(xk, Vector512.Load(b1 + o + 16), y11);
            t.Step(a + (k * Rows), Vector512.Load(bx + o));
            if (Sse.IsSupported)
            {
                // W_x is read once per 16 steps, so its lines may have left L3: ask for them well ahead.
                Sse.Prefetch0(bx + o + TilePrefetchFloats);
            }

            y20 = Mad.Fma(xk, Vector512.Load(b2 + o), y20);
            y21 = Mad.Fma(xk, Vector512.Load(b2 + o + 16), y21);
            y30 = Mad.Fma(xk, Vector512.Load(b3 + o), y30);
            y31 = Mad.Fma(xk, Vector512.Load(b3 + o + 16), y31);
        }

        y00.Store(y); y01.Store(y + 16);
        y10.Store(y + 32); y11.Store(y + 48);
        y20.Store(y + 64); y21.Store(y + 80);
        y30.Store(y + 96); y31.Store(y + 112);
        t.Store(c, ldc);
        if (kc > common)
        {
            MicroKernel512.Gemv(kc - common, x + common, b0 + ((nint)common * Nr), panelStride, Group, y, loadY: true);
        }

        if (kt > common)
        {
            Tile(kt - common, a + ((nint)common * Rows), bx + ((nint)common * Nr), c, ldc, loadC: true);
        }
    }

    /// <summary>One 16 × 16 tile alone, from zero or from C (the tiles left over when a part has fewer groups than tiles in a step).</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Tile(int kt, float* a, float* bx, float* c, nint ldc, bool loadC)
    {
        TileRows t = default;
        if (loadC)
        {
            t.Load(c, ldc);
        }

        for (nint k = 0; k < kt; k++)
        {
            t.Step(a + (k * Rows), Vector512.Load(bx + (k * Nr)));
        }

        t.Store(c, ldc);
    }

    /// <summary>The 16 accumulators of a tile, one row of C each.</summary>
    private struct TileRows
    {
        public Vector512<float> R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, R10, R11, R12, R13, R14, R15;

        /// <summary>One depth: row r += a[r] · b, each row's chain one FMA further.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Step(float* a, Vector512<float> b)
        {
            R0 = Mad.Fma(Vector512.Create(a[0]), b, R0);
            R1 = Mad.Fma(Vector512.Create(a[1]), b, R1);
            R2 = Mad.Fma(Vector512.Create(a[2]), b, R2);
            R3 = Mad.Fma(Vector512.Create(a[3]), b, R3);
            R4 = Mad.Fma(Vector512.Create(a[4]), b, R4);
            R5 = Mad.Fma(Vector512.Create(a[5]), b, R5);
            R6 = Mad.Fma(Vector512.Create(a[6]), b, R6);
            R7 = Mad.Fma(Vector512.Create(a[7]), b, R7);
            R8 = Mad.Fma(Vector512.Create(a[8]), b, R8);
            R9 = Mad.Fma(Vector512.Create(a[9]), b, R9);
            R10 = Mad.Fma(Vector512.Create(a[10]), b, R10);
            R11 = Mad.Fma(Vector512.Create(a[11]), b, R11);
            R12 = Mad.Fma(Vector512.Create(a[12]), b, R12);
            R13 = Mad.Fma(Vector512.Create(a[13]), b, R13);
            R14 = Mad.Fma(Vector512.Create(a[14]), b, R14);
            R15 = Mad.Fma(Vector512.Create(a[15]), b, R15);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Load(float* c, nint ldc)
        {
            R0 = Vector512.Load(c); R1 = Vector512.Load(c + ldc); R2 = Vector512.Load(c + (2 * ldc)); R3 = Vector512.Load(c + (3 * ldc));
            R4 = Vector512.Load(c + (4 * ldc)); R5 = Vector512.Load(c + (5 * ldc)); R6 = Vector512.Load(c + (6 * ldc)); R7 = Vector512.Load(c + (7 * ldc));
            R8 = Vector512.Load(c + (8 * ldc)); R9 = Vector512.Load(c + (9 * ldc)); R10 = Vector512.Load(c + (10 * ldc)); R11 = Vector512.Load(c + (11 * ldc));
            R12 = Vector512.Load(c + (12 * ldc)); R13 = Vector512.Load(c + (13 * ldc)); R14 = Vector512.Load(c + (14 * ldc)); R15 = Vector512.Load(c + (15 * ldc));
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly void Store(float* c, nint ldc)
        {
            R0.Store(c); R1.Store(c + ldc); R2.Store(c + (2 * ldc)); R3.Store(c + (3 * ldc));
            R4.Store(c + (4 * ldc)); R5.Store(c + (5 * ldc)); R6.Store(c + (6 * ldc)); R7.Store(c + (7 * ldc));
            R8.Store(c + (8 * ldc)); R9.Store(c + (9 * ldc)); R10.Store(c + (10 * ldc)); R11.Store(c + (11 * ldc));
            R12.Store(c + (12 * ldc)); R13.Store(c + (13 * ldc)); R14.Store(c + (14 * ldc)); R15.Store(c + (15 * ldc));
        }
    }
}
