using Rnn.Simd.Cells;
using Rnn.Simd.Layers;
using Rnn.Simd.Tests.Infrastructure;
using Rnn.Simd.Training;

namespace Rnn.Simd.Tests.Layers;

/// <summary>
/// The ONNX extras as engine options, without ONNX: the general path with the default activations named explicitly
/// computes what the fast path computes (to rounding: its operations are grouped differently), streams to the bits of
/// one call, and training refuses the extras by name. (The extras' own values are checked against a float64
/// reference through the ONNX cases.)
/// </summary>
[Trait("Category", "Layers")]
[Trait("Isa", "All")]
public sealed class ExtendedCellOptionsTests
{
    public static TheoryData<CellType, GruVariant> Cells() => new()
    {
        { CellType.Rnn, GruVariant.ResetAfter }, { CellType.Lstm, GruVariant.ResetAfter },
        { CellType.Gru, GruVariant.ResetAfter }, { CellType.Gru, GruVariant.ResetBefore },
    };

    [Theory]
    [MemberData(nameof(Cells))]
    public void ExplicitDefaultActivations_MatchTheFastPath_AndStream(CellType cell, GruVariant variant)
    {
        var fast = new RecurrentNetworkOptions { Cell = cell, GruVariant = variant, InputSize = 5, HiddenSize = 7, Layers = 2 };
        int per = cell switch { CellType.Lstm => 3, CellType.Gru => 2, _ => 1 };
        CellActivation[] defaults = [.. Enumerable.Range(0, per).Select(i => CellActivation.Of(cell == CellType.Rnn ? ActivationFunction.Tanh : i == 0 ? ActivationFunction.Sigmoid : ActivationFunction.Tanh))];
        var general = fast with { Activations = defaults };
        Dictionary<string, float[]> p = TestNetworks.PyTorchParameters(fast, 4);
        RecurrentNetwork a = RecurrentNetwork.FromPyTorch(fast, p), b = RecurrentNetwork.FromPyTorch(general, p);
        const int T = 6, B = 3;
        float[] x = new TestRandom(2).Array(T * B * 5), ya = new float[T * B * 7], yb = new float[ya.Length];
        a.Forward(x, T, B, ya);
        b.Forward(x, T, B, yb);
        for (int i = 0; i < ya.Length; i++)
        {
            Assert.True(Math.Abs(ya[i] - yb[i]) <= 2e-6, $"{i}: fast {ya[i]}, general {yb[i]}");
        }

        RecurrentState state = b.CreateState(B);
        float[] streamed = new float[yb.Length];
        for (int t = 0; t < T; t++)
        {
            b.Step(state, x.AsSpan(t * B * 5, B * 5), streamed.AsSpan(t * B * 7, B * 7));
        }

        Assert.Equal(yb, streamed);
    }

    [Fact]
    public void TheExtras_AreValidated_AndTrainingRefusesThem()
    {
        var lstm = new RecurrentNetworkOptions { Cell = CellType.Lstm, InputSize = 2, HiddenSize = 3, Peepholes = true, CellClip = 3 };
        var e = Assert.Throws<ArgumentException>(() => TrainableRecurrentNetwork.Create(lstm));
        Assert.Contains("training with them is not supported", e.Message, StringComparison.Ordinal);
        Assert.Contains(lstm.ParameterSpecs(), s => s.Name == "weight_peephole_l0" && s.Shape.SequenceEqual([9]));
        Assert.Throws<ArgumentException>(() => (lstm with { Cell = CellType.Gru }).ParameterSpecs());                      // peepholes: LSTM only
        Assert.Throws<ArgumentException>(() => (lstm with { CellClip = -1 }).ParameterSpecs());
        Assert.Throws<ArgumentException>(() => (lstm with { Activations = [CellActivation.Of(ActivationFunction.Tanh)] }).ParameterSpecs());   // 3 per direction
    }
}
