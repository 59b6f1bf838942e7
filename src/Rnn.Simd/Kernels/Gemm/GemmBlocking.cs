namespace Rnn.Simd.Kernels.Gemm;

/// <summary>
/// Block sizes of the GEMM driver, shared by every micro-kernel (BLIS's split: the loops and packing
/// are written once, only the MR×NR tile is per width).
/// </summary>
/// <remarks>
/// Loop nest, outermost first (see <see cref="GemmDriver{TKernel}"/>):
/// <code>
///   jc: columns of C in blocks of NC      B block [KC, NC] packed into NR-wide panels (lives in L2)
///   pc: depth in blocks of KC             C is loaded again after the first KC block
///   ic: rows of C in blocks of MC         A block [MC, KC] packed into MR-tall panels
///   ir: one A micro-panel [KC, MR]        stays in L1 while ...
///   jr: ... every B micro-panel [KC, NR]  streams from L2 through the micro-kernel
/// </code>
/// The blocking never changes a result: every element of C is one sequential FMA chain over k, and a
/// chain stored to C as float and reloaded continues exactly as if it had stayed in a register.
/// </remarks>
internal static class GemmBlocking
{
    /// <summary>
    /// Depth of one packed block. At the RNN shapes (K = X + H ≤ 1024, or T·B for the weight gradients) the whole depth
    /// is one block, so each C tile is loaded and stored once rather than once per block: measured on Zen 3 (AVX2),
    /// 1600×2048×512 and 1600×256×1024 ran 10–20 % faster than at KC = 256, whose A micro-panel (6 KiB) fitted L1;
    /// at KC = 1024 the micro-panels stream from L2 (A block MC·KC·4 = 384 KiB) with no loss.
    /// </summary>
    public const int KC = 1024;

    /// <summary>Rows of A packed at once; a multiple of every micro-kernel's MR (6 and 4).</summary>
    public const int MC = 96;

    /// <summary>Columns of B packed at once; a multiple of every NR. KC·NC·4 bytes = 512 KiB fit in L2.</summary>
    public const int NC = 512;

    /// <summary>Products below this many multiply-adds run on the calling thread only.</summary>
    public const long MinParallelMacs = 1 << 17;

    /// <summary>Floats added to each scratch region so that it can start on a 64-byte boundary.</summary>
    public const int AlignFloats = 16;
}
