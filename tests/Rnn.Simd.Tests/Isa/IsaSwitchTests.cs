using System.Runtime.Intrinsics;
using Rnn.Simd.Internal;

namespace Rnn.Simd.Tests.IsaChecks;

/// <summary>
/// CI re-runs the kernel and determinism tests under DOTNET_EnableAVX512=0, DOTNET_EnableAVX2=0 and
/// DOTNET_EnableHWIntrinsic=0. These tests prove each switch took effect, so a green run under a switch
/// really exercised the narrower path.
/// </summary>
[Trait("Category", "Isa")]
[Trait("Isa", "All")]
public sealed class IsaSwitchTests
{
    [Fact]
    public void EachSwitch_TurnsOffTheWidthsItNames()
    {
        if (Switch("DOTNET_EnableHWIntrinsic"))
        {
            Assert.False(Vector128.IsHardwareAccelerated);
            Assert.False(Vector256.IsHardwareAccelerated);
            Assert.False(Vector512.IsHardwareAccelerated);
            Assert.Equal(VectorWidth.Scalar, Simd.Internal.Isa.Best);
            Assert.False(Simd.Internal.Isa.HardwareFma);
        }

        if (Switch("DOTNET_EnableAVX2"))
        {
            Assert.False(Vector256.IsHardwareAccelerated);
            Assert.False(Vector512.IsHardwareAccelerated);
            Assert.NotEqual(VectorWidth.V256, Simd.Internal.Isa.Best);
            Assert.NotEqual(VectorWidth.V512, Simd.Internal.Isa.Best);
            Assert.False(System.Runtime.Intrinsics.X86.Fma.IsSupported);
        }

        if (Switch("DOTNET_EnableAVX512"))
        {
            Assert.False(Vector512.IsHardwareAccelerated);
            Assert.NotEqual(VectorWidth.V512, Simd.Internal.Isa.Best);
            Assert.False(System.Runtime.Intrinsics.X86.Avx512F.IsSupported);
        }

        Assert.Contains(Simd.Internal.Isa.Best, Simd.Internal.Isa.Accelerated.ToArray());
    }

    /// <summary>
    /// .ci/run sets RNN_SIMD_EXPECT_WIDTH (512, 256, 128 or 1 bits; "256+" = at least 256) for each run from the
    /// CPU's flags and the switch it sets, so a switch that silently stopped working (as DOTNET_EnableAVX512F
    /// did in .NET 10) fails here.
    /// </summary>
    [SkippableFact]
    public void SelectedWidth_IsTheOneCiExpects()
    {
        string? expected = Environment.GetEnvironmentVariable("RNN_SIMD_EXPECT_WIDTH");
        Skip.If(string.IsNullOrEmpty(expected), "RNN_SIMD_EXPECT_WIDTH is not set: .ci/run sets it for each ISA run from the CPU's flags and the switch it sets.");

        bool atLeast = expected.EndsWith('+');
        int lanes = Math.Max(1, int.Parse(expected.TrimEnd('+'), System.Globalization.CultureInfo.InvariantCulture) / 32);
        if (atLeast)
        {
            Assert.True((int)Simd.Internal.Isa.Best >= lanes, $"Expected at least {expected} bits, selected {Simd.Internal.Isa.Best}.");
        }
        else
        {
            Assert.Equal((VectorWidth)lanes, Simd.Internal.Isa.Best);
        }
    }

    private static bool Switch(string name) => Environment.GetEnvironmentVariable(name) is "0";
}
