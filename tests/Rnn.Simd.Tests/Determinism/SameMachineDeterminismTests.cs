using System.Runtime.Intrinsics;
using Rnn.Simd.Internal;
using Rnn.Simd.Kernels;
using Mode = Rnn.Simd.Kernels.Determinism;
using Rnn.Simd.Kernels.Threading;
using Rnn.Simd.Layers;
using Rnn.Simd.Tests.Infrastructure;
using Rnn.Simd.Tests.Layers;
using Rnn.Simd.Tests.Training;

namespace Rnn.Simd.Tests.Determinism;

/// <summary>
/// The opt-in <see cref="Mode.SameMachine"/>: separate multiply and add only where FMA would be
/// emulated, results still the same run to run and on one and two threads. CI runs this class again with
/// RNN_SIMD_DETERMINISM=SameMachine under DOTNET_EnableAVX2=0 (256-bit AVX products), DOTNET_EnableAVX=0 (SSE) and
/// DOTNET_EnableHWIntrinsic=0 (scalar), the trait Determinism=SameMachine: all three give
/// <see cref="SeparateNetworkHash"/>. In every other run the opt-in is off and the pinned hashes must hold.
/// </summary>
[Trait("Category", "Determinism")]
[Trait("Isa", "All")]
[Trait("Determinism", "SameMachine")]
[Collection(NonParallelCollection.Name)]
public sealed class SameMachineDeterminismTests
{
    /// <summary>
    /// <see cref="NetworkDeterminismTests.NetworkHash"/>'s networks with separate multiply-adds: one value on every path
    /// without FMA (AVX's 256-bit kernel, SSE, scalar), since a multiply and an add round each lane alone.
    /// </summary>
    internal const string SeparateNetworkHash = "A46AB570A898BEA831CD1CFA21642849EE947AA3EBABEDC4A51560894AE06A9B";

    private static bool Requested =>
        string.Equals(Environment.GetEnvironmentVariable(Mad.EnvironmentVariable), Mad.SameMachineValue, StringComparison.OrdinalIgnoreCase);

    [Fact]
    public void OptIn_SeparatesMultiplyAdds_OnlyWhereFmaIsEmulated()
    {
        Assert.Equal(Requested, Mad.SameMachineRequested);
        Assert.Equal(Requested && !Hardware.HardwareFma, Mad.SeparateWhereEmulated);
        Assert.Equal(Requested ? Mode.SameMachine : Mode.Everywhere, Hardware.Determinism);

        // (1 + 2⁻¹²)² − 1 = 2⁻¹¹ + 2⁻²⁴ exactly (fused); the separate product rounds 2⁻²⁴ away (a tie, to even).
        float a = 1f + MathF.Pow(2, -12), fused = MathF.Pow(2, -11) + MathF.Pow(2, -24), separate = MathF.Pow(2, -11);
        float expected = Mad.SeparateWhereEmulated ? separate : fused;
        Assert.Equal(expected, Mad.Fma(a, a, -1f));
        Assert.Equal(Vector128.Create(expected), Mad.Fma(Vector128.Create(a), Vector128.Create(a), Vector128.Create(-1f)));
        Assert.Equal(Vector256.Create(expected), Mad.Fma(Vector256.Create(a), Vector256.Create(a), Vector256.Create(-1f)));
        Assert.Equal(Vector512.Create(expected), Mad.Fma(Vector512.Create(a), Vector512.Create(a), Vector512.Create(-1f)));
    }

    [Fact]
    public void Hardware_ReportsTheWidthTheProductsRunAt()
    {
        // The opt-in on x64 with AVX but neither FMA nor AVX2 runs its products 256 bits wide (MicroKernelAvx) while
        // the runtime accelerates only 128-bit vectors: that is what Hardware must say, not the 128 of the element-wise kernels.
        bool avxProducts = Requested && System.Runtime.Intrinsics.X86.Avx.IsSupported && !System.Runtime.Intrinsics.X86.Fma.IsSupported
            && !Vector256.IsHardwareAccelerated;
        Assert.Equal(avxProducts ? 256 : 32 * (int)Isa.Best, Hardware.VectorBits);
        Assert.Equal(avxProducts ? "vector256-avx" : Isa.Describe(Isa.Best), Hardware.VectorPath);
    }

    [Fact]
    public void Networks_GiveTheSameBits_RunToRun_AndOnOneAndTwoThreads()
    {
        using var team = new ThreadTeam(2);
        string first = NetworkDeterminismTests.Hash(null);
        Assert.Equal(first, NetworkDeterminismTests.Hash(team));
        Assert.Equal(first, NetworkDeterminismTests.Hash(null));

        // Separate multiply-adds round differently: the everywhere-hash must not hold (proves the opt-in took effect).
        if (Mad.SeparateWhereEmulated)
        {
            Assert.NotEqual(NetworkDeterminismTests.NetworkHash, first);
            Assert.True(SeparateNetworkHash == first, $"Separate network hash {first}, expected {SeparateNetworkHash}.");
        }
        else
        {
            Assert.Equal(NetworkDeterminismTests.NetworkHash, first);
        }
    }

    [Fact]
    public void Training_GivesTheSameWeights_RunToRun_AndOnOneAndTwoThreads()
    {
        using var team = new ThreadTeam(2);
        foreach (RecurrentNetworkOptions o in TestNetworks.Architectures(input: 5, hidden: 12))
        {
            using var once = new TrainingStepTests.Step(o, seed: 8);
            using var again = new TrainingStepTests.Step(o, seed: 8);
            using var two = new TrainingStepTests.Step(o, seed: 8);
            for (int i = 0; i < 3; i++)
            {
                once.Run(null);
                again.Run(null);
                two.Run(team);
            }

            float[] expected = once.Network.Parameters.Values.ToArray();
            Assert.Equal(expected, again.Network.Parameters.Values.ToArray());
            Assert.Equal(expected, two.Network.Parameters.Values.ToArray());
        }
    }
}
