using Rnn.Simd.Cells;
using Rnn.Simd.Layers;
using Rnn.Simd.Tests.Infrastructure;
using Rnn.Simd.Tests.Layers;
using Rnn.Simd.Training;

namespace Rnn.Simd.Tests.Training;

/// <summary>
/// <see cref="RecurrentNetworkOptions.Reverse"/> (ONNX's direction = reverse): a reverse network is the reverse half
/// of a bidirectional one with the same weights, bit for bit: outputs, final states, and every gradient of its
/// parameters and initial states; with per-sequence lengths, for every cell. It refuses streaming by name.
/// </summary>
[Trait("Category", "Training")]
[Trait("Isa", "All")]
public sealed class ReverseDirectionTests
{
    private const int T = 5, B = 3, In = 4, H = 6;

    public static TheoryData<CellType, GruVariant> Cells() => new()
    {
        { CellType.Rnn, GruVariant.ResetAfter }, { CellType.Lstm, GruVariant.ResetAfter },
        { CellType.Gru, GruVariant.ResetAfter }, { CellType.Gru, GruVariant.ResetBefore },
    };

    [Theory]
    [MemberData(nameof(Cells))]
    public void AReverseNetwork_IsTheReverseHalfOfABidirectionalOne(CellType cell, GruVariant variant)
    {
        var bi = new RecurrentNetworkOptions { Cell = cell, GruVariant = variant, InputSize = In, HiddenSize = H, Bidirectional = true };
        var rev = bi with { Bidirectional = false, Reverse = true };
        Dictionary<string, float[]> both = TestNetworks.PyTorchParameters(bi, 3);
        var reverse = both.Where(kv => kv.Key.EndsWith("_reverse", StringComparison.Ordinal)).ToDictionary(kv => kv.Key[..^"_reverse".Length], kv => kv.Value);
        bool lstm = cell == CellType.Lstm;
        var random = new TestRandom(9);
        float[] x = random.Array(T * B * In), g = random.Array(T * B * H), h0 = random.Array(B * H), c0 = lstm ? random.Array(B * H) : [];
        int[] lengths = [T, 2, 4];

        // The bidirectional network: the forward half gets zero state and zero output gradient.
        var biNet = TrainableRecurrentNetwork.FromPyTorch(bi, both);
        float[] biY = new float[T * B * 2 * H], biH0 = [.. new float[B * H], .. h0], biC0 = lstm ? [.. new float[B * H], .. c0] : [];
        float[] biHN = new float[2 * B * H], biCN = new float[lstm ? 2 * B * H : 0], biG = new float[biY.Length];
        for (int row = 0; row < T * B; row++)
        {
            g.AsSpan(row * H, H).CopyTo(biG.AsSpan((row * 2 * H) + H, H));
        }

        float[] biGradH0 = new float[biH0.Length], biGradC0 = new float[biC0.Length];
        using (RecurrentTape tape = biNet.CreateTape())
        {
            biNet.Forward(tape, x, T, B, biY, biH0, biC0, biHN, biCN, lengths);
            biNet.Backward(tape, biG, gradH0: biGradH0, gradC0: biGradC0);
        }

        var revNet = TrainableRecurrentNetwork.FromPyTorch(rev, reverse);
        float[] y = new float[T * B * H], hN = new float[B * H], cN = new float[lstm ? B * H : 0], gradH0 = new float[B * H], gradC0 = new float[c0.Length];
        using (RecurrentTape tape = revNet.CreateTape())
        {
            revNet.Forward(tape, x, T, B, y, h0, c0, hN, cN, lengths);
            revNet.Backward(tape, g, gradH0: gradH0, gradC0: gradC0);
        }

        for (int row = 0; row < T * B; row++)
        {
            Assert.Equal(biY.AsSpan((row * 2 * H) + H, H).ToArray(), y.AsSpan(row * H, H).ToArray());
        }

        Assert.Equal(biHN[(B * H)..], hN);
        Assert.Equal(biCN.Length == 0 ? [] : biCN[(B * H)..], cN);
        Assert.Equal(biGradH0[(B * H)..], gradH0);
        Assert.Equal(biGradC0.Length == 0 ? [] : biGradC0[(B * H)..], gradC0);
        foreach (string name in reverse.Keys)
        {
            Assert.Equal(biNet.Parameters.Gradient(name + "_reverse").ToArray(), revNet.Parameters.Gradient(name).ToArray());
        }

        // Inference gives training's bits.
        float[] served = new float[y.Length];
        revNet.ToInferenceNetwork().Forward(x, T, B, served, h0, c0, lengths: lengths);
        Assert.Equal(y, served);
    }

    [Fact]
    public void AReverseNetwork_RefusesToStream_AndToBeBidirectional()
    {
        var rev = new RecurrentNetworkOptions { Cell = CellType.Gru, InputSize = In, HiddenSize = H, Reverse = true };
        RecurrentNetwork network = TestNetworks.Create(rev);
        var e = Assert.Throws<InvalidOperationException>(() => network.CreateState());
        Assert.Contains("reverse network needs whole sequences", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => new TruncatedBptt(TrainableRecurrentNetwork.Create(rev), 2, 2, 1));
        Assert.Throws<ArgumentException>(() => TestNetworks.Create(rev with { Bidirectional = true }));
    }
}
