using Rnn.Simd.Cells;
using Rnn.Simd.Kernels.Threading;
using Rnn.Simd.Layers;
using Rnn.Simd.Tests.Infrastructure;
using Rnn.Simd.Training;

namespace Rnn.Simd.Tests.Training;

/// <summary>
/// Training at sizes where a team splits the batch between its threads for the whole recurrence (each thread walks
/// every step for its own sequences) and re-packs large weights on two threads: the same bits and no allocation as on
/// one thread.
/// </summary>
[Trait("Category", "Training")]
[Trait("Isa", "All")]
[Collection(NonParallelCollection.Name)]
public sealed class BatchSplitTrainingTests
{
    private const int Steps = 4, Batch = 9;

    /// <summary>Cells and shapes whose step products reach GemmBlocking.MinParallelMacs at B = 9.</summary>
    private static IEnumerable<RecurrentNetworkOptions> Networks()
    {
        yield return new() { Cell = CellType.Lstm, InputSize = 10, HiddenSize = 64 };
        yield return new() { Cell = CellType.Lstm, InputSize = 10, HiddenSize = 64, Layers = 2, Bidirectional = true };
        yield return new() { Cell = CellType.Gru, InputSize = 10, HiddenSize = 72, Reverse = true };
        yield return new() { Cell = CellType.Rnn, InputSize = 10, HiddenSize = 128, Bidirectional = true, Merge = DirectionMerge.Sum };
        yield return new() { Cell = CellType.Lstm, InputSize = 10, HiddenSize = 64, ProjectionSize = 48 };
        yield return new() { Cell = CellType.Gru, InputSize = 10, HiddenSize = 72, GruVariant = GruVariant.ResetBefore };
        yield return new() { Cell = CellType.Lstm, InputSize = 256, HiddenSize = 256 };     // weights re-packed on two threads
    }

    [Fact]
    public void Gradients_AreBitIdentical_ForOneAndTwoThreads_WithAndWithoutLengths()
    {
        using var team = new ThreadTeam(2);
        foreach (RecurrentNetworkOptions o in Networks())
        {
            foreach (int[]? lengths in new[] { null, new[] { 4, 1, 3, 4, 2, 4, 4, 3, 1 } })
            {
                using var one = new Pass(o, seed: 21, lengths);
                using var two = new Pass(o, seed: 21, lengths);
                one.Run(null);
                two.Run(team);
                Assert.Equal(Bits(one.Network.Parameters.Gradients.ToArray()), Bits(two.Network.Parameters.Gradients.ToArray()));
                Assert.Equal(Bits(one.Output), Bits(two.Output));
                Assert.Equal(Bits(one.InputGradient), Bits(two.InputGradient));
                Assert.Equal(Bits(one.StateGradient), Bits(two.StateGradient));
            }
        }
    }

    /// <summary>
    /// SHA-256 of every network's outputs and gradients (with and without lengths), pinned before the products of
    /// training changed shape (one product of [x_t | h_{t−1}] a step forward; dW_ih and dW_hh from one packing of dGᵀ,
    /// which also sums the bias gradients): the new products keep every bit, on one thread and on two.
    /// </summary>
    private const string GradientsHash = "D592E4B269CAAA0E92A01F488CA5C6CC586C8E1F5F0E49462374C09FF54D4A45";

    [Fact]
    public void Gradients_HashToTheCommittedConstant_OnOneAndTwoThreads()
    {
        using var team = new ThreadTeam(2);
        foreach (ThreadTeam? threads in new[] { null, team })
        {
            using var hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
            foreach (RecurrentNetworkOptions o in Networks())
            {
                foreach (int[]? lengths in new[] { null, new[] { 4, 1, 3, 4, 2, 4, 4, 3, 1 } })
                {
                    using var pass = new Pass(o, seed: 24, lengths);
                    pass.Run(threads);
                    BitHash.Append(hash, pass.Output);
                    BitHash.Append(hash, pass.Network.Parameters.Gradients);
                    BitHash.Append(hash, pass.InputGradient);
                    BitHash.Append(hash, pass.StateGradient);
                }
            }

            string digest = Convert.ToHexString(hash.GetHashAndReset());
            Assert.True(digest == GradientsHash, $"Gradients hash {digest} ({threads?.ThreadCount ?? 1} thread(s)), expected {GradientsHash}.");
        }
    }

    [Fact]
    public void TheTeam_IsDispatchedOncePerRecurrence_NotOncePerStep()
    {
        // LSTM H = 64 at B = 9: a step's products (9·256·64 multiply-adds) would split on their own, four dispatches a
        // step (forward and backward); split by rows, each direction's forward and backward walk is one dispatch.
        using var team = new ThreadTeam(2);
        using var pass = new Pass(Networks().First(), seed: 23, lengths: null);
        pass.Run(team);
        long before = team.Dispatches;
        pass.Run(team);
        Assert.InRange(team.Dispatches - before, 2, Steps);
    }

    [Fact]
    public void Training_AllocatesNothing_AfterWarmUp_OnOneAndTwoThreads()
    {
        using var team = new ThreadTeam(2);
        foreach (RecurrentNetworkOptions o in Networks())
        {
            using var pass = new Pass(o, seed: 22, lengths: null);
            AllocationAssert.None(() => pass.Run(null));
            AllocationAssert.None(() => pass.Run(team), team);
        }
    }

    /// <summary>One forward on a tape and one backward of given output and final-state gradients.</summary>
    private sealed class Pass : IDisposable
    {
        private readonly RecurrentTape _tape;
        private readonly float[] _x, _dy, _dhN;
        private readonly int[]? _lengths;

        public Pass(RecurrentNetworkOptions o, ulong seed, int[]? lengths)
        {
            Network = TrainableRecurrentNetwork.Create(o);
            Initializers.Apply(Network.Parameters, RecurrentInitialization.PyTorch, seed);
            _tape = Network.CreateTape();
            _lengths = lengths;
            var random = new TestRandom(seed);
            _x = random.Array(Steps * Batch * o.InputSize, -1, 1);
            _dy = random.Array(Steps * Batch * o.LayerOutputSize, -1, 1);
            int states = o.Layers * o.Directions * Batch * o.OutputSize;
            _dhN = random.Array(states, -1, 1);
            Output = new float[_dy.Length];
            InputGradient = new float[_x.Length];
            StateGradient = new float[states];
        }

        public TrainableRecurrentNetwork Network { get; }

        public float[] Output { get; }

        public float[] InputGradient { get; }

        public float[] StateGradient { get; }

        public void Run(ThreadTeam? team)
        {
            Network.Parameters.ZeroGradients();
            StateGradient.AsSpan().Clear();
            Network.Forward(_tape, _x, Steps, Batch, Output, lengths: _lengths, threads: team);
            Network.Backward(_tape, _dy, gradHN: _dhN, gradInput: InputGradient, gradH0: StateGradient, threads: team);
        }

        public void Dispose() => _tape.Dispose();
    }

    private static int[] Bits(float[] values) => [.. values.Select(BitConverter.SingleToInt32Bits)];
}
