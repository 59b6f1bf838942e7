using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Rnn.Simd.Internal;

/// <summary>
/// Every multiply-add of the engine: <c>a·b + c</c>, fused (one rounding) by default. Under the process-wide opt-in
/// <see cref="SeparateWhereEmulated"/> it is a multiply and an add (two roundings) on a machine that has no FMA in
/// hardware, where the fused form is emulated in software, exactly but 60–160× slower.
/// </summary>
/// <remarks>
/// <para>The choice is a static readonly read once: in tier-1 code the JIT folds it into a constant, so each helper
/// compiles to the one instruction (or the one emulation call) it stands for.</para>
/// <para>Fused, the results are the same bits on every machine and at every vector width (DESIGN.md §4). Separate,
/// they are the same run to run and for any thread count on one machine, since every output element still takes
/// the same operations in the same order, but not the same bits as a machine with FMA.</para>
/// </remarks>
internal static class Mad
{
    /// <summary>The <see cref="AppContext"/> switch that opts in (runtimeconfig or <see cref="AppContext.SetSwitch"/> before first use).</summary>
    public const string SwitchName = "Rnn.Simd.Determinism.SameMachine";

    /// <summary>The environment variable that opts in when set to <see cref="SameMachineValue"/>.</summary>
    public const string EnvironmentVariable = "RNN_SIMD_DETERMINISM";

    /// <summary>The value of <see cref="EnvironmentVariable"/> that opts in (case-insensitive).</summary>
    public const string SameMachineValue = "SameMachine";

    /// <summary>Whether the process asked for same-machine determinism (read once, at first use of any kernel).</summary>
    public static readonly bool SameMachineRequested = ReadRequest();

    /// <summary>Multiply-adds are separate: the opt-in is on and FMA would be emulated here.</summary>
    public static readonly bool SeparateWhereEmulated = SameMachineRequested && !Isa.HardwareFma;

    /// <summary>
    /// Multiply-adds are separate and the CPU has 256-bit AVX float arithmetic (x64 with AVX but no FMA, or under
    /// <c>DOTNET_EnableAVX2=0</c>): the products of the 128-bit path then run on <see cref="Kernels.Gemm.MicroKernelAvx"/>,
    /// twice as wide, with the same bits (a multiply and an add round the same way at any width).
    /// </summary>
    public static readonly bool SeparateWithAvx = SeparateWhereEmulated && Avx.IsSupported;

    /// <summary><c>a·b + c</c>: fused, or separate under <see cref="SeparateWhereEmulated"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Fma(float a, float b, float c) =>
        SeparateWhereEmulated ? (a * b) + c : MathF.FusedMultiplyAdd(a, b, c);

    /// <inheritdoc cref="Fma(float, float, float)"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Fma(Vector128<float> a, Vector128<float> b, Vector128<float> c) =>
        SeparateWhereEmulated ? (a * b) + c : Vector128.FusedMultiplyAdd(a, b, c);

    /// <inheritdoc cref="Fma(float, float, float)"/>
    /// <remarks>
    /// Separate, it calls AVX's multiply and add directly: without AVX2 the runtime does not accelerate
    /// <see cref="Vector256{T}"/>, and its operators would run as two 128-bit halves each.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Fma(Vector256<float> a, Vector256<float> b, Vector256<float> c) =>
        SeparateWhereEmulated
            ? (Avx.IsSupported ? Avx.Add(Avx.Multiply(a, b), c) : (a * b) + c)
            : Vector256.FusedMultiplyAdd(a, b, c);

    /// <inheritdoc cref="Fma(float, float, float)"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Fma(Vector512<float> a, Vector512<float> b, Vector512<float> c) =>
        SeparateWhereEmulated ? (a * b) + c : Vector512.FusedMultiplyAdd(a, b, c);

    /// <summary>
    /// Runs this class's initialiser when the assembly is first entered. The kernels are marked
    /// <see cref="MethodImplOptions.AggressiveOptimization"/>, so each is compiled once, fully optimised, and never again:
    /// if one were compiled before <see cref="SeparateWhereEmulated"/> had a value, the JIT could not fold the choice,
    /// every <see cref="Fma(Vector512{float}, Vector512{float}, Vector512{float})"/> would keep both arms and a class-init
    /// check, and the kernel would stop inlining them (measured: the int8 step 2.5 to 5 times slower when no float32
    /// kernel had run first). Initialised here, before any kernel can be compiled, the value is always a constant.
    /// </summary>
#pragma warning disable CA2255 // A library's module initialiser: it only reads a switch and an environment variable, and must run before any kernel is compiled.
    [ModuleInitializer]
    internal static void InitializeBeforeAnyKernel() => RuntimeHelpers.RunClassConstructor(typeof(Mad).TypeHandle);
#pragma warning restore CA2255

    private static bool ReadRequest()
    {
        if (AppContext.TryGetSwitch(SwitchName, out bool on))
        {
            return on;
        }

        return string.Equals(Environment.GetEnvironmentVariable(EnvironmentVariable), SameMachineValue, StringComparison.OrdinalIgnoreCase);
    }
}
