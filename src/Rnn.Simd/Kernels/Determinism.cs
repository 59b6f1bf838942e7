namespace Rnn.Simd.Kernels;

/// <summary>
/// Which results the engine keeps bit-identical: everywhere (the default) or on this machine only. Chosen once per
/// process, before the first network runs: the <see cref="AppContext"/> switch <c>Rnn.Simd.Determinism.SameMachine</c>
/// (in the application's project file, <c>&lt;RuntimeHostConfigurationOption Include="Rnn.Simd.Determinism.SameMachine"
/// Value="true" /&gt;</c>, or <see cref="AppContext.SetSwitch"/> first thing in <c>Main</c>), or the environment
/// variable <c>RNN_SIMD_DETERMINISM=SameMachine</c>. <see cref="Hardware.Determinism"/> reports the mode in effect.
/// </summary>
/// <remarks>
/// The mode only matters on a machine without fused multiply-add in hardware (x64 without FMA, or under
/// <c>DOTNET_EnableAVX2=0</c> or <c>DOTNET_EnableHWIntrinsic=0</c>), where keeping the bits of every other machine
/// means emulating each fused multiply-add in software, 60–160× slower. Where FMA is in hardware both modes run
/// the same fused code and give the same bits.
/// </remarks>
public enum Determinism
{
    /// <summary>
    /// The same bits on every machine, at every vector width and for any thread count: every multiply-add is fused
    /// (one rounding), emulated in software where the hardware has no FMA. The default.
    /// </summary>
    Everywhere = 0,

    /// <summary>
    /// The same bits run to run and for any thread count on this machine, not across machines: where the hardware has
    /// no FMA, each multiply-add is a multiply and an add (two roundings), at the speed of the plain instructions.
    /// </summary>
    SameMachine = 1,
}
