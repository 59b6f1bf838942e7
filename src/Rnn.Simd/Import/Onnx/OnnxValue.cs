namespace Rnn.Simd.Import.Onnx;

/// <summary>
/// A tensor of a plan: its shape and where its values are: known when the plan is made (constants, and whatever
/// depends only on them and on the input shapes), a graph input, or a slice of the call's workspace.
/// </summary>
internal sealed class PlanValue
{
    private PlanValue(long[] shape, bool integer)
    {
        Shape = shape;
        IsInteger = integer;
        Length = checked((int)Count(shape));
    }

    public long[] Shape { get; }

    public bool IsInteger { get; }

    public int Length { get; }

    /// <summary>Static float values, or null.</summary>
    public float[]? Floats { get; private init; }

    /// <summary>Static int64 values, or null.</summary>
    public long[]? Integers { get; private init; }

    /// <summary>The graph input this is, or −1.</summary>
    public int Input { get; private init; } = -1;

    /// <summary>The start of this tensor in the workspace, or −1.</summary>
    public int Offset { get; private init; } = -1;

    public bool IsStatic => Floats is not null || Integers is not null;

    public static PlanValue Static(long[] shape, float[] values) => new(shape, false) { Floats = values };

    public static PlanValue Static(long[] shape, long[] values) => new(shape, true) { Integers = values };

    public static PlanValue FromInput(long[] shape, bool integer, int input) => new(shape, integer) { Input = input };

    public static PlanValue InWorkspace(long[] shape, int offset) => new(shape, false) { Offset = offset };

    /// <summary>The same values under another shape of as many elements (Reshape, Squeeze, Unsqueeze, Flatten).</summary>
    public PlanValue WithShape(long[] shape) => new(shape, IsInteger) { Floats = Floats, Integers = Integers, Input = Input, Offset = Offset };

    public static long Count(ReadOnlySpan<long> shape)
    {
        long n = 1;
        foreach (long d in shape)
        {
            n *= d;
            if (n > Array.MaxLength)
            {
                OnnxErrors.Fail($"A tensor of shape [{string.Join(", ", shape.ToArray())}] is larger than one array can hold.");
            }
        }

        return n;
    }

    /// <summary>The values as int64 (static integer or float tensors), for shape arithmetic.</summary>
    public long[] AsIntegers() => Integers ?? (Floats is { } f ? [.. f.Select(v => (long)v)] : throw OnnxErrors.Create("A value needed when the plan is made depends on the call's data."));

    public override string ToString() => $"[{string.Join(", ", Shape)}]{(IsInteger ? " int64" : "")}";
}
