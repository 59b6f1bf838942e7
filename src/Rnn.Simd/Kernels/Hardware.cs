using Rnn.Simd.Internal;

namespace Rnn.Simd.Kernels;

/// <summary>
/// What the engine runs on in this process: the vector width its kernels chose (once, at start-up, from the CPU and
/// the runtime's switches such as <c>DOTNET_EnableAVX512=0</c>) and whether fused multiply-add is in hardware. For
/// reports and benchmarks; results are bit-identical whatever is chosen.
/// </summary>
public static class Hardware
{
    /// <summary>
    /// The width in bits of the vectors the products (the GEMM and the recurrent steps) run at: 512, 256, 128, or 32
    /// (scalar).
    /// </summary>
    /// <remarks>
    /// Usually the width the kernels chose. Under the opt-in <see cref="Kernels.Determinism.SameMachine"/> on x64 with
    /// AVX but no FMA (for example <c>DOTNET_EnableAVX2=0</c>) the products run the 256-bit AVX kernel while the
    /// element-wise kernels stay at 128 bits: this reports 256 there, and <see cref="VectorPath"/> says which.
    /// </remarks>
    public static int VectorBits => ProductsOnAvx ? 256 : Isa.Best switch
    {
        VectorWidth.V512 => 512,
        VectorWidth.V256 => 256,
        VectorWidth.V128 => 128,
        _ => 32,
    };

    /// <summary>
    /// The kernels' path as a short name: "vector512", "vector256", "vector128" or "scalar"; "vector256-avx" under the
    /// same-machine opt-in without FMA where <see cref="VectorBits"/> is 256 (AVX products with separate multiply and
    /// add, 128-bit element-wise kernels).
    /// </summary>
    public static string VectorPath => ProductsOnAvx ? "vector256-avx" : Isa.Describe(Isa.Best);

    /// <summary>The products run the 256-bit AVX kernel while the element-wise kernels stay at 128 bits (the opt-in without FMA).</summary>
    private static bool ProductsOnAvx => Mad.SeparateWithAvx && Isa.Best == VectorWidth.V128;

    /// <summary>
    /// Whether multiply-adds are fused in hardware. Without it (x64 without FMA, e.g. under
    /// <c>DOTNET_EnableAVX2=0</c>) every fused multiply-add is emulated in software to keep the exact results, much slower.
    /// </summary>
    public static bool HardwareFma => Isa.HardwareFma;

    /// <summary>
    /// The determinism the process asked for (<see cref="Kernels.Determinism"/>: the switch
    /// <c>Rnn.Simd.Determinism.SameMachine</c> or <c>RNN_SIMD_DETERMINISM=SameMachine</c>, read once). Multiply-adds are
    /// separate only when this is <see cref="Kernels.Determinism.SameMachine"/> and <see cref="HardwareFma"/> is false.
    /// </summary>
    public static Determinism Determinism => Mad.SameMachineRequested ? Determinism.SameMachine : Determinism.Everywhere;
}
