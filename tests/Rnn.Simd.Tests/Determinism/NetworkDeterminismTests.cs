using System.Security.Cryptography;
using Rnn.Simd.Kernels.Threading;
using Rnn.Simd.Layers;
using Rnn.Simd.Tests.Infrastructure;
using Rnn.Simd.Tests.Layers;

namespace Rnn.Simd.Tests.Determinism;

/// <summary>
/// Whole networks pinned to a constant: every cell, stacked and bidirectional, with lengths, on one and two
/// threads, hash to one SHA-256 under every CI ISA setting (DOTNET_EnableAVX512/AVX2/HWIntrinsic=0).
/// </summary>
[Trait("Category", "Determinism")]
[Trait("Isa", "All")]
public sealed class NetworkDeterminismTests
{
    /// <summary>Change only with a deliberate change of the arithmetic, and say so in the commit.</summary>
    internal const string NetworkHash = "AABDA4383D2E2C7DF2298AE34C6DFC87C80171F007F5245A8D2BAB1E867C086F";

    [Fact]
    public void NetworkOutputs_HashToTheCommittedConstant_OnOneAndTwoThreads()
    {
        using var team = new ThreadTeam(2);
        string single = Hash(null), dual = Hash(team);
        Assert.Equal(single, dual);
        Assert.True(NetworkHash == single, $"Network hash {single}, expected {NetworkHash}.");
    }

    /// <summary>SHA-256 of every architecture's outputs and final states (also SameMachineDeterminismTests' check).</summary>
    internal static string Hash(ThreadTeam? team)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        int index = 0;
        foreach (RecurrentNetworkOptions baseOptions in TestNetworks.Architectures(input: 20, hidden: 33))
        {
            foreach (RecurrentNetworkOptions o in new[] { baseOptions, baseOptions with { Bidirectional = true } })
            {
                RecurrentNetwork network = TestNetworks.Create(o, seed: (ulong)++index);
                const int steps = 9, batch = 4;
                var random = new TestRandom((ulong)index);
                float[] x = random.Array(steps * batch * o.InputSize, -3f, 3f);
                float[] y = new float[steps * batch * o.LayerOutputSize];
                float[] hN = new float[o.Layers * o.Directions * batch * o.OutputSize];
                network.Forward(x, steps, batch, y, hN: hN, lengths: [9, 4, 1, 7], threads: team);
                BitHash.Append(hash, y);
                BitHash.Append(hash, hN);
            }
        }

        return Convert.ToHexString(hash.GetHashAndReset());
    }
}
