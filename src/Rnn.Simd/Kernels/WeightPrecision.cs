namespace Rnn.Simd.Kernels;

/// <summary>
/// How an inference network holds its weight matrices. Arithmetic is float32 at every precision: reduced weights are
/// widened to float32 in registers and enter the same fused multiply-add chains, so results stay bit-identical across
/// vector widths and thread counts at each precision.
/// </summary>
/// <remarks>
/// <para>A weight w becomes <c>bf16(w)</c> (round to nearest even, 8 bits of mantissa) under <see cref="BFloat16"/>, and
/// <c>q·s</c> with an integer q in [−127, 127] and one float32 scale s = max|w|/127 per output row under
/// <see cref="Int8"/>; there the row's product is accumulated as Σ x_k·q_k (with q_k held as the exact float q_k·2²⁴)
/// and scaled once at the end, y = fma(Σ, s·2⁻²⁴, y₀). Biases, peepholes and every element-wise step stay float32.</para>
/// <para>Fewer bytes only pay where streaming the weights bounds the step; below that size the engine keeps the
/// reduced values in float32 panels (the same results, the float32 speed), see
/// <c>RecurrentNetwork.WithWeightPrecision</c>.</para>
/// </remarks>
public enum WeightPrecision
{
    /// <summary>IEEE binary32 weights, four bytes each: the training precision and the default.</summary>
    Float32 = 0,

    /// <summary>bfloat16 weights (the upper half of a binary32, rounded to nearest even), two bytes each.</summary>
    BFloat16 = 1,

    /// <summary>Symmetric signed 8-bit weights with one float32 scale per output row, one byte each.</summary>
    Int8 = 2,
}
