using System.Runtime.Intrinsics;

namespace Rnn.Simd.Internal;

/// <summary>The SIMD register width a kernel runs at, as the number of float lanes.</summary>
internal enum VectorWidth
{
    /// <summary>No SIMD: plain scalar loops with <see cref="MathF.FusedMultiplyAdd"/>.</summary>
    Scalar = 1,

    /// <summary><see cref="Vector128{T}"/>: SSE on x64, NEON on Arm64.</summary>
    V128 = 4,

    /// <summary><see cref="Vector256{T}"/>: AVX2 on x64.</summary>
    V256 = 8,

    /// <summary><see cref="Vector512{T}"/>: AVX-512 on x64.</summary>
    V512 = 16,
}

/// <summary>
/// The one place that asks the hardware which vector width to use. Every kernel dispatches on
/// <see cref="Best"/> (a static readonly the JIT folds into a constant), never on ISA flags of its own.
/// </summary>
/// <remarks>
/// The results of every kernel are bit-identical at every width (DESIGN.md §4), so the choice only
/// affects speed. Tests may run a kernel at a narrower width than <see cref="Best"/>: the Vector APIs
/// fall back to software when a width is not accelerated, so every width is always correct.
/// </remarks>
internal static class Isa
{
    /// <summary>The widest vector width the hardware accelerates in this process.</summary>
    public static readonly VectorWidth Best = Detect();

    /// <summary>Every width, widest first, that this process runs at full speed (always includes scalar).</summary>
    public static ReadOnlySpan<VectorWidth> Accelerated => Best switch
    {
        VectorWidth.V512 => [VectorWidth.V512, VectorWidth.V256, VectorWidth.V128, VectorWidth.Scalar],
        VectorWidth.V256 => [VectorWidth.V256, VectorWidth.V128, VectorWidth.Scalar],
        VectorWidth.V128 => [VectorWidth.V128, VectorWidth.Scalar],
        _ => [VectorWidth.Scalar],
    };

    /// <summary>Whether fused multiply-add runs in hardware (otherwise .NET emulates it, exactly but slowly).</summary>
    public static bool HardwareFma =>
        System.Runtime.Intrinsics.X86.Fma.IsSupported || System.Runtime.Intrinsics.Arm.AdvSimd.IsSupported;

    private static VectorWidth Detect()
    {
        if (Vector512.IsHardwareAccelerated)
        {
            return VectorWidth.V512;
        }

        if (Vector256.IsHardwareAccelerated)
        {
            return VectorWidth.V256;
        }

        return Vector128.IsHardwareAccelerated ? VectorWidth.V128 : VectorWidth.Scalar;
    }

    /// <summary>A short name for reports: "vector512", "vector256", "vector128" or "scalar".</summary>
    public static string Describe(VectorWidth width) => width switch
    {
        VectorWidth.V512 => "vector512",
        VectorWidth.V256 => "vector256",
        VectorWidth.V128 => "vector128",
        _ => "scalar",
    };
}
