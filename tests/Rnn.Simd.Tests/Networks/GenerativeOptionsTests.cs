using Rnn.Simd.Cells;
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
        "language_model" => new LanguageModelOptions { VocabularySize = 7, EmbeddingSize = 3, HiddenSize = 6, ProjectionSize = 4, Layers = 2 },
        "encoder_decoder" => new EncoderDecoderOptions
        {
            SourceVocabularySize = 5, TargetVocabularySize = 9, EmbeddingSize = 4, HiddenSize = 5, Cell = CellType.Gru,
            GruVariant = GruVariant.ResetBefore, BosToken = 7, EosToken = 8, PadToken = 6,
        },
        _ => new ForecasterOptions { InputSize = 3, HiddenSize = 4, Cell = CellType.Rnn, Nonlinearity = Nonlinearity.Relu },
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
        Assert.Equal("ProjectionSize", Assert.ThrowsAny<ArgumentException>(() => (lm with { ProjectionSize = 6 }).Validate()).ParamName);
        Assert.Equal("Layers", Assert.ThrowsAny<ArgumentException>(() => (lm with { Layers = 0 }).CreateModel()).ParamName);
        var ed = (EncoderDecoderOptions)Sample("encoder_decoder");
        Assert.Equal("BosToken", Assert.ThrowsAny<ArgumentException>(() => (ed with { BosToken = 9 }).Validate()).ParamName);
        Assert.Equal("PadToken", Assert.ThrowsAny<ArgumentException>(() => (ed with { PadToken = -1 }).Validate()).ParamName);
        Assert.Equal("InputSize", Assert.ThrowsAny<ArgumentException>(() => ((ForecasterOptions)Sample("forecaster") with { InputSize = 0 }).ParameterSpecs()).ParamName);
        Assert.Throws<InvalidDataException>(() => SequenceModelOptions.FromJson((lm with { HiddenSize = 0 }).ToJson()));
        Assert.Throws<InvalidDataException>(() => SequenceModelOptions.FromJson("{\"kind\":\"language_model\",\"vocabulary_size\":3}"));
        Assert.Throws<InvalidDataException>(() => SequenceModelOptions.FromJson(lm.ToJson().Replace("}", ",\"extra\":1}", StringComparison.Ordinal)));
    }
}
