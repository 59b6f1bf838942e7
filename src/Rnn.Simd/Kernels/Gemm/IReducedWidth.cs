namespace Rnn.Simd.Kernels.Gemm;

/// <summary>
/// What <see cref="ReducedKernel{TWidth, TVector}"/> needs from one vector width: L float lanes, loads, stores, the
/// multiply-add, and the widening of a vector of compact words (bf16 halves, int8 bytes) into float columns.
/// </summary>
/// <remarks>
/// A vector of words travels as <typeparamref name="TVector"/> (the float vector of its bits), so one type parameter
/// carries the width; the widenings reinterpret it. Every member is inlined into the kernel's loops, so each width
/// compiles to the instructions it wrote before the loops were shared.
/// </remarks>
internal unsafe interface IReducedWidth<TVector>
    where TVector : struct
{
    /// <summary>Float lanes L.</summary>
    static abstract int Lanes { get; }

    /// <summary>All lanes +0.</summary>
    static abstract TVector Zero { get; }

    /// <summary>L floats (or the bits of L words) from <paramref name="p"/>.</summary>
    static abstract TVector Load(void* p);

    /// <summary>L floats to <paramref name="p"/>.</summary>
    static abstract void Store(TVector v, float* p);

    /// <summary>*x in every lane (from memory: one broadcast load).</summary>
    static abstract TVector Broadcast(float* x);

    /// <summary>a·b + c through <see cref="Internal.Mad"/>: fused, or separate under the same-machine opt-in.</summary>
    static abstract TVector Fma(TVector a, TVector b, TVector c);

    /// <summary>The high half of each word as a float: the word with its low 16 bits cleared.</summary>
    static abstract TVector High(TVector words);

    /// <summary>The low half of each word, shifted into the high half.</summary>
    static abstract TVector Low(TVector words);

    /// <summary>The byte shuffle that moves byte 1 of each word to its top byte (an index past the vector gives a zero byte).</summary>
    static abstract TVector Byte1Indices { get; }

    /// <summary>The byte shuffle that moves byte 2 of each word to its top byte.</summary>
    static abstract TVector Byte2Indices { get; }

    /// <summary>0xFF000000 in every word.</summary>
    static abstract TVector TopByteMask { get; }

    /// <summary>
    /// Byte <paramref name="j"/> (a constant after inlining) of each word moved to the word's top byte with zeros
    /// below, converted exactly: q·2²⁴. Byte 0 takes a shift, byte 3 a mask, bytes 1 and 2 a byte shuffle; the
    /// constants come from <paramref name="c"/>, which the kernel makes once before its loops.
    /// </summary>
    static abstract TVector Byte(TVector words, int j, in ByteConstants<TVector> c);
}

/// <summary>The constants of <see cref="IReducedWidth{TVector}.Byte"/>, made once before a loop and kept in registers.</summary>
internal readonly struct ByteConstants<TVector>(TVector byte1, TVector byte2, TVector top)
    where TVector : struct
{
    public TVector Byte1 { get; } = byte1;

    public TVector Byte2 { get; } = byte2;

    public TVector Top { get; } = top;
}
