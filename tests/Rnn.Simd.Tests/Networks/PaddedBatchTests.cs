using Rnn.Simd.Cells;
using Rnn.Simd.Layers;
using Rnn.Simd.Networks;
using Rnn.Simd.Parameters;
using Rnn.Simd.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Rnn.Simd.Tests.Networks;

/// <summary>
/// A padded batch with lengths against the same sequences run one by one unpadded: the padded loss is the
/// count-weighted mean of the unpadded losses, the gradients the count-weighted mean of theirs, and whatever sits in
/// the padding (inputs, labels, targets) changes nothing. Tagger (bidirectional), language model, forecaster.
/// </summary>
[Trait("Category", "Networks")]
[Trait("Isa", "All")]
public sealed class PaddedBatchTests(ITestOutputHelper output)
{
    private const int Steps = 5;
    private static readonly int[] s_lengths = [5, 3, 2];

    private static int Batch => s_lengths.Length;

    [Fact]
    public void Tagger_PaddedBatch_IsTheUnpaddedSequences()
    {
        var options = new SequenceTaggerOptions
        {
            InputSize = 3,
            Classes = 4,
            Recurrent = new RecurrentNetworkOptions { Cell = CellType.Lstm, InputSize = 3, HiddenSize = 4, Layers = 2, Bidirectional = true },
        };
        var random = new TestRandom(31);
        float[] x = random.Array(Steps * Batch * 3);
        int[] labels = [.. Enumerable.Range(0, Steps * Batch).Select(i => (i * 5 / 2) % 4)];
        Pad(x, 3, 1e3f);
        for (int i = 0; i < labels.Length; i++)
        {
            labels[i] = i / Batch < s_lengths[i % Batch] ? labels[i] : 3;   // padded labels: read by nothing
        }

        using SequenceTagger padded = SequenceTagger.Create(options, seed: 2);
        using SequenceTagger single = SequenceTagger.Create(options, seed: 2);
        double loss = padded.ForwardBackward(x, Steps, Batch, labels, s_lengths).Loss;
        Compare("tagger", loss, padded.Parameters, single.Parameters, b =>
            single.ForwardBackward(Column(x, b, 3), s_lengths[b], 1, Column(labels, b)).Loss, b => s_lengths[b]);
    }

    [Fact]
    public void LanguageModel_PaddedBatch_IsTheUnpaddedSequences_AndCarriesTheirLastState()
    {
        var options = new LanguageModelOptions { VocabularySize = 6, EmbeddingSize = 3, Recurrent = new RecurrentNetworkOptions { Cell = CellType.Gru, HiddenSize = 5, Layers = 2 } };
        int[] tokens = [.. Enumerable.Range(0, Steps * Batch).Select(i => (i * 7 / 3) % 6)];
        int[] targets = [.. Enumerable.Range(0, Steps * Batch).Select(i => i / Batch < s_lengths[i % Batch] ? (i * 5 / 4) % 6 : 99)];
        using LanguageModel padded = LanguageModel.Create(options, seed: 3);
        using LanguageModel single = LanguageModel.Create(options, seed: 3);
        double loss = padded.ForwardBackward(tokens, Steps, Batch, targets, s_lengths).Loss;
        float[] carried = padded.CarriedHidden.ToArray();
        Compare("language model", loss, padded.Parameters, single.Parameters, b =>
        {
            single.ResetState();
            double l = single.ForwardBackward(Column(tokens, b), s_lengths[b], 1, Column(targets, b)).Loss;
            CompareState(carried, single.CarriedHidden, b, 5);
            return l;
        }, b => s_lengths[b]);
    }

    [Fact]
    public void Forecaster_PaddedBatch_IsTheUnpaddedSequences_AndCarriesTheirLastState()
    {
        var options = new ForecasterOptions { InputSize = 2, Recurrent = new RecurrentNetworkOptions { Cell = CellType.Lstm, HiddenSize = 4 } };
        var random = new TestRandom(41);
        float[] x = random.Array(Steps * Batch * 2), targets = random.Array(Steps * Batch * 2);
        Pad(x, 2, -7e2f);
        Pad(targets, 2, 5e3f);
        using Forecaster padded = Forecaster.Create(options, seed: 4);
        using Forecaster single = Forecaster.Create(options, seed: 4);
        double loss = padded.ForwardBackward(x, Steps, Batch, targets, s_lengths).Loss;
        float[] carried = padded.CarriedHidden.ToArray();
        Compare("forecaster", loss, padded.Parameters, single.Parameters, b =>
        {
            single.ResetState();
            double l = single.ForwardBackward(Column(x, b, 2), s_lengths[b], 1, Column(targets, b, 2)).Loss;
            CompareState(carried, single.CarriedHidden, b, 4);
            return l;
        }, b => s_lengths[b] * 2);
    }

    [Fact]
    public void Forecaster_WithFullLengths_IsTheUnmaskedStepToTheBit()
    {
        var options = new ForecasterOptions { InputSize = 2, Recurrent = new RecurrentNetworkOptions { HiddenSize = 4 } };
        var random = new TestRandom(43);
        float[] x = random.Array(Steps * Batch * 2), targets = random.Array(Steps * Batch * 2);
        using Forecaster a = Forecaster.Create(options, seed: 5);
        using Forecaster b = Forecaster.Create(options, seed: 5);
        double plain = a.ForwardBackward(x, Steps, Batch, targets).Loss;
        double full = b.ForwardBackward(x, Steps, Batch, targets, [Steps, Steps, Steps]).Loss;
        Assert.Equal(plain, full);
        Assert.Equal(a.Parameters.Gradients.ToArray(), b.Parameters.Gradients.ToArray());
    }

    /// <summary>
    /// The padded run's loss and gradients against Σ_b (n_b / N)·(loss, gradients) of the one-sequence runs, n_b the
    /// counted terms of sequence b and N their sum.
    /// </summary>
    private void Compare(string name, double loss, ParameterSet padded, ParameterSet single, Func<int, double> runSequence, Func<int, int> counted)
    {
        double total = Enumerable.Range(0, Batch).Sum(counted);
        double expectedLoss = 0;
        var expected = new double[single.Length];
        for (int b = 0; b < Batch; b++)
        {
            single.ZeroGradients();
            double weight = counted(b) / total;
            expectedLoss += weight * runSequence(b);
            ReadOnlySpan<float> g = single.Gradients;
            for (int i = 0; i < g.Length; i++)
            {
                expected[i] += weight * g[i];
            }
        }

        float[] actual = padded.Gradients.ToArray();
        double worst = 0, scale = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            worst = Math.Max(worst, Math.Abs(actual[i] - expected[i]));
            scale = Math.Max(scale, Math.Abs(expected[i]));
        }

        output.WriteLine($"{name}: loss {loss:R} vs {expectedLoss:R}; gradient max |err| {worst:E2} (max |g| {scale:E2})");
        Assert.Equal(expectedLoss, loss, 1e-6);
        Assert.True(scale > 1e-3, "The gradient is too small for the comparison to mean anything.");
        Assert.True(worst <= 1e-6 * Math.Max(1, scale), $"{name}: the padded gradient differs from the unpadded sequences' by {worst:E3}.");
    }

    private static void CompareState(float[] carried, ReadOnlySpan<float> single, int b, int hidden)
    {
        int layers = single.Length / hidden;
        for (int layer = 0; layer < layers; layer++)
        {
            for (int j = 0; j < hidden; j++)
            {
                float expected = single[(layer * hidden) + j], actual = carried[(((layer * Batch) + b) * hidden) + j];
                Assert.True(Math.Abs(expected - actual) <= 1e-6, $"Carried h of sequence {b}, layer {layer}, unit {j}: {actual} vs {expected}.");
            }
        }
    }

    /// <summary>Writes <paramref name="value"/> into every padded step of a time-major [T, B, F] buffer.</summary>
    private static void Pad(float[] values, int features, float value)
    {
        for (int t = 0; t < Steps; t++)
        {
            for (int b = 0; b < Batch; b++)
            {
                if (t >= s_lengths[b])
                {
                    values.AsSpan(((t * Batch) + b) * features, features).Fill(value);
                }
            }
        }
    }

    /// <summary>Sequence b's valid steps of a time-major [T, B, F] buffer, as [len_b, 1, F].</summary>
    private static T[] Column<T>(T[] values, int b, int features = 1)
    {
        var column = new T[s_lengths[b] * features];
        for (int t = 0; t < s_lengths[b]; t++)
        {
            values.AsSpan(((t * Batch) + b) * features, features).CopyTo(column.AsSpan(t * features, features));
        }

        return column;
    }
}
