using Rnn.Simd.Cells;
using Rnn.Simd.Layers;
using Rnn.Simd.Networks;
using Rnn.Simd.Tests.Infrastructure;
using Rnn.Simd.Tests.Reference;
using Rnn.Simd.Tests.Training;
using Rnn.Simd.Training;
using Xunit.Abstractions;

namespace Rnn.Simd.Tests.Networks;

/// <summary>
/// Each generative model's loss gradient w.r.t. every parameter against central differences of a double-precision
/// reference (<see cref="ModelReference"/> around <see cref="ReferenceRecurrent"/>); tolerances: <see cref="FiniteDifference"/>.
/// </summary>
[Trait("Category", "Networks")]
public sealed class GenerativeGradientTests(ITestOutputHelper output)
{
    private const int Steps = 3, Batch = 2;

    [Theory]
    [InlineData(CellType.Lstm, 0, 1)]
    [InlineData(CellType.Lstm, 3, 2)]
    [InlineData(CellType.Gru, 0, 2)]
    [InlineData(CellType.Rnn, 0, 1)]
    public void LanguageModel_ChunkGradient_FromACarriedState_MatchesCentralDifferences(CellType cell, int projection, int layers)
    {
        var options = new LanguageModelOptions { VocabularySize = 5, EmbeddingSize = 3, Recurrent = new RecurrentNetworkOptions { HiddenSize = 4, Cell = cell, ProjectionSize = projection, Layers = layers } };
        using var model = LanguageModel.Create(options);
        ModelReference.Randomize(model.Parameters, 3);
        var random = new TestRandom(9);
        int[] first = ModelReference.Tokens(random, Steps * Batch, 0, 5);
        int[] tokens = ModelReference.Tokens(random, Steps * Batch, 0, 5);
        int[] targets = ModelReference.Tokens(random, Steps * Batch, 0, 5);
        targets[1] = Losses.DefaultIgnoreIndex;

        // The first chunk leaves a non-zero carried state; the second is checked.
        model.ForwardBackward(first, Steps, Batch, first);
        double[] h0 = FiniteDifference.ToDouble(model.CarriedHidden), c0 = FiniteDifference.ToDouble(model.CarriedCell);
        model.Parameters.ZeroGradients();
        double loss = model.ForwardBackward(tokens, Steps, Batch, targets).Loss;

        RecurrentNetworkOptions stack = options.Stack;
        Dictionary<string, double[]> p = ModelReference.Doubles(model.Parameters);
        Dictionary<string, double[]> rnn = ModelReference.Module(p, "rnn.");
        double Loss()
        {
            double[] x = ModelReference.Embed(p["embedding.weight"], 3, tokens);
            double[] y = ReferenceRecurrent.Forward(stack, rnn, x, Steps, Batch, h0, cell == CellType.Lstm ? c0 : null).Output;
            double[] logits = ModelReference.Dense(p["head.weight"], p["head.bias"], y, Steps * Batch, stack.OutputSize, 5);
            return ModelReference.CrossEntropy(logits, 5, targets);
        }

        Assert.Equal(Loss(), loss, 1e-5);
        ModelReference.CheckEveryTensor(output, $"LM {cell}", model.Parameters, p, Loss);
    }

    [Theory]
    [InlineData(CellType.Lstm)]
    [InlineData(CellType.Gru)]
    public void EncoderDecoder_Gradient_ThroughTheBridgeIntoTheEncoder_MatchesCentralDifferences(CellType cell)
    {
        const int sourceSteps = 4, targetSteps = 3, vs = 6, vt = 7, e = 3;
        var options = new EncoderDecoderOptions
        {
            SourceVocabularySize = vs,
            TargetVocabularySize = vt,
            EmbeddingSize = e,
            PadToken = 0,
            BosToken = 1,
            EosToken = 2,
            Recurrent = new RecurrentNetworkOptions { HiddenSize = 4, Cell = cell, Layers = 2 },
        };
        using var model = EncoderDecoder.Create(options);
        ModelReference.Randomize(model.Parameters, 5);
        var random = new TestRandom(21);
        int[] source = ModelReference.Tokens(random, sourceSteps * Batch, 0, vs);
        int[] lengths = [4, 2];
        int[] target = [3, 4, 5, 2, 2, 0];   // [T, B]: sequence 1 ends after one token (EOS, then PAD)
        double loss = model.ForwardBackward(source, sourceSteps, target, targetSteps, Batch, lengths).Loss;

        RecurrentNetworkOptions stack = options.Stack;
        Dictionary<string, double[]> p = ModelReference.Doubles(model.Parameters);
        Dictionary<string, double[]> encoder = ModelReference.Module(p, "encoder."), decoder = ModelReference.Module(p, "decoder.");
        int[] decoderInputs = [1, 1, 3, 4, 5, 2];
        int[] lossTargets = [3, 4, 5, 2, 2, Losses.DefaultIgnoreIndex];
        double Loss()
        {
            double[] xs = ModelReference.Embed(p["source_embedding.weight"], e, source);
            ReferenceRecurrent.Result encoded = ReferenceRecurrent.Forward(stack, encoder, xs, sourceSteps, Batch, lengths: lengths);
            double[] xt = ModelReference.Embed(p["target_embedding.weight"], e, decoderInputs);
            double[] y = ReferenceRecurrent.Forward(stack, decoder, xt, targetSteps, Batch, encoded.HN, cell == CellType.Lstm ? encoded.CN : null).Output;
            double[] logits = ModelReference.Dense(p["head.weight"], p["head.bias"], y, targetSteps * Batch, stack.OutputSize, vt);
            return ModelReference.CrossEntropy(logits, vt, lossTargets);
        }

        Assert.Equal(Loss(), loss, 1e-5);
        Assert.Contains(model.Parameters.Gradient("encoder.weight_hh_l0").ToArray(), g => g != 0);
        ModelReference.CheckEveryTensor(output, $"ED {cell}", model.Parameters, p, Loss);
    }

    [Fact]
    public void Forecaster_ChunkGradient_FromACarriedState_MatchesCentralDifferences()
    {
        const int x = 2;
        var options = new ForecasterOptions { InputSize = x, Recurrent = new RecurrentNetworkOptions { HiddenSize = 5, Cell = CellType.Lstm, Layers = 2 } };
        using var model = Forecaster.Create(options);
        ModelReference.Randomize(model.Parameters, 8);
        var random = new TestRandom(4);
        float[] first = random.Array(Steps * Batch * x), inputs = random.Array(Steps * Batch * x), targets = random.Array(Steps * Batch * x);
        model.ForwardBackward(first, Steps, Batch, first);
        double[] h0 = FiniteDifference.ToDouble(model.CarriedHidden), c0 = FiniteDifference.ToDouble(model.CarriedCell);
        model.Parameters.ZeroGradients();
        double loss = model.ForwardBackward(inputs, Steps, Batch, targets).Loss;

        RecurrentNetworkOptions stack = options.Stack;
        Dictionary<string, double[]> p = ModelReference.Doubles(model.Parameters);
        Dictionary<string, double[]> rnn = ModelReference.Module(p, "rnn.");
        double[] xd = FiniteDifference.ToDouble(inputs);
        double Loss()
        {
            double[] y = ReferenceRecurrent.Forward(stack, rnn, xd, Steps, Batch, h0, c0).Output;
            return ModelReference.MeanSquaredError(ModelReference.Dense(p["head.weight"], p["head.bias"], y, Steps * Batch, stack.OutputSize, x), targets);
        }

        Assert.Equal(Loss(), loss, 1e-5);
        ModelReference.CheckEveryTensor(output, "Forecaster", model.Parameters, p, Loss);
    }
}
