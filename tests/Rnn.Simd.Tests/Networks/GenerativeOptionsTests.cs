using Rnn.Simd.Cells;
using Rnn.Simd.Layers;
using Rnn.Simd.Networks;
using Rnn.Simd.Training;

namespace Rnn.Simd.Tests.Networks;

/// <summary>The generative models' options: JSON round trips, parameter names, fresh models, initialisation, validation.</summary>
[Trait("Category", "Networks")]
public sealed class GenerativeOptionsTests
{
    public static TheoryData<string> Kinds() => ["language_model", "encoder_decoder", "forecaster"];

    private static SequenceModelOptions Sample(string kind) => kind switch
    {
        "language_model" => new LanguageModelOptions { VocabularySize = 7, EmbeddingSize = 3, Recurrent = new RecurrentNetworkOptions { HiddenSize = 6, ProjectionSize = 4, Layers = 2 } },
        "encoder_decoder" => new EncoderDecoderOptions
        {
            SourceVocabularySize = 5,
            TargetVocabularySize = 9,
            EmbeddingSize = 4,
            BosToken = 7,
            EosToken = 8,
            PadToken = 6,
            Recurrent = new RecurrentNetworkOptions { HiddenSize = 5, Cell = CellType.Gru, GruVariant = GruVariant.ResetBefore },
        },
        _ => new ForecasterOptions { InputSize = 3, Recurrent = new RecurrentNetworkOptions { HiddenSize = 4, Cell = CellType.Rnn, Nonlinearity = Nonlinearity.Relu } },
    };

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Json_RoundTrips_WithTheKind_AndCreateModelBuildsAnInitialisableModel(string kind)
    {
        SequenceModelOptions options = Sample(kind);
        string json = options.ToJson();
        Assert.Contains($"\"kind\":\"{kind}\"", json, StringComparison.Ordinal);
        SequenceModelOptions back = SequenceModelOptions.FromJson(json);
        Assert.Equal(options, back);
        Assert.Equal(json, back.ToJson());

        SequenceModel model = back.CreateModel();
        Assert.Equal(options, model.Options);
        Assert.Equal(options.ParameterSpecs().Select(s => s.Name), model.Parameters.Tensors.Select(t => t.Name));
        Assert.All(model.Parameters.Values.ToArray(), v => Assert.Equal(0f, v));
        Initializers.Apply(model.Parameters, RecurrentInitialization.PyTorch, 1);
        Assert.Contains(model.Parameters.Values.ToArray(), v => v != 0);
        (model as IDisposable)?.Dispose();
    }

    [Fact]
    public void ParameterNames_ArePyTorchsWithOnePrefixPerModule()
    {
        string[] lm = [.. Sample("language_model").ParameterSpecs().Select(s => s.Name)];
        Assert.Equal("embedding.weight", lm[0]);
        Assert.Contains("rnn.weight_hr_l1", lm);
        Assert.Equal(["head.weight", "head.bias"], lm[^2..]);
        string[] ed = [.. Sample("encoder_decoder").ParameterSpecs().Select(s => s.Name)];
        Assert.Equal(["source_embedding.weight", "encoder.weight_ih_l0"], ed[..2]);
        Assert.Contains("target_embedding.weight", ed);
        Assert.Contains("decoder.bias_hh_l0", ed);
        string[] f = [.. Sample("forecaster").ParameterSpecs().Select(s => s.Name)];
        Assert.Equal(["rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0", "rnn.bias_hh_l0", "head.weight", "head.bias"], f);
    }

    [Fact]
    public void Validation_NamesTheOption_AndFromJsonRejectsInvalidArchitectures()
    {
        var lm = (LanguageModelOptions)Sample("language_model");
        Assert.Equal("VocabularySize", Assert.ThrowsAny<ArgumentException>(() => (lm with { VocabularySize = 0 }).Validate()).ParamName);
        Assert.Equal("EmbeddingSize", Assert.ThrowsAny<ArgumentException>(() => (lm with { EmbeddingSize = -1 }).Validate()).ParamName);
        Assert.Equal("Recurrent", Assert.ThrowsAny<ArgumentException>(() => (lm with { Recurrent = lm.Recurrent with { ProjectionSize = 6 } }).Validate()).ParamName);
        Assert.Equal("Recurrent", Assert.ThrowsAny<ArgumentException>(() => (lm with { Recurrent = lm.Recurrent with { Bidirectional = true } }).Validate()).ParamName);
        Assert.Equal("Recurrent", Assert.ThrowsAny<ArgumentException>(() => (lm with { Recurrent = lm.Recurrent with { Layers = 0 } }).CreateModel()).ParamName);
        var ed = (EncoderDecoderOptions)Sample("encoder_decoder");
        Assert.Equal("BosToken", Assert.ThrowsAny<ArgumentException>(() => (ed with { BosToken = 9 }).Validate()).ParamName);
        Assert.Equal("PadToken", Assert.ThrowsAny<ArgumentException>(() => (ed with { PadToken = -1 }).Validate()).ParamName);
        Assert.Equal("InputSize", Assert.ThrowsAny<ArgumentException>(() => ((ForecasterOptions)Sample("forecaster") with { InputSize = 0 }).ParameterSpecs()).ParamName);
        Assert.Throws<InvalidDataException>(() => SequenceModelOptions.FromJson((lm with { Recurrent = lm.Recurrent with { HiddenSize = 0 } }).ToJson()));
        Assert.Throws<InvalidDataException>(() => SequenceModelOptions.FromJson("{\"kind\":\"language_model\",\"vocabulary_size\":3}"));
        Assert.Throws<InvalidDataException>(() => SequenceModelOptions.FromJson(lm.ToJson().Replace("}", ",\"extra\":1}", StringComparison.Ordinal)));
    }

    /// <summary>Release 0.1.0 wrote the generative models' stack flat; those documents still read, as the nested stack.</summary>
    [Fact]
    public void FromJson_ReadsTheFlatStackOfRelease010()
    {
        const string lm010 = "{\"kind\":\"language_model\",\"vocabulary_size\":7,\"embedding_size\":4,\"cell\":\"gru\",\"hidden_size\":8," +
            "\"layers\":2,\"projection_size\":0,\"nonlinearity\":\"tanh\",\"gru_variant\":\"reset_before\"}";
        var lm = Assert.IsType<LanguageModelOptions>(SequenceModelOptions.FromJson(lm010));
        Assert.Equal(new RecurrentNetworkOptions { Cell = CellType.Gru, HiddenSize = 8, Layers = 2, GruVariant = GruVariant.ResetBefore }, lm.Recurrent);
        Assert.Equal(lm.Recurrent with { InputSize = 4 }, lm.Stack);
        Assert.Equal(lm, SequenceModelOptions.FromJson(lm.ToJson()));

        const string forecaster010 = "{\"kind\":\"forecaster\",\"cell\":\"rnn\",\"hidden_size\":5,\"nonlinearity\":\"relu\",\"input_size\":1}";
        var forecaster = Assert.IsType<ForecasterOptions>(SequenceModelOptions.FromJson(forecaster010));
        Assert.Equal(new RecurrentNetworkOptions { Cell = CellType.Rnn, HiddenSize = 5, Nonlinearity = Nonlinearity.Relu }, forecaster.Recurrent);

        // A flat key beside a nested stack is not a 0.1.0 document: refused like any unknown key.
        Assert.Throws<InvalidDataException>(() => SequenceModelOptions.FromJson(lm.ToJson().Replace("{\"kind\":\"language_model\",", "{\"kind\":\"language_model\",\"hidden_size\":8,", StringComparison.Ordinal)));
    }
}
