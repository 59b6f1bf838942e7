namespace Rnn.Simd.IO;

/// <summary>
/// The element types a safetensors header may name (its <c>"dtype"</c> strings). Every one of them can be
/// parsed, listed and read as raw bytes; <see cref="SafeTensorsFile"/> converts the floating-point ones
/// (<see cref="F16"/>, <see cref="BF16"/>, <see cref="F32"/>, <see cref="F64"/>) to float or double and
/// <see cref="I64"/> to long.
/// </summary>
/// <remarks>
/// Sub-byte types (F4, F6_*) and any other string are rejected as malformed: their byte sizes do not follow
/// from an element count alone.
/// </remarks>
public enum SafeTensorsDType
{
    /// <summary><c>"BOOL"</c>: one byte per element, 0 or 1.</summary>
    Bool,

    /// <summary><c>"U8"</c>: unsigned 8-bit integer.</summary>
    U8,

    /// <summary><c>"I8"</c>: signed 8-bit integer.</summary>
    I8,

    /// <summary><c>"F8_E4M3"</c>: 8-bit float with 4 exponent and 3 mantissa bits.</summary>
    F8E4M3,

    /// <summary><c>"F8_E5M2"</c>: 8-bit float with 5 exponent and 2 mantissa bits.</summary>
    F8E5M2,

    /// <summary><c>"I16"</c>: signed 16-bit integer, little-endian.</summary>
    I16,

    /// <summary><c>"U16"</c>: unsigned 16-bit integer, little-endian.</summary>
    U16,

    /// <summary><c>"F16"</c>: IEEE 754 binary16 (<see cref="Half"/>), little-endian.</summary>
    F16,

    /// <summary><c>"BF16"</c>: bfloat16 (the upper 16 bits of a binary32), little-endian.</summary>
    BF16,

    /// <summary><c>"I32"</c>: signed 32-bit integer, little-endian.</summary>
    I32,

    /// <summary><c>"U32"</c>: unsigned 32-bit integer, little-endian.</summary>
    U32,

    /// <summary><c>"F32"</c>: IEEE 754 binary32 (<see cref="float"/>), little-endian.</summary>
    F32,

    /// <summary><c>"I64"</c>: signed 64-bit integer, little-endian.</summary>
    I64,

    /// <summary><c>"U64"</c>: unsigned 64-bit integer, little-endian.</summary>
    U64,

    /// <summary><c>"F64"</c>: IEEE 754 binary64 (<see cref="double"/>), little-endian.</summary>
    F64,
}

/// <summary>The header spelling and byte size of each <see cref="SafeTensorsDType"/>.</summary>
internal static class SafeTensorsDTypes
{
    // Indexed by the enum value; the order above is the order here.
    private static readonly string[] s_names =
    [
        "BOOL", "U8", "I8", "F8_E4M3", "F8_E5M2", "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "I64", "U64", "F64",
    ];

    private static readonly int[] s_sizes = [1, 1, 1, 1, 1, 2, 2, 2, 2, 4, 4, 4, 8, 8, 8];

    public static string Name(SafeTensorsDType dtype) => s_names[(int)dtype];

    public static int Size(SafeTensorsDType dtype) => s_sizes[(int)dtype];

    /// <summary>Exact, case-sensitive match against the header spellings.</summary>
    public static bool TryParse(string name, out SafeTensorsDType dtype)
    {
        int index = Array.IndexOf(s_names, name);
        dtype = (SafeTensorsDType)Math.Max(index, 0);
        return index >= 0;
    }
}
