using Rnn.Simd.Cells;
using Rnn.Simd.Layers;
using Rnn.Simd.Tests.Infrastructure;

namespace Rnn.Simd.Tests.Layers;

/// <summary>Streaming (DESIGN.md §4, issue 3 item 3): chunks and steps give the bits of one whole-sequence call.</summary>
[Trait("Category", "Layers")]
[Trait("Isa", "All")]
public sealed class StreamingTests
{
    public static TheoryData<int> ArchitectureIndices() => new(Enumerable.Range(0, TestNetworks.Architectures().Count()));

    [Theory]
    [MemberData(nameof(ArchitectureIndices))]
    public void StepsAndChunks_AreBitIdentical_ToOneWholeSequenceCall(int index)
    {
        RecurrentNetworkOptions o = TestNetworks.Architectures().ElementAt(index);
        RecurrentNetwork network = TestNetworks.Create(o, seed: (ulong)index + 10);
        const int steps = 20, batch = 3;
        var random = new TestRandom(5);
        float[] x = random.Array(steps * batch * o.InputSize, -2f, 2f);
        float[] h0 = random.Array(o.Layers * batch * o.OutputSize);
        float[] c0 = o.Cell == CellType.Lstm ? random.Array(o.Layers * batch * o.HiddenSize) : [];

        float[] whole = new float[steps * batch * o.OutputSize];
        float[] hN = new float[h0.Length], cN = new float[c0.Length];
        network.Forward(x, steps, batch, whole, h0, c0, hN, cN);

        foreach (int[] chunks in new[] { new[] { 20 }, new[] { 1, 5, 3, 11 }, Enumerable.Repeat(1, 20).ToArray() })
        {
            RecurrentState state = network.CreateState(batch);
            h0.CopyTo(state.Hidden);
            c0.CopyTo(state.Cell);
            float[] streamed = new float[whole.Length];
            int t = 0;
            foreach (int chunk in chunks)
            {
                int rows = chunk * batch;
                if (chunk == 1)
                {
                    network.Step(state, x.AsSpan(t * batch * o.InputSize, rows * o.InputSize), streamed.AsSpan(t * batch * o.OutputSize, rows * o.OutputSize));
                }
                else
                {
                    network.Process(state, x.AsSpan(t * batch * o.InputSize, rows * o.InputSize), chunk, streamed.AsSpan(t * batch * o.OutputSize, rows * o.OutputSize));
                }

                t += chunk;
            }

            Assert.Equal(steps, state.Steps);
            AssertBits(whole, streamed, $"{o.Cell} chunks [{string.Join(",", chunks)}] output");
            AssertBits(hN, state.Hidden.ToArray(), "h_n");
            AssertBits(cN, state.Cell.ToArray(), "c_n");
        }
    }

    [Fact]
    public void Reset_Clone_AndCopyFrom_BehaveLikeFreshAndContinuedStreams()
    {
        RecurrentNetworkOptions o = TestNetworks.Architectures().ElementAt(2);
        RecurrentNetwork network = TestNetworks.Create(o);
        var random = new TestRandom(8);
        float[] x = random.Array(4 * o.InputSize);
        float[] y1 = new float[o.OutputSize], y2 = new float[o.OutputSize];

        RecurrentState state = network.CreateState();
        network.Step(state, x.AsSpan(0, o.InputSize), y1);
        RecurrentState snapshot = state.Clone();
        network.Step(state, x.AsSpan(o.InputSize, o.InputSize), y1);
        network.Step(snapshot, x.AsSpan(o.InputSize, o.InputSize), y2);
        AssertBits(y1, y2, "a clone continues exactly");

        state.Reset();
        RecurrentState fresh = network.CreateState();
        network.Step(state, x.AsSpan(0, o.InputSize), y1);
        network.Step(fresh, x.AsSpan(0, o.InputSize), y2);
        AssertBits(y1, y2, "a reset state is a fresh state");

        var copy = network.CreateState();
        copy.CopyFrom(snapshot);
        AssertBits(snapshot.Hidden.ToArray(), copy.Hidden.ToArray(), "CopyFrom");
        Assert.Throws<ArgumentException>(() => network.CreateState(2).CopyFrom(snapshot));
    }

    [Fact]
    public void OneNetwork_SharedByManyThreads_GivesSingleThreadBits()
    {
        RecurrentNetworkOptions o = TestNetworks.Architectures(input: 16, hidden: 32, layers: 2).ElementAt(3);
        RecurrentNetwork network = TestNetworks.Create(o);
        const int streams = 6, steps = 40;
        float[][] inputs = [.. Enumerable.Range(0, streams).Select(s => new TestRandom((ulong)s + 100).Array(steps * o.InputSize))];

        float[] RunStream(int s)
        {
            RecurrentState state = network.CreateState();
            var y = new float[steps * o.OutputSize];
            for (int t = 0; t < steps; t++)
            {
                network.Step(state, inputs[s].AsSpan(t * o.InputSize, o.InputSize), y.AsSpan(t * o.OutputSize, o.OutputSize));
            }

            return y;
        }

        float[][] expected = [.. Enumerable.Range(0, streams).Select(RunStream)];
        var results = new float[streams][];
        var threads = Enumerable.Range(0, streams).Select(s => new Thread(() =>
        {
            for (int repeat = 0; repeat < 20; repeat++)
            {
                results[s] = RunStream(s);
                if (!results[s].AsSpan().SequenceEqual(expected[s]))
                {
                    return;
                }
            }
        })).ToArray();
        foreach (Thread thread in threads)
        {
            thread.Start();
        }

        foreach (Thread thread in threads)
        {
            thread.Join();
        }

        for (int s = 0; s < streams; s++)
        {
            AssertBits(expected[s], results[s], $"stream {s} on its own thread");
        }
    }

    [Fact]
    public void BidirectionalNetwork_HasNoStreamingState()
    {
        RecurrentNetwork network = TestNetworks.Create(new RecurrentNetworkOptions { Cell = CellType.Gru, InputSize = 3, HiddenSize = 4, Bidirectional = true });
        Assert.Throws<InvalidOperationException>(() => network.CreateState());
    }

    internal static void AssertBits(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            if (BitConverter.SingleToInt32Bits(expected[i]) != BitConverter.SingleToInt32Bits(actual[i]))
            {
                Assert.Fail($"{what}: element {i} is {actual[i]:R}, expected {expected[i]:R}.");
            }
        }
    }
}
