using Rnn.Simd.IO;
using Rnn.Simd.Layers;
using Rnn.Simd.Tests.Infrastructure;

namespace Rnn.Simd.Tests.Layers;

[Trait("Category", "Layers")]
[Trait("Isa", "All")]
public sealed class StateSerializationTests
{
    [Fact]
    public void AStreamMovedThroughBytes_ContinuesBitForBit()
    {
        foreach (RecurrentNetworkOptions o in TestNetworks.Architectures())
        {
            RecurrentNetwork network = TestNetworks.Create(o, seed: 4);
            var random = new TestRandom(9);
            float[] x = random.Array(10 * 2 * o.InputSize);
            float[] expected = new float[5 * 2 * o.OutputSize], actual = new float[expected.Length], head = new float[expected.Length];

            RecurrentState original = network.CreateState(2);
            network.Process(original, x.AsSpan(0, 5 * 2 * o.InputSize), 5, head);
            using var bytes = new MemoryStream();
            RecurrentStateSerializer.Save(original, bytes);
            network.Process(original, x.AsSpan(5 * 2 * o.InputSize), 5, expected);

            bytes.Position = 0;
            RecurrentNetwork elsewhere = TestNetworks.Create(o, seed: 4);   // "another process": a network rebuilt from the same weights
            RecurrentState moved = RecurrentStateSerializer.Load(elsewhere, bytes);
            Assert.Equal(5, moved.Steps);
            elsewhere.Process(moved, x.AsSpan(5 * 2 * o.InputSize), 5, actual);
            StreamingTests.AssertBits(expected, actual, $"{o.Cell} continued after a move");
        }
    }

    [Fact]
    public void AStateOfAnotherArchitecture_OrGarbage_IsInvalidData()
    {
        RecurrentNetworkOptions o = TestNetworks.Architectures().ElementAt(2);
        RecurrentNetwork network = TestNetworks.Create(o);
        using var bytes = new MemoryStream();
        RecurrentStateSerializer.Save(network.CreateState(), bytes);

        bytes.Position = 0;
        Assert.Throws<InvalidDataException>(() => RecurrentStateSerializer.Load(TestNetworks.Create(o with { HiddenSize = 10 }), bytes));
        Assert.Throws<InvalidDataException>(() => RecurrentStateSerializer.Load(network, new MemoryStream(bytes.ToArray()[..20])));
        Assert.Throws<InvalidDataException>(() => RecurrentStateSerializer.Load(network, new MemoryStream(new byte[64])));
    }
}
