namespace Rnn.Simd.Import.Onnx;

/// <summary>
/// One input of an <see cref="OnnxModel"/> call: float32 or int64 values, row-major, and their shape. Make feeds
/// once and reuse them (their memory may be refilled between calls): a call then allocates nothing.
/// </summary>
public readonly struct OnnxFeed
{
    /// <summary>A float32 input.</summary>
    public OnnxFeed(ReadOnlyMemory<float> values, params long[] shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        Floats = values;
        Shape = shape;
    }

    /// <summary>An int64 input (token ids, sequence lengths).</summary>
    public OnnxFeed(ReadOnlyMemory<long> values, params long[] shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        Integers = values;
        Shape = shape;
        IsInteger = true;
    }

    /// <summary>The float values (empty for an int64 feed).</summary>
    public ReadOnlyMemory<float> Floats { get; }

    /// <summary>The int64 values (empty for a float feed).</summary>
    public ReadOnlyMemory<long> Integers { get; }

    /// <summary>The shape, outermost first.</summary>
    public long[] Shape { get; }

    /// <summary>Whether the feed holds int64 values.</summary>
    public bool IsInteger { get; }
}
