using Rnn.Simd.Cells;
using Rnn.Simd.Kernels.Threading;
using Rnn.Simd.Layers;
using Rnn.Simd.Tests.Infrastructure;

namespace Rnn.Simd.Tests.Layers;

/// <summary>Allocation, pooling, width and argument contracts of <see cref="RecurrentNetwork"/>.</summary>
[Trait("Category", "Layers")]
[Trait("Isa", "All")]
[Collection(NonParallelCollection.Name)]
public sealed class NetworkContractTests
{
    [Fact]
    public void StepChunkAndSequenceCalls_AllocateNothing_AfterWarmUp()
    {
        using var team = new ThreadTeam(2);
        foreach (RecurrentNetworkOptions o in TestNetworks.Architectures(input: 24, hidden: 40))
        {
            RecurrentNetwork network = TestNetworks.Create(o);
            var random = new TestRandom(3);
            const int steps = 7, batch = 2;
            float[] x = random.Array(steps * batch * o.InputSize), y = new float[steps * batch * o.OutputSize];
            float[] hN = new float[o.Layers * batch * o.OutputSize], cN = o.Cell == CellType.Lstm ? new float[o.Layers * batch * o.HiddenSize] : [];
            int[] lengths = [7, 3];
            RecurrentState state = network.CreateState(batch);

            void Calls()
            {
                network.Step(state, x.AsSpan(0, batch * o.InputSize), y.AsSpan(0, batch * o.OutputSize));
                network.Process(state, x, steps, y);
                network.Forward(x, steps, batch, y, hN: hN, cN: cN, lengths: lengths);
                network.Forward(x, steps, batch, y, lengths: lengths, batchFirst: true, threads: team);
            }

            AllocationAssert.None(Calls, team);
        }
    }

    [Fact]
    public void LaneBatchCalls_AllocateNothing_AfterWarmUp_AndReturnEveryRental()
    {
        // Batches of a few panels run in lanes (DirectionLanes): their weights are packed on the first call only.
        int batch = 2 * Rnn.Simd.Kernels.Gemm.Gemm.PanelWidth(Rnn.Simd.Internal.Isa.Best);
        using var team = new ThreadTeam(2);
        foreach (RecurrentNetworkOptions o in TestNetworks.Architectures(input: 24, hidden: 70).Where(o => o.ProjectionSize == 0 && o.GruVariant == GruVariant.ResetAfter))
        {
            var pool = new TrackingArrayPool<float>();
            RecurrentNetwork network = RecurrentNetwork.FromPyTorch(o, TestNetworks.PyTorchParameters(o, 1), pool: pool);
            Assert.True(Rnn.Simd.Layers.DirectionLanes.Applies(o, batch, wholeSequences: true));
            const int steps = 9;
            float[] x = new TestRandom(4).Array(steps * batch * o.InputSize), y = new float[steps * batch * o.OutputSize];
            float[] hN = new float[o.Layers * batch * o.OutputSize], cN = o.Cell == CellType.Lstm ? new float[o.Layers * batch * o.HiddenSize] : [];

            void Calls()
            {
                network.Forward(x, steps, batch, y, hN: hN, cN: cN);
                network.Forward(x, steps, batch, y, hN: hN, cN: cN, batchFirst: true, threads: team);
            }

            AllocationAssert.None(Calls, team);
            Assert.True(pool.Rented > 0);
            Assert.Equal(0, pool.Outstanding);
        }
    }

    [Fact]
    public void EveryRental_IsReturned()
    {
        var pool = new TrackingArrayPool<float>();
        RecurrentNetworkOptions o = TestNetworks.Architectures().ElementAt(3);
        RecurrentNetwork network = RecurrentNetwork.FromPyTorch(o, TestNetworks.PyTorchParameters(o, 1), pool: pool);
        float[] x = new float[5 * 2 * o.InputSize], y = new float[5 * 2 * o.OutputSize];
        network.Forward(x, 5, 2, y);
        network.Step(network.CreateState(2), x.AsSpan(0, 2 * o.InputSize), y.AsSpan(0, 2 * o.OutputSize));
        Assert.True(pool.Rented > 0);
        Assert.Equal(0, pool.Outstanding);
    }

    [Fact]
    public void LastStepOnly_IsEachSequencesRowAtItsLastValidStep()
    {
        foreach (RecurrentNetworkOptions baseOptions in TestNetworks.Architectures())
        {
            RecurrentNetworkOptions o = baseOptions with { Bidirectional = true };
            RecurrentNetwork network = TestNetworks.Create(o);
            const int steps = 6, batch = 4;
            float[] x = new TestRandom(2).Array(steps * batch * o.InputSize);
            int[] lengths = [6, 2, 0, 5];
            float[] all = new float[steps * batch * o.LayerOutputSize], last = new float[batch * o.LayerOutputSize];
            network.Forward(x, steps, batch, all, lengths: lengths);
            network.Forward(x, steps, batch, last, lengths: lengths, lastStepOnly: true);
            for (int b = 0; b < batch; b++)
            {
                float[] expected = lengths[b] == 0 ? new float[o.LayerOutputSize] : all.AsSpan((((lengths[b] - 1) * batch) + b) * o.LayerOutputSize, o.LayerOutputSize).ToArray();
                StreamingTests.AssertBits(expected, last.AsSpan(b * o.LayerOutputSize, o.LayerOutputSize).ToArray(), $"{o.Cell} sequence {b}");
            }

            Assert.Equal("output", Assert.Throws<ArgumentException>(() => network.Forward(x, steps, batch, all, lastStepOnly: true)).ParamName);
        }
    }

    [Fact]
    public void SummedDirections_AreTheSumOfTheConcatenatedHalves()
    {
        foreach (RecurrentNetworkOptions baseOptions in TestNetworks.Architectures(layers: 1))
        {
            RecurrentNetworkOptions concat = baseOptions with { Bidirectional = true };
            RecurrentNetworkOptions sum = concat with { Merge = DirectionMerge.Sum };
            Dictionary<string, float[]> parameters = TestNetworks.PyTorchParameters(concat, 3);
            RecurrentNetwork a = RecurrentNetwork.FromPyTorch(concat, parameters), b = RecurrentNetwork.FromPyTorch(sum, parameters);
            const int steps = 5, batch = 3;
            float[] x = new TestRandom(6).Array(steps * batch * concat.InputSize);
            float[] both = new float[steps * batch * 2 * concat.OutputSize], summed = new float[steps * batch * concat.OutputSize];
            a.Forward(x, steps, batch, both, lengths: [5, 3, 1]);
            b.Forward(x, steps, batch, summed, lengths: [5, 3, 1]);
            int hOut = concat.OutputSize;
            for (int row = 0; row < steps * batch; row++)
            {
                for (int j = 0; j < hOut; j++)
                {
                    float expected = both[(row * 2 * hOut) + j] + both[(row * 2 * hOut) + hOut + j];
                    Assert.Equal(BitConverter.SingleToInt32Bits(expected), BitConverter.SingleToInt32Bits(summed[(row * hOut) + j]));
                }
            }
        }
    }

    public static TheoryData<string, Action> InvalidCalls()
    {
        var o = new RecurrentNetworkOptions { Cell = CellType.Lstm, InputSize = 3, HiddenSize = 4, Layers = 2 };
        RecurrentNetwork n = TestNetworks.Create(o);
        float[] x = new float[5 * 2 * 3], y = new float[5 * 2 * 4];
        return new TheoryData<string, Action>
        {
            { "steps", () => n.Forward(x, -1, 2, y) },
            { "batch", () => n.Forward(x, 5, 0, y) },
            { "input", () => n.Forward(new float[29], 5, 2, y) },
            { "output", () => n.Forward(x, 5, 2, new float[39]) },
            { "h0", () => n.Forward(x, 5, 2, y, h0: new float[15]) },
            { "c0", () => n.Forward(x, 5, 2, y, c0: new float[17]) },
            { "hN", () => n.Forward(x, 5, 2, y, hN: new float[1]) },
            { "cN", () => n.Forward(x, 5, 2, y, cN: new float[1]) },
            { "lengths", () => n.Forward(x, 5, 2, y, lengths: new[] { 5 }) },
            { "lengths", () => n.Forward(x, 5, 2, y, lengths: new[] { 6, 1 }) },
            { "lengths", () => n.Forward(x, 5, 2, y, lengths: new[] { -1, 1 }) },
            { "state", () => n.Step(TestNetworks.Create(o with { HiddenSize = 5 }).CreateState(), x.AsSpan(0, 3), y.AsSpan(0, 4)) },
            { "batch", () => n.CreateState(0) },
            { "options", () => TestNetworks.Create(o with { HiddenSize = 0 }) },
            { "options", () => TestNetworks.Create(o with { Cell = CellType.Gru, ProjectionSize = 2 }) },
            { "options", () => TestNetworks.Create(o with { ProjectionSize = 4 }) },
            { "parameters", () => RecurrentNetwork.FromPyTorch(o, new Dictionary<string, float[]>()) },
            { "parameters", () => RecurrentNetwork.FromPyTorch(o, TestNetworks.PyTorchParameters(o with { InputSize = 4 }, 1)) },
        };
    }

    [Theory]
    [MemberData(nameof(InvalidCalls))]
    public void InvalidArguments_ThrowArgumentException_NamingTheParameter(string parameter, Action call)
    {
        ArgumentException error = Assert.ThrowsAny<ArgumentException>(call);
        Assert.Equal(parameter, error.ParamName);
    }
}
