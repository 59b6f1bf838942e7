using Rnn.Simd.Cells;
using Rnn.Simd.Import.Onnx;
using Rnn.Simd.Layers;
using Rnn.Simd.Networks;
using Rnn.Simd.Training;

namespace Rnn.Simd.Tests.Training;

/// <summary>
/// What trains with the options ONNX brought (issue 18): the reverse-only direction trains (ReverseDirectionTests);
/// peepholes, the cell clip, the coupled input-forget gate and chosen activations do not. Each of them, alone or
/// together, on every cell that takes it, is refused with an ArgumentException naming the option, by the trainable
/// network and by the usage-pattern models built on it, and so is the network of an ONNX model that uses them.
/// </summary>
[Trait("Category", "Training")]
public sealed class OnnxExtrasTrainingTests
{
    public static TheoryData<string, CellType> Extras() => new()
    {
        { "Peepholes", CellType.Lstm },
        { "CellClip", CellType.Lstm },
        { "CellClip", CellType.Gru },
        { "CellClip", CellType.Rnn },
        { "CoupledInputForget", CellType.Lstm },
        { "Activations", CellType.Lstm },
        { "Activations", CellType.Gru },
        { "Activations", CellType.Rnn },
    };

    [Theory]
    [MemberData(nameof(Extras))]
    public void EachExtra_IsRefusedByTrainingByName(string extra, CellType cell)
    {
        var plain = new RecurrentNetworkOptions { Cell = cell, InputSize = 3, HiddenSize = 4 };
        RecurrentNetworkOptions options = With(plain, extra);
        options.Validate("options");   // a valid inference network
        ArgumentException e = Assert.Throws<ArgumentException>(() => TrainableRecurrentNetwork.Create(options));
        Assert.Equal("options", e.ParamName);
        Assert.Contains($"{extra} is an inference option", e.Message, StringComparison.Ordinal);
        Assert.Contains("training with them is not supported", e.Message, StringComparison.Ordinal);

        // The models of the usage patterns train on the same network: refused at construction too.
        e = Assert.Throws<ArgumentException>(() => SequenceClassifier.Create(new SequenceClassifierOptions { InputSize = 3, Classes = 2, Recurrent = options with { InputSize = 0 } }, seed: 1));
        Assert.Contains($"{extra} is an inference option", e.Message, StringComparison.Ordinal);

        // Without the extra the same network trains (the refusal is the extra's, not the cell's).
        Assert.NotNull(TrainableRecurrentNetwork.Create(plain));
    }

    [Fact]
    public void SeveralExtras_AreNamedTogether()
    {
        var options = new RecurrentNetworkOptions { Cell = CellType.Lstm, InputSize = 2, HiddenSize = 3, Peepholes = true, CellClip = 3, CoupledInputForget = true };
        ArgumentException e = Assert.Throws<ArgumentException>(() => TrainableRecurrentNetwork.Create(options));
        Assert.Contains("CellClip and CoupledInputForget and Peepholes are inference options", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AnOnnxModelsNetworkWithExtras_IsRefusedByTraining()
    {
        OnnxRecurrentLayer layer = OnnxRecurrentLayer.Load(Path.Combine(AppContext.BaseDirectory, "GoldenOnnx", "lstm_peepholes_clip_bidir_lens", "model.onnx"));
        ArgumentException e = Assert.Throws<ArgumentException>(() => TrainableRecurrentNetwork.Create(layer.Network.Options));
        Assert.Contains("CellClip and Peepholes are inference options", e.Message, StringComparison.Ordinal);
    }

    private static RecurrentNetworkOptions With(RecurrentNetworkOptions o, string extra) => extra switch
    {
        "Peepholes" => o with { Peepholes = true },
        "CellClip" => o with { CellClip = 2.5f },
        "CoupledInputForget" => o with { CoupledInputForget = true },
        _ => o with
        {
            Activations = o.Cell switch
            {
                CellType.Lstm => [CellActivation.Of(ActivationFunction.HardSigmoid), CellActivation.Of(ActivationFunction.Softsign), CellActivation.Of(ActivationFunction.Tanh)],
                CellType.Gru => [CellActivation.Of(ActivationFunction.Sigmoid), CellActivation.Of(ActivationFunction.Elu)],
                _ => [CellActivation.Of(ActivationFunction.LeakyRelu)],
            },
        },
    };
}
