using System.Diagnostics;
using System.Runtime.CompilerServices;
using Rnn.Simd.Internal;

namespace Rnn.Simd.Kernels.Gemm;

/// <summary>
/// A weight matrix packed once into the micro-kernel's panel layout and reused by every product
/// (DESIGN.md §3.2: packed when a model is built or loaded, never per call). Immutable; safe to share.
/// </summary>
/// <remarks>
/// Holds op(B)[K, N] for C = A · op(B): from weights W[N, K] (row-major, PyTorch's [out, in]) when
/// packed with <see cref="FromRowsAsColumns"/>, or from B[K, N] with <see cref="FromMatrix"/>.
/// <code>
///   panel p (columns p·NR … p·NR+NR−1), PanelStride = K·NR floats apart, 64-byte aligned:
///     [ B(0, p·NR) … B(0, p·NR+NR−1) | B(1, p·NR) … | … | B(K−1, …) ]    zero past column N
/// </code>
/// The panel width NR belongs to the <see cref="Width"/> the matrix was packed for; a product with a
/// packed matrix always runs at that width.
/// </remarks>
internal sealed unsafe class PackedMatrix
{
    private readonly PinnedPanels _storage;

    private PackedMatrix(int n, int k, VectorWidth width, bool transposed, bool floatPanels = true)
    {
        Transposed = transposed;
        N = n;
        K = k;
        Width = width;
        Nr = Gemm.PanelWidth(width);
        int panels = (n + Nr - 1) / Nr;
        PanelStride = (nint)k * Nr;
        long length = floatPanels ? (long)panels * PanelStride : 0;
        _storage = new PinnedPanels(length, nameof(n), $"{n}×{k}");
    }

    /// <summary>
    /// What the panels hold: float32 weights, bfloat16-rounded ones, or int8 codes q (as q·2²⁴ when held as floats) with
    /// <see cref="Scales"/> (the product is then fma(Σ x·q·2²⁴, s·2⁻²⁴, y₀); see <see cref="ReducedGemm"/>).
    /// </summary>
    public WeightPrecision Precision { get; private init; }

    /// <summary>
    /// The reduced values in their compact panels (2 or 1 bytes a weight), or null when they are held as floats in
    /// <see cref="Panels"/> (small matrices, where the float kernels are faster: the same results either way).
    /// </summary>
    public ReducedPanels? Compact { get; private set; }

    /// <summary>Int8 only (null otherwise): s·2⁻²⁴ for each output column n (a row of W), zero past N; a second block follows (see <see cref="ScalesFor"/>).</summary>
    public float* Scales => Precision == WeightPrecision.Int8 ? _scales.Pointer : null;

    private PinnedPanels _scales;

    /// <summary>Columns of op(B): the output size of the product (for weights, the number of rows of W).</summary>
    public int N { get; }

    /// <summary>Depth of the product (for weights, the number of columns of W).</summary>
    public int K { get; }

    /// <summary>The vector width whose micro-kernel this layout serves.</summary>
    public VectorWidth Width { get; }

    /// <summary>Whether the source was W[N, K] (<see cref="FromRowsAsColumns"/>) rather than B[K, N].</summary>
    public bool Transposed { get; }

    /// <summary>Panel width NR of <see cref="Width"/>.</summary>
    public int Nr { get; }

    /// <summary>Floats between the starts of two panels (K·NR).</summary>
    public nint PanelStride { get; }

    /// <summary>Start of the first panel. Valid for the life of this object (the storage is pinned).</summary>
    public float* Panels => _storage.Pointer;

    /// <summary>Packs weights W[n, k] (row stride <paramref name="ldw"/>) so that products compute A · Wᵀ.</summary>
    public static PackedMatrix FromRowsAsColumns(ReadOnlySpan<float> w, int n, int k, int ldw, VectorWidth? width = null)
        => Pack(w, n, k, ldw, transposed: true, width);

    /// <summary>Packs B[k, n] (row stride <paramref name="ldb"/>) so that products compute A · B.</summary>
    public static PackedMatrix FromMatrix(ReadOnlySpan<float> b, int k, int n, int ldb, VectorWidth? width = null)
        => Pack(b, n, k, ldb, transposed: false, width);

    private static PackedMatrix Pack(ReadOnlySpan<float> source, int n, int k, int ld, bool transposed, VectorWidth? width)
    {
        ThrowHelper.ThrowIfNegative(n, nameof(n));
        ThrowHelper.ThrowIfNegative(k, nameof(k));
        if (transposed)
        {
            ThrowHelper.ThrowIfMatrixDoesNotFit(n, k, ld, source.Length, "w", "ldw");
        }
        else
        {
            ThrowHelper.ThrowIfMatrixDoesNotFit(k, n, ld, source.Length, "b", "ldb");
        }

        var packed = new PackedMatrix(n, k, width ?? Isa.Best, transposed);
        packed.Repack(source, ld);
        return packed;
    }

    /// <summary>
    /// Packs new values of the same shape, in place and without allocating (training re-packs after every
    /// optimiser step): <paramref name="source"/> is W[N, K] or B[K, N] as when this matrix was made.
    /// Not safe while another thread multiplies with this matrix.
    /// </summary>
    public void Repack(ReadOnlySpan<float> source, int ld)
    {
        if (Precision != WeightPrecision.Float32)
        {
            ThrowHelper.InvalidOperation($"A {Precision} packed matrix is an inference snapshot; only float32 weights are re-packed.");
        }

        if (Transposed)
        {
            ThrowHelper.ThrowIfMatrixDoesNotFit(N, K, ld, source.Length, nameof(source), nameof(ld));
        }
        else
        {
            ThrowHelper.ThrowIfMatrixDoesNotFit(K, N, ld, source.Length, nameof(source), nameof(ld));
        }

        if (N > 0 && K > 0)
        {
            fixed (float* src = source)
            {
                Gemm.PackPanels(Width, src, ld, Transposed, K, N, Panels, PanelStride);
            }
        }
    }

    /// <summary>
    /// Bytes of float32 weights from which compact reduced panels pay: below, a batch-1 product reads its float panels
    /// from the core's own cache faster than it widens compact ones, so a reduced matrix keeps its rounded values as
    /// float panels (the same results; only the speed differs). Measured with <c>rnn-simd bench --precision</c> (see
    /// perf/results/precision.md): at LSTM H = 128 (fused recurrent part 256 KiB) float panels are faster; from
    /// H = 256 on, the compact ones.
    /// </summary>
    public const long CompactMinFloatBytes = 512 * 1024;

    /// <summary>Whether a <paramref name="n"/>×<paramref name="k"/> matrix at <paramref name="precision"/> is held compact (see <see cref="CompactMinFloatBytes"/>).</summary>
    public static bool CompactPays(WeightPrecision precision, int n, int k, VectorWidth width) =>
        precision != WeightPrecision.Float32 && width != VectorWidth.Scalar && (long)n * k * sizeof(float) >= CompactMinFloatBytes;

    /// <summary>The float32 weight op(B)(k, n) of this matrix's panels (its value as held, q for int8).</summary>
    public float this[int k, int n] => Panels[((n / Nr) * PanelStride) + ((nint)k * Nr) + (n % Nr)];

    /// <summary>
    /// A copy of this float32 matrix at <paramref name="precision"/>, each weight rounded once, held in compact panels
    /// when <paramref name="compact"/> (the bytes that pay on large matrices) or as float panels of the rounded values.
    /// </summary>
    /// <param name="precision">BFloat16 or Int8 (Float32 returns this matrix).</param>
    /// <param name="compact">Compact panels rather than float panels of the rounded values (the same results).</param>
    /// <param name="depthSplit">
    /// Int8: depths [0, split) and [split, K) get scales of their own per output column (a fused [W_x | W_h] matrix
    /// scales W_x's and W_h's rows apart, as two matrices would be); a product's depth range must then stay on one
    /// side. 0 for one scale per column.
    /// </param>
    /// <param name="int8Scales">
    /// Int8: the scale s of (side, column n), side 0 for depths below <paramref name="depthSplit"/> and 1 for the rest,
    /// instead of max|w|/127 (a checkpoint's stored scales, with weights q·s: each code comes back as round(w/s) = q);
    /// null to compute them.
    /// </param>
    /// <exception cref="InvalidOperationException">This matrix is already reduced, or int8 meets a NaN or ±∞ weight.</exception>
    public PackedMatrix WithPrecision(WeightPrecision precision, bool compact, int depthSplit = 0, Func<int, int, float>? int8Scales = null)
    {
        if (Precision != WeightPrecision.Float32)
        {
            ThrowHelper.InvalidOperation("Only a float32 packed matrix is reduced.");
        }

        if (precision == WeightPrecision.Float32)
        {
            return this;
        }

        var reduced = new PackedMatrix(N, K, Width, Transposed, floatPanels: !compact) { Precision = precision, DepthSplit = depthSplit };
        float* scales = null;
        nint block = N + (4 * Nr);
        if (precision == WeightPrecision.Int8)
        {
            reduced._scales = new PinnedPanels(2 * block, nameof(precision), "scale");
            scales = reduced._scales.Pointer;
            for (int n = 0; n < N; n++)
            {
                for (int side = 0; side < 2; side++)
                {
                    float max = 0f;
                    for (int k = side == 0 ? 0 : depthSplit; k < (side == 0 ? depthSplit : K); k++)
                    {
                        float w = this[k, n];
                        if (!float.IsFinite(w))
                        {
                            ThrowHelper.InvalidOperation($"Weight ({n}, {k}) is {w}: int8 holds finite weights only.");
                        }

                        max = MathF.Max(max, MathF.Abs(w));
                    }

                    scales[(side * block) + n] = int8Scales is null ? ReducedWeights.Int8Scale(max) : int8Scales(side, n);
                }
            }
        }

        float Rounded(int k, int n) => precision == WeightPrecision.BFloat16
            ? ReducedWeights.RoundToBFloat16(this[k, n])
            : ReducedWeights.ToInt8(this[k, n], scales[(k < depthSplit ? 0 : block) + n]);
        if (compact)
        {
            reduced.Compact = new ReducedPanels(this, precision, Rounded);
        }
        else
        {
            for (int n = 0; n < N; n++)
            {
                for (int k = 0; k < K; k++)
                {
                    float value = Rounded(k, n);
                    reduced.Panels[((n / Nr) * PanelStride) + ((nint)k * Nr) + (n % Nr)] =
                        precision == WeightPrecision.Int8 ? value * ReducedWeights.Int8Lift : value;
                }
            }
        }

        // The kernels see q·2²⁴ (see ReducedWeights.Int8Lift): the scales carry the 2⁻²⁴.
        for (int i = 0; scales != null && i < 2 * block; i++)
        {
            scales[i] /= ReducedWeights.Int8Lift;
        }

        return reduced;
    }

    /// <summary>
    /// Float panels of the values this matrix holds (q·2²⁴ for int8), in the <see cref="Panels"/> layout: the panels
    /// themselves, or for a compact matrix its panels widened once, on first use (thread-safe; that call allocates).
    /// </summary>
    public float* FloatPanels => Compact is null ? Panels : Compact.FloatPanels(Width, Nr, PanelStride);

    /// <summary>The value weight op(B)(k, n) is held at, from the float or the compact panels (q·2²⁴ for int8).</summary>
    public float HeldValue(int k, int n) => Compact is null ? this[k, n] : Compact.Value(k, n);

    /// <summary>Int8: the scale (s·2⁻²⁴) of column n for depths on <paramref name="side"/> of <see cref="DepthSplit"/> (0 below, 1 above).</summary>
    public float ScaleOf(int side, int n)
    {
        Debug.Assert(Precision == WeightPrecision.Int8);
        return Scales[(side * (N + (4 * Nr))) + n];
    }

    /// <summary>Int8: where the second block of scales starts in depth (0: one block).</summary>
    public int DepthSplit { get; private init; }

    /// <summary>Int8: the scales of a product over depths [depthStart, depthStart + depthCount), which must lie on one side of <see cref="DepthSplit"/>.</summary>
    public float* ScalesFor(int depthStart, int depthCount)
    {
        Debug.Assert(Precision == WeightPrecision.Int8);
        if (depthStart < DepthSplit && depthStart + depthCount > DepthSplit)
        {
            ThrowHelper.ArgumentOutOfRange(nameof(depthCount), $"Depths [{depthStart}, {depthStart + depthCount}) cross the int8 scale split at {DepthSplit}.");
        }

        return Scales + (depthStart < DepthSplit ? 0 : N + (4 * Nr));
    }
}
