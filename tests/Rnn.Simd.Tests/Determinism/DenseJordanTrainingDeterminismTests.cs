using System.Security.Cryptography;
using Rnn.Simd.Kernels.Threading;
using Rnn.Simd.Layers;
using Rnn.Simd.Tests.Infrastructure;
using Rnn.Simd.Training;

namespace Rnn.Simd.Tests.Determinism;

/// <summary>
/// Training of the dense layer (every activation) and the Jordan network (teacher forcing 0, ½, 1) pinned to a
/// constant: outputs and every gradient, on one and two threads, hash to one SHA-256 under every CI ISA setting
/// (DOTNET_EnableAVX512/AVX2/HWIntrinsic=0).
/// </summary>
[Trait("Category", "Determinism")]
[Trait("Isa", "All")]
public sealed class DenseJordanTrainingDeterminismTests
{
    /// <summary>Change only with a deliberate change of the arithmetic, and say so in the commit.</summary>
    private const string TrainingHash = "5945589963229E87885C99649426E5F6BCD67FB706D9197A4C61DBD8974D02BB";

    [Fact]
    public void OutputsAndGradients_HashToTheCommittedConstant_OnOneAndTwoThreads()
    {
        using var team = new ThreadTeam(2);
        string single = Hash(null), dual = Hash(team);
        Assert.Equal(single, dual);
        Assert.True(TrainingHash == single, $"Training hash {single}, expected {TrainingHash}.");
    }

    private static string Hash(ThreadTeam? team)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        ulong seed = 0;
        foreach (OutputActivation activation in Enum.GetValues<OutputActivation>())
        {
            const int inputs = 37, outputs = 29, rows = 150;
            TrainableDenseLayer layer = TrainableDenseLayer.Create(inputs, outputs, activation);
            var random = new TestRandom(++seed);
            random.Fill(layer.Parameters.Values, -0.3f, 0.3f);
            layer.Parameters.MarkChanged();
            float[] z = random.Array(rows * inputs, -2f, 2f), g = random.Array(rows * outputs);
            float[] y = new float[g.Length], dz = new float[z.Length];
            layer.Forward(z, rows, y, team);
            layer.Backward(z, y, g, rows, dz, team);
            BitHash.Append(hash, y);
            BitHash.Append(hash, dz);
            BitHash.Append(hash, layer.Parameters.Gradients);
        }

        foreach (double ratio in new[] { 0.0, 0.5, 1.0 })
        {
            const int steps = 13, batch = 11;
            var o = new JordanNetworkOptions { InputSize = 31, HiddenSize = 45, OutputSize = 17, OutputActivation = OutputActivation.Softmax };
            TrainableJordanNetwork network = TrainableJordanNetwork.Create(o);
            var random = new TestRandom(++seed);
            random.Fill(network.Parameters.Values, -0.3f, 0.3f);
            network.Parameters.MarkChanged();
            float[] x = random.Array(steps * batch * 31, -2f, 2f), targets = random.Array(steps * batch * 17, 0f, 1f);
            float[] g = random.Array(steps * batch * 17), initial = random.Array(batch * 17);
            float[] y = new float[g.Length], dx = new float[x.Length], dy0 = new float[initial.Length];
            using JordanTape tape = network.CreateTape();
            network.Forward(tape, x, steps, batch, y, targets, ratio, seed, initial, threads: team);
            network.Backward(tape, g, dx, dy0, team);
            BitHash.Append(hash, y);
            BitHash.Append(hash, dx);
            BitHash.Append(hash, dy0);
            BitHash.Append(hash, network.Parameters.Gradients);
        }

        return Convert.ToHexString(hash.GetHashAndReset());
    }
}
