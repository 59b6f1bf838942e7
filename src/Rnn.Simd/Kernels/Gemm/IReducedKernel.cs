namespace Rnn.Simd.Kernels.Gemm;

/// <summary>
/// The batch-1 products and the widening of one vector width over compact (bfloat16 or int8) panels: the reduced
/// counterpart of <see cref="IGemmMicroKernel.Gemv"/>, and the step that turns a block of compact panels back into the
/// float panels the micro-kernel's tiles read.
/// </summary>
/// <remarks>
/// With L the float lanes of the width (NR = 2L), a compact panel row is one vector of L 32-bit words, and a panel
/// holds K rows, <c>panelStride = K·L</c> words apart:
/// <code>
///   bf16, 2L columns a panel:  word i of row k = bf16(B(k, i)) &lt;&lt; 16 | bf16(B(k, L + i))
///   int8, 4L columns a panel:  byte j of word i of row k = q(B(k, j·L + i)),  j = 0 the lowest byte
/// </code>
/// So one load gives two (bf16: a mask and a shift) or four (int8: each byte moved to the top of its word by a
/// shift, a mask or a byte shuffle, then converted: q·2²⁴ exactly) float vectors of consecutive columns, and each
/// column's product is the FMA chain over k in order that the float kernels compute. The int8 sum is scaled once at
/// the end: y = fma(Σ x_k·(q_k·2²⁴), s·2⁻²⁴, loadY ? y : +0), the same operation on every path.
/// </remarks>
internal unsafe interface IReducedKernel
{
    /// <summary>Float lanes L of the width: NR = 2L, bf16 panels are 2L columns wide and int8 panels 4L.</summary>
    static abstract int Lanes { get; }

    /// <summary>y[panelCount·2L] = (loadY ? y : 0) + x[kc] · B over bf16 panels.</summary>
    static abstract void GemvBFloat16(int kc, float* x, uint* b, nint panelStride, int panelCount, float* y, bool loadY);

    /// <summary>y[panelCount·4L] = fma(x[kc] · Q·2²⁴, scales, loadY ? y : 0) over int8 panels (scales hold s·2⁻²⁴).</summary>
    static abstract void GemvInt8(int kc, float* x, uint* b, nint panelStride, int panelCount, float* scales, float* y, bool loadY);

    /// <summary>kc rows of <paramref name="panelCount"/> bf16 panels into float NR-panels (dst panel p at p·dstStride).</summary>
    static abstract void WidenBFloat16(int kc, uint* b, nint panelStride, int panelCount, float* dst, nint dstStride);

    /// <summary>kc rows of <paramref name="panelCount"/> int8 panels into 2·panelCount float NR-panels of q·2²⁴ (unscaled).</summary>
    static abstract void WidenInt8(int kc, uint* b, nint panelStride, int panelCount, float* dst, nint dstStride);
}
