using Rnn.Simd.Cells;
using Rnn.Simd.Layers;
using Rnn.Simd.Networks;
using Rnn.Simd.Tests.Infrastructure;

namespace Rnn.Simd.Tests.Networks;

/// <summary>
/// The models' <c>LabelSmoothing</c> option: the loss's gradient w.r.t. the logits moves by ε·(onehot − 1/C) per
/// counted row (p − q instead of p − onehot), so the head bias's gradient (the mean of those rows) moves by
/// ε·(label frequency − 1/C); the option
/// survives JSON and is absent from it when 0 (older JSON loads as 0).
/// </summary>
[Trait("Category", "Networks")]
[Trait("Isa", "All")]
public sealed class LabelSmoothingOptionTests
{
    private const float Epsilon = 0.2f;
    private const int Steps = 4, Batch = 3, Classes = 5;

    private static readonly SequenceTaggerOptions s_tagger = new()
    {
        InputSize = 3,
        Classes = Classes,
        Recurrent = new RecurrentNetworkOptions { Cell = CellType.Gru, InputSize = 3, HiddenSize = 4, Bidirectional = true },
    };

    [Fact]
    public void Tagger_HeadBiasGradient_MovesByEpsilonTimesLabelFrequencyMinusUniform()
    {
        float[] x = new TestRandom(3).Array(Steps * Batch * 3);
        int[] labels = [.. Enumerable.Range(0, Steps * Batch).Select(i => (i * 3 / 2) % Classes)];
        int[] lengths = [4, 2, 3];
        using SequenceTagger plain = SequenceTagger.Create(s_tagger, seed: 1);
        using SequenceTagger smoothed = SequenceTagger.Create(s_tagger with { LabelSmoothing = Epsilon }, seed: 1);
        plain.ForwardBackward(x, Steps, Batch, labels, lengths);
        smoothed.ForwardBackward(x, Steps, Batch, labels, lengths);
        var frequency = new double[Classes];
        int counted = 0;
        for (int i = 0; i < labels.Length; i++)
        {
            if (i / Batch < lengths[i % Batch])
            {
                frequency[labels[i]]++;
                counted++;
            }
        }

        AssertBiasShift(plain.Parameters.Gradient("head.bias"), smoothed.Parameters.Gradient("head.bias"), frequency, counted);
    }

    [Fact]
    public void LanguageModel_HeadBiasGradient_MovesByEpsilonTimesTargetFrequencyMinusUniform()
    {
        var options = new LanguageModelOptions { VocabularySize = Classes, EmbeddingSize = 3, Recurrent = new RecurrentNetworkOptions { HiddenSize = 4 } };
        int[] tokens = [.. Enumerable.Range(0, Steps * Batch).Select(i => i % Classes)];
        int[] targets = [.. Enumerable.Range(0, Steps * Batch).Select(i => i == 4 ? -100 : (i * 2 / 3) % Classes)];
        using LanguageModel plain = LanguageModel.Create(options, seed: 2);
        using LanguageModel smoothed = LanguageModel.Create(options with { LabelSmoothing = Epsilon }, seed: 2);
        plain.ForwardBackward(tokens, Steps, Batch, targets);
        smoothed.ForwardBackward(tokens, Steps, Batch, targets);
        var frequency = new double[Classes];
        foreach (int t in targets.Where(t => t >= 0))
        {
            frequency[t]++;
        }

        AssertBiasShift(plain.Parameters.Gradient("head.bias"), smoothed.Parameters.Gradient("head.bias"), frequency, targets.Count(t => t >= 0));
    }

    [Fact]
    public void Classifier_HeadBiasGradient_MovesByEpsilonTimesLabelFrequencyMinusUniform()
    {
        var options = new SequenceClassifierOptions { InputSize = 3, Classes = Classes, Recurrent = new RecurrentNetworkOptions { Cell = CellType.Lstm, InputSize = 3, HiddenSize = 4 } };
        float[] x = new TestRandom(5).Array(Steps * Batch * 3);
        int[] labels = [4, 1, 4];
        using SequenceClassifier plain = SequenceClassifier.Create(options, seed: 3);
        using SequenceClassifier smoothed = SequenceClassifier.Create(options with { LabelSmoothing = Epsilon }, seed: 3);
        plain.ForwardBackward(x, Steps, Batch, labels);
        smoothed.ForwardBackward(x, Steps, Batch, labels);
        double[] frequency = [0, 1, 0, 0, 2];
        AssertBiasShift(plain.Parameters.Gradient("head.bias"), smoothed.Parameters.Gradient("head.bias"), frequency, Batch);
    }

    [Fact]
    public void Option_RoundTripsThroughJson_AndIsAbsentWhenZero()
    {
        SequenceTaggerOptions smoothed = s_tagger with { LabelSmoothing = 0.125f };
        string json = smoothed.ToJson();
        Assert.Contains("\"label_smoothing\":0.125", json, StringComparison.Ordinal);
        Assert.Equal(smoothed, SequenceModelOptions.FromJson(json));
        Assert.DoesNotContain("label_smoothing", s_tagger.ToJson(), StringComparison.Ordinal);
        Assert.Equal(0f, ((SequenceTaggerOptions)SequenceModelOptions.FromJson(s_tagger.ToJson())).LabelSmoothing);

        var lm = new LanguageModelOptions { VocabularySize = 4, EmbeddingSize = 2, Recurrent = new RecurrentNetworkOptions { HiddenSize = 3 }, LabelSmoothing = 0.5f };
        Assert.Equal(lm, SequenceModelOptions.FromJson(lm.ToJson()));
    }

    [Theory]
    [InlineData(-0.25f)]
    [InlineData(1.25f)]
    public void Option_OutsideZeroToOne_IsRefused(float epsilon)
    {
        Assert.Equal("LabelSmoothing", Assert.ThrowsAny<ArgumentException>(() => (s_tagger with { LabelSmoothing = epsilon }).Validate()).ParamName);
        var lm = new LanguageModelOptions { VocabularySize = 4, EmbeddingSize = 2, Recurrent = new RecurrentNetworkOptions { HiddenSize = 3 }, LabelSmoothing = epsilon };
        Assert.Equal("LabelSmoothing", Assert.ThrowsAny<ArgumentException>(lm.Validate).ParamName);
    }

    /// <summary>dL/db_c (smoothed) − dL/db_c (plain) = ε·(n_c/N − 1/C): the mean over counted rows of (p − q) − (p − onehot).</summary>
    private static void AssertBiasShift(ReadOnlySpan<float> plain, ReadOnlySpan<float> smoothed, double[] frequency, int counted)
    {
        for (int c = 0; c < Classes; c++)
        {
            double expected = Epsilon * ((frequency[c] / counted) - (1.0 / Classes));
            Assert.True(Math.Abs(smoothed[c] - plain[c] - expected) <= 1e-6, $"Class {c}: shift {smoothed[c] - plain[c]}, expected {expected}.");
        }
    }
}
