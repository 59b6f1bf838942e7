using Rnn.Simd.Cells;
using Rnn.Simd.Layers;
using Rnn.Simd.Networks;

namespace Rnn.Simd.Tests.Networks;

/// <summary>Every model has the same shape: Recurrent options, Create(options, seed), ForwardBackward → TrainingResult, a public snapshot, one stream type.</summary>
[Trait("Category", "Networks")]
public sealed class OneModelApiTests
{
    private static readonly RecurrentNetworkOptions Gru = new() { Cell = CellType.Gru, HiddenSize = 6 };

    [Fact]
    public void EveryModel_IsCreatedFromASeed_TheSameSeedGivingTheSameWeights()
    {
        SequenceModelOptions[] all =
        [
            new SequenceClassifierOptions { VocabularySize = 5, EmbeddingSize = 3, Classes = 2, Recurrent = Gru },
            new SequenceTaggerOptions { InputSize = 2, Classes = 3, Recurrent = Gru },
            new LanguageModelOptions { VocabularySize = 5, EmbeddingSize = 3, Recurrent = Gru },
            new ForecasterOptions { InputSize = 2, Recurrent = Gru },
            new EncoderDecoderOptions { SourceVocabularySize = 5, TargetVocabularySize = 6, EmbeddingSize = 3, Recurrent = Gru },
        ];
        foreach (SequenceModelOptions options in all)
        {
            Assert.Equal(Gru.Cell, options.Stack.Cell);
            Assert.Equal(options.StepFeatures, options.Stack.InputSize);
            float[] a = Create(options, 3), b = Create(options, 3), zeros = Create(options, null);
            Assert.Equal(a, b);
            Assert.NotEqual(a, Create(options, 4));
            Assert.All(zeros, v => Assert.Equal(0f, v));
        }
    }

    [Fact]
    public void LanguageModelStream_GivesTheGeneratorsLogits_AndTheTrainingResultCountsPredictions()
    {
        var options = new LanguageModelOptions { VocabularySize = 7, EmbeddingSize = 4, Recurrent = Gru with { Layers = 2 } };
        using var model = LanguageModel.Create(options, seed: 5);
        int[] tokens = [1, 2, 3, 4, 5, 6], targets = [2, 3, 4, 5, 6, -100];
        TrainingResult result = model.ForwardBackward(tokens, 3, 2, targets);
        Assert.Equal(5, result.Counted);
        Assert.InRange(result.Correct, 0, 5);
        Assert.Equal(Math.Exp(result.Loss), result.Perplexity);

        LanguageModelInference served = model.ToInference();
        TokenGenerator generator = served.CreateGenerator();
        generator.Prime([1, 3, 5]);
        ModelStream stream = served.CreateStream();
        stream.Run([1, 3], 2);
        stream.Step([5]);
        Assert.Equal(3, stream.Steps);
        Assert.Equal(generator.Logits.ToArray(), stream.Output.ToArray());
        float[] read = new float[7];
        stream.Read(read);
        Assert.Equal(stream.Output.ToArray(), read);
    }

    [Fact]
    public void ClassifierSnapshot_CanBeAssembledFromItsParts_AndRefusesPartsThatDoNotFit()
    {
        var options = new SequenceClassifierOptions { InputSize = 2, Classes = 3, Recurrent = Gru };
        using var model = SequenceClassifier.Create(options, seed: 2);
        SequenceClassifierInference served = model.ToInference();
        var assembled = new SequenceClassifierInference(options, null, served.Network, served.Head);
        float[] x = [.. Enumerable.Range(0, 4 * 3 * 2).Select(i => MathF.Sin(i))], p = new float[9], q = new float[9];
        served.Predict(x, 4, 3, p);
        assembled.Predict(x, 4, 3, q);
        Assert.Equal(p, q);

        Assert.Equal("head", Assert.ThrowsAny<ArgumentException>(() => new SequenceClassifierInference(options with { Classes = 4 }, null, served.Network, served.Head)).ParamName);
        Assert.Equal("embedding", Assert.ThrowsAny<ArgumentException>(() => new SequenceClassifierInference(options, new Embedding(3, 2, new float[6]), served.Network, served.Head)).ParamName);
        Assert.Equal("network", Assert.ThrowsAny<ArgumentException>(() => new SequenceClassifierInference(options with { Recurrent = Gru with { HiddenSize = 7 } }, null, served.Network, served.Head)).ParamName);
    }

    private static float[] Create(SequenceModelOptions options, ulong? seed)
    {
        SequenceModel model = options switch
        {
            SequenceClassifierOptions o => SequenceClassifier.Create(o, seed),
            SequenceTaggerOptions o => SequenceTagger.Create(o, seed),
            LanguageModelOptions o => LanguageModel.Create(o, seed),
            ForecasterOptions o => Forecaster.Create(o, seed),
            EncoderDecoderOptions o => EncoderDecoder.Create(o, seed),
            _ => throw new ArgumentOutOfRangeException(nameof(options)),
        };
        float[] values = model.Parameters.Values.ToArray();
        (model as IDisposable)?.Dispose();
        return values;
    }
}
