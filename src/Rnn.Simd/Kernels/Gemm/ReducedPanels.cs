using System.Runtime.Intrinsics;
using Rnn.Simd.Internal;

namespace Rnn.Simd.Kernels.Gemm;

/// <summary>
/// The compact panels of a reduced <see cref="PackedMatrix"/>: bfloat16 (2L columns a panel) or int8 (4L columns)
/// in the word layout of <see cref="IReducedKernel"/>, L the float lanes of the matrix's width. Immutable; pinned.
/// </summary>
/// <remarks>
/// <code>
///   panel p, PanelStride = K·L words apart, 64-byte aligned:
///     [ row 0: L words | row 1: L words | … | row K−1 ]     columns p·Columns … p·Columns + Columns − 1, zero past N
/// </code>
/// One row of a panel is one vector load at the matrix's width; at AVX-512 that is 64 bytes for 32 bf16 or 64 int8
/// columns, against 128 or 256 bytes of float32.
/// </remarks>
internal sealed unsafe class ReducedPanels
{
    private readonly PinnedPanels _words;
    private readonly Lock _gate = new();
    private readonly int _depth;
    private readonly bool _int8;
    private PinnedPanels _floats;
    private bool _widened;

    /// <summary>Packs <paramref name="rounded"/>(k, n) of <paramref name="source"/>'s shape: the bf16-rounded value, or the int8 code q.</summary>
    public ReducedPanels(PackedMatrix source, WeightPrecision precision, Func<int, int, float> rounded)
    {
        Lanes = source.Nr / 2;
        _depth = source.K;
        _int8 = precision == WeightPrecision.Int8;
        Columns = precision == WeightPrecision.Int8 ? 4 * Lanes : 2 * Lanes;
        PanelCount = (source.N + Columns - 1) / Columns;
        PanelStride = (nint)source.K * Lanes;
        _words = new PinnedPanels((long)PanelCount * PanelStride, nameof(source), $"{source.N}×{source.K} {precision}");
        uint* words = Words;
        int l = Lanes;
        for (int n = 0; n < source.N; n++)
        {
            int p = n / Columns, c = n % Columns;
            for (int k = 0; k < source.K; k++)
            {
                float w = rounded(k, n);
                if (precision == WeightPrecision.BFloat16)
                {
                    // Column c < L is the high half of word c; column L + i the low half of word i.
                    ushort* halves = (ushort*)(words + (p * PanelStride) + ((nint)k * l));
                    halves[c < l ? (2 * c) + 1 : 2 * (c - l)] = (ushort)(BitConverter.SingleToUInt32Bits(w) >> 16);
                }
                else
                {
                    // Column j·L + i is byte j of word i (little-endian: byte j of the word is byte 4i + j in memory).
                    sbyte* bytes = (sbyte*)(words + (p * PanelStride) + ((nint)k * l));
                    bytes[(4 * (c % l)) + (c / l)] = (sbyte)w;
                }
            }
        }
    }

    /// <summary>
    /// These panels widened to float NR-panels (<paramref name="floatStride"/> = K·NR floats apart), made on the first call
    /// and kept: what batched rows multiply with the float tiles (see <see cref="ReducedGemm"/>).
    /// </summary>
    public float* FloatPanels(VectorWidth width, int nr, nint floatStride)
    {
        if (!Volatile.Read(ref _widened))
        {
            lock (_gate)
            {
                if (!_widened)
                {
                    // Int8 panels are 2 NR wide: room for 2 float panels each, the last maybe all padding.
                    _floats = new PinnedPanels((long)PanelCount * (Columns / nr) * floatStride, "width", "widened");
                    switch (width)
                    {
                        case VectorWidth.V512:
                            Widen<ReducedKernel<ReducedWidth512, Vector512<float>>>(floatStride);
                            break;
                        case VectorWidth.V256:
                            Widen<ReducedKernel<ReducedWidth256, Vector256<float>>>(floatStride);
                            break;
                        case VectorWidth.V128:
                            Widen<ReducedKernel<ReducedWidth128, Vector128<float>>>(floatStride);
                            break;
                        default:
                            Widen<ReducedKernelScalar>(floatStride);
                            break;
                    }

                    Volatile.Write(ref _widened, true);
                }
            }
        }

        return _floats.Pointer;
    }

    private void Widen<TKernel>(nint floatStride)
        where TKernel : struct, IReducedKernel
    {
        if (_int8)
        {
            TKernel.WidenInt8(_depth, Words, PanelStride, PanelCount, _floats.Pointer, floatStride);
        }
        else
        {
            TKernel.WidenBFloat16(_depth, Words, PanelStride, PanelCount, _floats.Pointer, floatStride);
        }
    }

    /// <summary>The value held for weight (k, n), as the float kernels see it: the bf16 value, or q·2²⁴ for int8.</summary>
    public float Value(int k, int n)
    {
        int l = Lanes, p = n / Columns, c = n % Columns;
        uint* row = Words + (p * PanelStride) + ((nint)k * l);
        return _int8
            ? ((sbyte*)row)[(4 * (c % l)) + (c / l)] * ReducedWeights.Int8Lift
            : BitConverter.UInt32BitsToSingle((uint)((ushort*)row)[c < l ? (2 * c) + 1 : 2 * (c - l)] << 16);
    }

    /// <summary>Float lanes L of the width the panels were made for.</summary>
    public int Lanes { get; }

    /// <summary>Columns a panel: 2L (bf16) or 4L (int8).</summary>
    public int Columns { get; }

    /// <summary>Number of panels (the last zero-padded past N).</summary>
    public int PanelCount { get; }

    /// <summary>Words between the starts of two panels (K·L).</summary>
    public nint PanelStride { get; }

    /// <summary>The first word of the first panel (64-byte aligned, pinned for the life of this object).</summary>
    public uint* Words => (uint*)_words.Pointer;

    /// <summary>Bytes of the compact panels (what a batch-1 product streams).</summary>
    public long Bytes => (long)PanelCount * PanelStride * sizeof(uint);
}
