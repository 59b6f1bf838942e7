using Rnn.Simd.Cells;
using Rnn.Simd.Layers;
using Rnn.Simd.Tests.Infrastructure;
using Rnn.Simd.Tests.Layers;
using Rnn.Simd.Training;

namespace Rnn.Simd.Tests.Training;

/// <summary>Truncated BPTT: the sliding window, the carried state, and its agreement with plain forward/backward calls.</summary>
[Trait("Category", "Training")]
[Trait("Isa", "All")]
public sealed class TruncatedBpttTests
{
    public static TheoryData<int, int, int> Windows() => new()
    {
        { 0, 1, 1 }, { 2, 2, 4 }, { 4, 3, 3 }, { 2, 4, 7 }, { 5, 1, 3 },
    };

    [Theory]
    [MemberData(nameof(Windows))]
    public void StreamedOutputs_EqualOneWholeForward_BitForBit(int architecture, int k1, int k2)
    {
        RecurrentNetworkOptions o = TestNetworks.Architectures(input: 3, hidden: 5).ElementAt(architecture);
        var network = TrainableRecurrentNetwork.FromPyTorch(o, TestNetworks.PyTorchParameters(o, 7));
        const int batch = 2, steps = 13;
        float[] x = new TestRandom(3).Array(steps * batch * o.InputSize, -1, 1);
        var whole = new float[steps * batch * o.OutputSize];
        var hN = new float[o.Layers * batch * o.OutputSize];
        network.ToInferenceNetwork().Forward(x, steps, batch, whole, hN: hN);

        using var tbptt = new TruncatedBptt(network, k1, k2, batch);
        var streamed = new float[whole.Length];
        int inRow = batch * o.InputSize, outRow = batch * o.OutputSize;
        for (int t = 0; t < steps; t += k1)
        {
            int n = Math.Min(k1, steps - t);
            tbptt.Forward(x.AsSpan(t * inRow, n * inRow), n, streamed.AsSpan(t * outRow, n * outRow));
            tbptt.Backward(new float[n * outRow]);
        }

        Assert.Equal(Bits(whole), Bits(streamed));
        Assert.Equal(Bits(hN), Bits(tbptt.Hidden.ToArray()));
    }

    [Fact]
    public void EachUpdate_IsABackwardOverTheWindow_FromTheCarriedState()
    {
        RecurrentNetworkOptions o = TestNetworks.Architectures(input: 3, hidden: 5).ElementAt(2);   // LSTM, 2 layers
        var parameters = TestNetworks.PyTorchParameters(o, 11);
        var driven = TrainableRecurrentNetwork.FromPyTorch(o, parameters);
        var manual = TrainableRecurrentNetwork.FromPyTorch(o, parameters);
        const int batch = 2, k1 = 2, k2 = 5, steps = 11;
        var random = new TestRandom(5);
        float[] x = random.Array(steps * batch * o.InputSize, -1, 1);
        float[] g = random.Array(steps * batch * o.OutputSize, -1, 1);
        int inRow = batch * o.InputSize, outRow = batch * o.OutputSize, stateSize = o.Layers * batch * o.OutputSize, cellSize = o.Layers * batch * o.HiddenSize;

        // Manual: the states after every step of one whole pass are the window starts.
        var stateH = new float[steps + 1][];
        var stateC = new float[steps + 1][];
        stateH[0] = new float[stateSize];
        stateC[0] = new float[cellSize];
        RecurrentNetwork inference = manual.ToInferenceNetwork();
        RecurrentState stream = inference.CreateState(batch);
        for (int t = 0; t < steps; t++)
        {
            inference.Step(stream, x.AsSpan(t * inRow, inRow), new float[outRow]);
            stateH[t + 1] = stream.Hidden.ToArray();
            stateC[t + 1] = stream.Cell.ToArray();
        }

        using var tbptt = new TruncatedBptt(driven, k1, k2, batch);
        using RecurrentTape tape = manual.CreateTape();
        for (int end = k1; end <= steps; end += k1)
        {
            driven.Parameters.ZeroGradients();
            manual.Parameters.ZeroGradients();
            tbptt.Forward(x.AsSpan((end - k1) * inRow, k1 * inRow), k1, new float[k1 * outRow]);
            tbptt.Backward(g.AsSpan((end - k1) * outRow, k1 * outRow));

            int start = Math.Max(0, end - k2), n = end - start;
            var gradWindow = new float[n * outRow];
            g.AsSpan((end - k1) * outRow, k1 * outRow).CopyTo(gradWindow.AsSpan((n - k1) * outRow));
            manual.Forward(tape, x.AsSpan(start * inRow, n * inRow), n, batch, new float[n * outRow], stateH[start], stateC[start]);
            manual.Backward(tape, gradWindow);
            Assert.Equal(Bits(manual.Parameters.Gradients.ToArray()), Bits(driven.Parameters.Gradients.ToArray()));
        }
    }

    [Fact]
    public void InvalidUse_IsRejected()
    {
        var bidirectional = TrainableRecurrentNetwork.Create(new RecurrentNetworkOptions { Cell = CellType.Gru, InputSize = 2, HiddenSize = 3, Bidirectional = true });
        Assert.Equal("network", Assert.Throws<ArgumentException>(() => new TruncatedBptt(bidirectional, 2, 2, 1)).ParamName);
        var network = TrainableRecurrentNetwork.Create(new RecurrentNetworkOptions { Cell = CellType.Gru, InputSize = 2, HiddenSize = 3 });
        Assert.Equal("k2", Assert.Throws<ArgumentOutOfRangeException>(() => new TruncatedBptt(network, 3, 2, 1)).ParamName);
        Assert.Equal("k1", Assert.Throws<ArgumentOutOfRangeException>(() => new TruncatedBptt(network, 0, 2, 1)).ParamName);
        using var tbptt = new TruncatedBptt(network, 2, 3, 1);
        Assert.Throws<InvalidOperationException>(() => tbptt.Backward(new float[6]));
        Assert.Equal("steps", Assert.Throws<ArgumentOutOfRangeException>(() => tbptt.Forward(new float[6], 3, new float[9])).ParamName);
        Assert.Equal("x", Assert.Throws<ArgumentException>(() => tbptt.Forward(new float[5], 2, new float[6])).ParamName);
    }

    [Fact]
    public void HiddenGradientNorms_AreTheNormsOfDlDh()
    {
        var o = new RecurrentNetworkOptions { Cell = CellType.Rnn, InputSize = 3, HiddenSize = 4 };
        var network = TrainableRecurrentNetwork.FromPyTorch(o, TestNetworks.PyTorchParameters(o, 2));
        const int steps = 5, batch = 2;
        float[] x = new TestRandom(9).Array(steps * batch * 3, -1, 1);
        var gradOutput = new float[steps * batch * 4];
        gradOutput.AsSpan((steps - 1) * batch * 4).Fill(0.5f);     // loss on the last step only
        using RecurrentTape tape = network.CreateTape();
        network.Forward(tape, x, steps, batch, new float[gradOutput.Length]);
        var norms = new float[steps];
        network.Backward(tape, gradOutput, hiddenGradientNorms: norms);
        Assert.Equal(MathF.Sqrt(8 * 0.25f), norms[steps - 1], 6);
        for (int t = 0; t < steps - 1; t++)
        {
            Assert.True(norms[t] > 0 && float.IsFinite(norms[t]));
        }

        Assert.Equal("hiddenGradientNorms", Assert.Throws<ArgumentException>(() => network.Backward(tape, gradOutput, hiddenGradientNorms: new float[3])).ParamName);
    }

    private static int[] Bits(float[] values) => [.. values.Select(BitConverter.SingleToInt32Bits)];
}
