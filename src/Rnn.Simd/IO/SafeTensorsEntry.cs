using System.Collections.Immutable;

namespace Rnn.Simd.IO;

/// <summary>One tensor as a validated safetensors header describes it. Immutable.</summary>
public sealed class SafeTensorsEntry
{
    internal SafeTensorsEntry(string name, SafeTensorsDType dtype, ImmutableArray<long> shape, long elementCount, long dataOffset)
    {
        Name = name;
        DType = dtype;
        Shape = shape;
        ElementCount = elementCount;
        DataOffset = dataOffset;
        ByteLength = elementCount * SafeTensorsDTypes.Size(dtype);
    }

    /// <summary>The tensor's name (a key of the header object).</summary>
    public string Name { get; }

    /// <summary>The element type.</summary>
    public SafeTensorsDType DType { get; }

    /// <summary>The dimensions, outermost first (row-major); empty for a scalar.</summary>
    public ImmutableArray<long> Shape { get; }

    /// <summary>The product of <see cref="Shape"/> (1 for a scalar, 0 when any dimension is 0).</summary>
    public long ElementCount { get; }

    /// <summary>Where the tensor's bytes begin, relative to the start of the data region (the header's <c>data_offsets[0]</c>).</summary>
    public long DataOffset { get; }

    /// <summary>The number of bytes the tensor occupies: <see cref="ElementCount"/> × the size of <see cref="DType"/>.</summary>
    public long ByteLength { get; }

    /// <summary>A short description such as <c>w: F32 [4, 3] @ 0..48</c>.</summary>
    /// <returns>The description.</returns>
    public override string ToString() =>
        $"{Name}: {SafeTensorsDTypes.Name(DType)} [{string.Join(", ", Shape)}] @ {DataOffset}..{DataOffset + ByteLength}";
}
