using Rnn.Simd.Internal;

namespace Rnn.Simd.Kernels;

/// <summary>
/// What the engine runs on in this process: the vector width its kernels chose (once, at start-up, from the CPU and
/// the runtime's switches such as <c>DOTNET_EnableAVX512=0</c>) and whether fused multiply-add is in hardware. For
/// reports and benchmarks; results are bit-identical whatever is chosen.
/// </summary>
public static class Hardware
{
    /// <summary>The width of the kernels' vectors in bits: 512, 256, 128, or 32 (scalar).</summary>
    public static int VectorBits => Isa.Best switch
    {
        VectorWidth.V512 => 512,
        VectorWidth.V256 => 256,
        VectorWidth.V128 => 128,
        _ => 32,
    };

    /// <summary>The kernels' path as a short name: "vector512", "vector256", "vector128" or "scalar".</summary>
    public static string VectorPath => Isa.Describe(Isa.Best);

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
