using Rnn.Simd.Cells;
using Rnn.Simd.Kernels.Threading;
using Rnn.Simd.Layers;
using Rnn.Simd.Tests.Infrastructure;
using Rnn.Simd.Tests.Layers;
using Rnn.Simd.Training;

namespace Rnn.Simd.Tests.Training;

/// <summary>A whole training step (forward, loss, backward, clipping, optimiser): allocation, determinism, the non-finite guard.</summary>
[Trait("Category", "Training")]
[Trait("Isa", "All")]
[Collection(NonParallelCollection.Name)]
public sealed class TrainingStepTests
{
    [Fact]
    public void TrainingStep_AllocatesNothing_AfterWarmUp_OnOneAndTwoThreads()
    {
        using var team = new ThreadTeam(2);
        foreach (RecurrentNetworkOptions o in TestNetworks.Architectures(input: 5, hidden: 12))
        {
            using var step = new Step(o, seed: 3);
            AllocationAssert.None(() => step.Run(null), team);
            AllocationAssert.None(() => step.Run(team), team);
        }
    }

    [Fact]
    public void TrainingRuns_AreBitIdentical_ForOneAndTwoThreads()
    {
        using var team = new ThreadTeam(2);
        foreach (RecurrentNetworkOptions o in TestNetworks.Architectures(input: 5, hidden: 12))
        {
            using var one = new Step(o, seed: 4);
            using var two = new Step(o, seed: 4);
            for (int i = 0; i < 5; i++)
            {
                one.Run(null);
                two.Run(team);
            }

            Assert.Equal(Bits(one.Network.Parameters.Values.ToArray()), Bits(two.Network.Parameters.Values.ToArray()));
        }
    }

    /// <summary>SHA-256 of every architecture's weights after five training steps (CI checks it at every vector width).</summary>
    private const string TrainedWeightsHash = "55725176D1D293061A7B6838378D7B0BA053F5C859B481234BA361A05DE3D5BF";

    [Fact]
    public void TrainingRuns_GiveTheSameWeights_AtEveryVectorWidth()
    {
        using var hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        foreach (RecurrentNetworkOptions o in TestNetworks.Architectures(input: 5, hidden: 12))
        {
            using var step = new Step(o, seed: 6);
            for (int i = 0; i < 5; i++)
            {
                step.Run(null);
            }

            BitHash.Append(hash, step.Network.Parameters.Values);
        }

        string digest = Convert.ToHexString(hash.GetHashAndReset());
        Assert.True(digest == TrainedWeightsHash, $"Trained weights hash {digest}, expected {TrainedWeightsHash}.");
    }

    [Fact]
    public void NonFiniteGradient_NeverReachesTheWeights()
    {
        var o = new RecurrentNetworkOptions { Cell = CellType.Lstm, InputSize = 3, HiddenSize = 4 };
        var network = TrainableRecurrentNetwork.FromPyTorch(o, TestNetworks.PyTorchParameters(o, 1));
        float[] before = network.Parameters.Values.ToArray();
        var skip = new Trainer(network.Parameters, new Adam(0.01), new TrainerOptions { MaxGradientNorm = 1 });
        network.Parameters.Gradients[7] = float.NaN;
        UpdateResult result = skip.Update();
        Assert.False(result.Applied);
        Assert.True(double.IsNaN(result.GradientNorm));
        Assert.Equal(1, skip.UpdatesSkipped);
        Assert.Equal(before, network.Parameters.Values.ToArray());
        Assert.All(network.Parameters.Gradients.ToArray(), g => Assert.Equal(0f, g));

        var strict = new Trainer(network.Parameters, new Sgd(0.1), new TrainerOptions { OnNonFiniteGradient = NonFiniteGradientPolicy.Throw });
        network.Parameters.Gradients[0] = float.PositiveInfinity;
        Assert.Throws<InvalidOperationException>(() => strict.Update());
        Assert.Equal(before, network.Parameters.Values.ToArray());

        // Finite gradients: applied, clipped, then cleared; the network re-packs before its next forward.
        network.Parameters.Gradients.Fill(100f);
        UpdateResult applied = new Trainer(network.Parameters, new Sgd(0.1), new TrainerOptions { MaxGradientNorm = 1 }).Update();
        Assert.True(applied.Applied);
        Assert.Equal(100.0 * Math.Sqrt(network.Parameters.Length), applied.GradientNorm, 6);
        float moved = before[0] - network.Parameters.Values[0];
        Assert.Equal(0.1 / Math.Sqrt(network.Parameters.Length), moved, 5);
        Assert.All(network.Parameters.Gradients.ToArray(), g => Assert.Equal(0f, g));
    }

    [Fact]
    public void Forward_AfterAnUpdate_UsesTheNewWeights_AndAStaleTapeIsRefused()
    {
        var o = new RecurrentNetworkOptions { Cell = CellType.Gru, InputSize = 3, HiddenSize = 4 };
        var network = TrainableRecurrentNetwork.FromPyTorch(o, TestNetworks.PyTorchParameters(o, 1));
        float[] x = new TestRandom(2).Array(2 * 3, -1, 1);
        var y = new float[2 * 4];
        using RecurrentTape tape = network.CreateTape();
        network.Forward(tape, x, 2, 1, y);
        network.Parameters.Gradients.Fill(1f);
        new Trainer(network.Parameters, new Sgd(0.5)).Update();
        Assert.Throws<InvalidOperationException>(() => network.Backward(tape, y));

        var fresh = new float[y.Length];
        network.Forward(tape, x, 2, 1, fresh);
        var expected = new float[y.Length];
        network.ToInferenceNetwork().Forward(x, 2, 1, expected);
        Assert.Equal(expected, fresh);
        Assert.NotEqual(y, fresh);
    }

    /// <summary>A many-to-many step: forward on a tape, MSE against targets, backward, clip, Adam.</summary>
    internal sealed class Step : IDisposable
    {
        private const int Steps = 7, Batch = 3;
        private readonly RecurrentTape _tape;
        private readonly Trainer _trainer;
        private readonly float[] _x, _target, _y, _dy, _gradInput;
        private readonly int[] _lengths = [7, 4, 6];

        public Step(RecurrentNetworkOptions o, ulong seed)
        {
            Network = TrainableRecurrentNetwork.Create(o);
            Initializers.Apply(Network.Parameters, RecurrentInitialization.PyTorch, seed);
            _tape = Network.CreateTape();
            _trainer = new Trainer(Network.Parameters, new Adam(0.01), new TrainerOptions { MaxGradientNorm = 1.0 });
            var random = new TestRandom(seed);
            _x = random.Array(Steps * Batch * o.InputSize, -1, 1);
            _target = random.Array(Steps * Batch * o.LayerOutputSize, -1, 1);
            _y = new float[_target.Length];
            _dy = new float[_target.Length];
            _gradInput = new float[_x.Length];
        }

        public TrainableRecurrentNetwork Network { get; }

        public void Run(ThreadTeam? team)
        {
            Network.Forward(_tape, _x, Steps, Batch, _y, lengths: _lengths, threads: team);
            Losses.MeanSquaredError(_y, _target, _dy);
            Network.Backward(_tape, _dy, gradInput: _gradInput, threads: team);
            _trainer.Update();
        }

        public void Dispose() => _tape.Dispose();
    }

    private static int[] Bits(float[] values) => [.. values.Select(BitConverter.SingleToInt32Bits)];
}
