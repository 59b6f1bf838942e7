using Rnn.Simd.Cells;
using Rnn.Simd.Layers;
using Rnn.Simd.Networks;
using Rnn.Simd.Training;

namespace Rnn.Simd.Tests.Networks;

/// <summary>The classifier and tagger architectures: JSON round trips, refusals with reasons, parameter names and initialisation.</summary>
[Trait("Category", "Networks")]
public sealed class RecurrentHeadOptionsTests
{
    private static readonly SequenceClassifierOptions s_classifier = new()
    {
        VocabularySize = 11,
        EmbeddingSize = 4,
        Classes = 3,
        Recurrent = new RecurrentNetworkOptions { Cell = CellType.Gru, HiddenSize = 6, Layers = 2, Bidirectional = true },
    };

    private static readonly SequenceTaggerOptions s_tagger = new()
    {
        InputSize = 7,
        Classes = 5,
        Recurrent = new RecurrentNetworkOptions { Cell = CellType.Lstm, InputSize = 7, HiddenSize = 6, ProjectionSize = 3 },
    };

    [Fact]
    public void Options_RoundTripThroughJson()
    {
        foreach (SequenceModelOptions options in new SequenceModelOptions[] { s_classifier, s_tagger })
        {
            string json = options.ToJson();
            SequenceModelOptions back = SequenceModelOptions.FromJson(json);
            Assert.Equal(options.GetType(), back.GetType());
            Assert.Equal(options, back);
            Assert.Equal(json, back.ToJson());
        }

        Assert.StartsWith("{\"kind\":\"classifier\"", s_classifier.ToJson(), StringComparison.Ordinal);
        Assert.StartsWith("{\"kind\":\"tagger\"", s_tagger.ToJson(), StringComparison.Ordinal);
    }

    [Fact]
    public void FromJson_UnknownKind_IsInvalidData()
    {
        string json = s_classifier.ToJson().Replace("\"classifier\"", "\"regressor\"", StringComparison.Ordinal);
        Assert.Throws<InvalidDataException>(() => SequenceModelOptions.FromJson(json));
        Assert.Throws<InvalidDataException>(() => SequenceModelOptions.FromJson("{\"kind\":\"tagger\",\"classes\":2}"));   // no recurrent stack
    }

    public static TheoryData<string, SequenceModelOptions> BadOptions() => new()
    {
        { "Classes", s_classifier with { Classes = 1 } },
        { "EmbeddingSize", s_classifier with { EmbeddingSize = 0 } },
        { "InputSize", s_classifier with { InputSize = 3 } },
        { "VocabularySize", s_tagger with { VocabularySize = -1 } },
        { "InputSize", s_tagger with { InputSize = 0 } },
        { "EmbeddingSize", s_tagger with { EmbeddingSize = 2 } },
        { "Recurrent.InputSize", s_tagger with { InputSize = 4 } },
        { "HiddenSize", s_tagger with { Recurrent = s_tagger.Recurrent with { HiddenSize = 0 } } },
        { "ProjectionSize", s_classifier with { Recurrent = s_classifier.Recurrent with { ProjectionSize = 2 } } },
    };

    [Theory]
    [MemberData(nameof(BadOptions))]
    public void BadValues_AreRefused_WithTheReason(string reason, SequenceModelOptions options)
    {
        ArgumentException argument = Assert.ThrowsAny<ArgumentException>(options.Validate);
        Assert.Contains(reason, argument.Message, StringComparison.Ordinal);
        InvalidDataException data = Assert.Throws<InvalidDataException>(() => SequenceModelOptions.FromJson(options.ToJson()));
        Assert.Contains(reason, data.Message, StringComparison.Ordinal);
        Assert.ThrowsAny<ArgumentException>(options.CreateModel);
    }

    [Fact]
    public void ParameterSpecs_UsePyTorchNames_AndCreateModelBuildsTheModel()
    {
        string[] names = s_classifier.ParameterSpecs().Select(s => s.Name).ToArray();
        Assert.Equal("embedding.weight", names[0]);
        Assert.Contains("rnn.weight_ih_l1_reverse", names);
        Assert.Equal(["head.weight", "head.bias"], names[^2..]);
        Assert.Equal([3, 12], s_classifier.ParameterSpecs()[^2].Shape);   // [C, D·Hout]: both directions' h_n
        Assert.Equal([5, 3], s_tagger.ParameterSpecs()[^2].Shape);        // [C, Hout]
        Assert.DoesNotContain(s_tagger.ParameterSpecs(), s => s.Name.StartsWith("embedding.", StringComparison.Ordinal));

        using var classifier = Assert.IsType<SequenceClassifier>(s_classifier.CreateModel());
        using var tagger = Assert.IsType<SequenceTagger>(s_tagger.CreateModel());
        Assert.All(classifier.Parameters.Values.ToArray(), v => Assert.Equal(0f, v));
        Assert.Equal(4, classifier.Network.Options.InputSize);   // the stack reads the embedding: E
    }

    [Fact]
    public void Create_WithASeed_InitialisesTheEmbeddingFromTheStandardNormal()
    {
        using SequenceClassifier model = SequenceClassifier.Create(s_classifier with { VocabularySize = 400, EmbeddingSize = 5 }, seed: 3);
        float[] table = model.Parameters.Value("embedding.weight").ToArray();
        double mean = table.Average(v => (double)v), std = Math.Sqrt(table.Average(v => (v - mean) * (v - mean)));
        Assert.InRange(mean, -0.1, 0.1);
        Assert.InRange(std, 0.9, 1.1);
        float bound = 1f / MathF.Sqrt(6);   // PyTorch's default for the GRU's weights
        Assert.All(model.Parameters.Value("rnn.weight_hh_l0").ToArray(), v => Assert.InRange(v, -bound, bound));
    }
}
