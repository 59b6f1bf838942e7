using System.Runtime.InteropServices;
using Rnn.Simd.Cells;
using Rnn.Simd.Layers;
using Rnn.Simd.Networks;
using Rnn.Simd.Tests.Infrastructure;
using Rnn.Simd.Training;

namespace Rnn.Simd.Tests.Networks;

/// <summary>
/// Inference snapshots and streams of <see cref="SequenceClassifier"/> and <see cref="SequenceTagger"/>: streaming equals
/// the batch call bit for bit, the snapshot equals the training pass, nothing allocates after warm-up, and bad
/// arguments throw naming the parameter.
/// </summary>
[Trait("Category", "Networks")]
[Collection(NonParallelCollection.Name)]
public sealed class RecurrentHeadServingTests
{
    private static readonly RecurrentNetworkOptions s_lstm2 = new() { Cell = CellType.Lstm, InputSize = 3, HiddenSize = 5, Layers = 2 };
    private static readonly RecurrentNetworkOptions s_gru = new() { Cell = CellType.Gru, InputSize = 3, HiddenSize = 5 };

    [Theory]
    [InlineData(false, false)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public void Stream_EqualsTheBatchCall_BitForBit(bool tagger, bool tokens)
    {
        HeadCase c = HeadCase.Make("stream", tagger, tokens ? s_gru : s_lstm2, tokens, steps: 6, batch: 3);
        SequenceModel model = c.CreateModel(seed: 3);
        (float[] input, int[] ids, _) = c.Data(seed: 4);
        int b = c.Batch, classes = c.Options.Classes, x = c.Options.StepFeatures;
        Predict predict = Predictor(model, out ModelStream stream);
        var read = new float[b * classes];
        var streamed = new float[(c.Steps + 1) * b * classes];   // [t, B, C]: the scores after t steps
        for (int t = 0; t <= c.Steps; t++)
        {
            if (t > 0)
            {
                if (tokens)
                {
                    stream.Step(ids.AsSpan((t - 1) * b, b));
                }
                else
                {
                    stream.Step(input.AsSpan((t - 1) * b * x, b * x));
                }
            }

            stream.Read(read, probabilities: t % 2 == 1);
            read.CopyTo(streamed, t * b * classes);
        }

        Assert.Equal(c.Steps, stream.Steps);
        for (int t = 1; t <= c.Steps; t++)
        {
            // The batch call on the t-step prefix (tagger: its last step's row).
            var batchOut = new float[(tagger ? t : 1) * b * classes];
            predict(input.AsSpan(0, tokens ? 0 : t * b * x), ids.AsSpan(0, tokens ? t * b : 0), t, b, batchOut, default, t % 2 == 1);
            AssertBits(streamed.AsSpan(t * b * classes, b * classes), batchOut.AsSpan(batchOut.Length - (b * classes)), $"step {t}");
        }

        // One batch call with per-sequence lengths: sequence j's row is the stream's after lengths[j] steps.
        int[] lengths = [c.Steps, 2, 0];
        var all = new float[(tagger ? c.Steps : 1) * b * classes];
        predict(input, ids, c.Steps, b, all, lengths, false);
        for (int j = 0; j < b && !tagger; j++)
        {
            AssertBits(streamed.AsSpan(((lengths[j] * b) + j) * classes, classes), all.AsSpan(j * classes, classes), $"sequence {j}");
        }

        for (int j = 0; j < b && tagger; j++)
        {
            int t = lengths[j] - 1;
            if (t >= 0)
            {
                AssertBits(streamed.AsSpan(((lengths[j] * b) + j) * classes, classes), all.AsSpan(((t * b) + j) * classes, classes), $"sequence {j}");
            }
        }

        HeadCase.Dispose(model);
    }

    [Fact]
    public void Inference_EqualsTheTrainingPassPredictions()
    {
        foreach (bool tagger in new[] { false, true })
        {
            HeadCase c = HeadCase.Make("inference", tagger, s_gru with { Bidirectional = true }, tokens: true, steps: 5, batch: 3, lengths: [5, 3, 1]);
            SequenceModel model = c.CreateModel(seed: 8);
            (float[] input, int[] ids, int[] labels) = c.Data(seed: 2);
            var trained = new int[c.LabelCount];
            HeadCase.Train(model, input, ids, c.Steps, c.Batch, labels, c.Lengths, trained);
            Predict predict = Predictor(model, out _, withStream: false);
            var logits = new float[c.OutputCount];
            predict(input, ids, c.Steps, c.Batch, logits, c.Lengths, false);
            for (int row = 0; row < c.LabelCount; row++)
            {
                bool padded = tagger && row / c.Batch >= c.Lengths![row % c.Batch];
                ReadOnlySpan<float> r = logits.AsSpan(row * c.Options.Classes, c.Options.Classes);
                Assert.Equal(padded ? Losses.DefaultIgnoreIndex : r.IndexOf(TensorMax(r)), trained[row]);
            }

            HeadCase.Dispose(model);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Stream_OfABidirectionalModel_Throws(bool tagger)
    {
        HeadCase c = HeadCase.Make("bidir", tagger, s_gru with { Bidirectional = true }, tokens: false);
        SequenceModel model = c.CreateModel(seed: 1);
        InvalidOperationException e = Assert.Throws<InvalidOperationException>(() => Predictor(model, out _));
        Assert.Contains("bidirectional", e.Message, StringComparison.Ordinal);
        HeadCase.Dispose(model);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TrainingStep_AllocatesNothingAfterWarmUp(bool tagger)
    {
        HeadCase c = HeadCase.Make("alloc", tagger, s_lstm2 with { Bidirectional = true }, tokens: !tagger, steps: 6, batch: 4, lengths: [6, 1, 3, 0]);
        SequenceModel model = c.CreateModel(seed: 1);
        (float[] input, int[] ids, int[] labels) = c.Data(seed: 2);
        var predictions = new int[c.LabelCount];
        var trainer = new Trainer(model.Parameters, new Adam(1e-3));
        AllocationAssert.None(() =>
        {
            model.Parameters.ZeroGradients();
            HeadCase.Train(model, input, ids, c.Steps, c.Batch, labels, c.Lengths, predictions);
            trainer.Update();
        });
        HeadCase.Dispose(model);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void InferenceAndStream_AllocateNothingAfterWarmUp(bool tagger)
    {
        HeadCase c = HeadCase.Make("alloc", tagger, s_lstm2, tokens: tagger, steps: 6, batch: 4, lengths: [6, 1, 3, 0]);
        SequenceModel model = c.CreateModel(seed: 1);
        (float[] input, int[] ids, _) = c.Data(seed: 2);
        Predict predict = Predictor(model, out ModelStream stream, batch: c.Batch);
        var output = new float[c.OutputCount];
        var read = new float[c.Batch * c.Options.Classes];
        int x = c.Options.StepFeatures;
        AllocationAssert.None(() =>
        {
            predict(input, ids, c.Steps, c.Batch, output, c.Lengths, true);
            stream.Reset();
            if (tagger)
            {
                stream.Step(ids.AsSpan(0, c.Batch));
            }
            else
            {
                stream.Step(input.AsSpan(0, c.Batch * x));
            }

            stream.Read(read, probabilities: true);
        });
        HeadCase.Dispose(model);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void BadArguments_ThrowNamingTheParameter(bool tagger)
    {
        HeadCase features = HeadCase.Make("features", tagger, s_gru, tokens: false, lengths: [4, 2, 1]);
        HeadCase tokens = HeadCase.Make("tokens", tagger, s_gru, tokens: true);
        SequenceModel f = features.CreateModel(seed: 1), t = tokens.CreateModel(seed: 1);
        (float[] input, _, int[] labels) = features.Data(seed: 3);
        (_, int[] ids, int[] tokenLabels) = tokens.Data(seed: 3);
        int steps = features.Steps, batch = features.Batch;

        void Throws(string parameter, Action call) => Assert.Equal(parameter, Assert.ThrowsAny<ArgumentException>(call).ParamName);

        int[] badLabel = (int[])labels.Clone();
        badLabel[0] = features.Options.Classes;
        Throws("labels", () => HeadCase.Train(f, input, [], steps, batch, badLabel, features.Lengths));
        badLabel[0] = -1;
        Throws("labels", () => HeadCase.Train(f, input, [], steps, batch, badLabel, features.Lengths));
        Throws("labels", () => HeadCase.Train(f, input, [], steps, batch, labels[..^1], features.Lengths));
        Throws("input", () => HeadCase.Train(f, input[..^1], [], steps, batch, labels, features.Lengths));
        Throws("predictions", () => HeadCase.Train(f, input, [], steps, batch, labels, features.Lengths, new int[1]));
        Throws("lengths", () => HeadCase.Train(f, input, [], steps, batch, labels, [1, 2]));
        Throws("lengths", () => HeadCase.Train(f, input, [], steps, batch, labels, [1, 2, steps + 1]));
        Throws("batch", () => HeadCase.Train(f, [], [], steps, 0, [], null));
        Throws("steps", () => HeadCase.Train(f, input, [], -1, batch, labels, null));

        int[] badTokens = (int[])ids.Clone();
        badTokens[^1] = tokens.Options.VocabularySize;
        Throws("tokens", () => HeadCase.Train(t, [], badTokens, steps, batch, tokenLabels));
        badTokens[^1] = -1;
        Throws("tokens", () => HeadCase.Train(t, [], badTokens, steps, batch, tokenLabels));
        Throws("tokens", () => HeadCase.Train(t, [], ids[..^1], steps, batch, tokenLabels));

        // The wrong kind of input for the model.
        Throws("input", () => HeadCase.Train(t, new float[steps * batch * 3], ids, steps, batch, tokenLabels, useTokens: false));
        Throws("tokens", () => HeadCase.Train(f, input, ids, steps, batch, labels, useTokens: true));

        // Inference and streams.
        Predict predict = Predictor(f, out ModelStream stream);
        Throws("output", () => predict(input, [], steps, batch, new float[features.OutputCount - 1], default, false));
        Throws("input", () => predict(input[..^1], [], steps, batch, new float[features.OutputCount], default, false));
        Throws("input", () => stream.Step(new float[2]));
        Throws("tokens", () => stream.Step(new int[batch]));
        Throws("output", () => stream.Read(new float[1]));
        Predict predictTokens = Predictor(t, out ModelStream tokenStream);
        Throws("tokens", () => predictTokens([], badTokens, steps, batch, new float[tokens.OutputCount], default, false));
        Throws("tokens", () => tokenStream.Step([0, 1, 99]));
        HeadCase.Dispose(f);
        HeadCase.Dispose(t);
    }

    [Fact]
    public void Tagger_LabelsAtPaddedSteps_AreNotRead()
    {
        HeadCase c = HeadCase.Make("padded", tagger: true, s_gru, tokens: false, lengths: [4, 2, 0]);
        SequenceModel model = c.CreateModel(seed: 1);
        (float[] input, _, int[] labels) = c.Data(seed: 3);
        TrainingResult clean = HeadCase.Train(model, input, [], c.Steps, c.Batch, labels, c.Lengths);
        labels[(3 * c.Batch) + 1] = 999;   // step 3 of a sequence of length 2
        labels[2] = -7;                    // step 0 of an empty sequence
        TrainingResult padded = HeadCase.Train(model, input, [], c.Steps, c.Batch, labels, c.Lengths);
        Assert.Equal(clean, padded);
        Assert.Equal(4 + 2, clean.Counted);   // the valid steps (the ignored last label sits at a padded step)
        HeadCase.Dispose(model);
    }

    /// <summary>A model's inference call, features or tokens; its snapshot's stream in <paramref name="stream"/>.</summary>
    private delegate void Predict(ReadOnlySpan<float> input, ReadOnlySpan<int> tokens, int steps, int batch, Span<float> output, ReadOnlySpan<int> lengths, bool probabilities);

    private static Predict Predictor(SequenceModel model, out ModelStream stream, bool withStream = true, int batch = 3)
    {
        bool tokens = ((RecurrentHeadOptions)model.Options).TokenInput;
        RecurrentHeadInference inference = model is SequenceClassifier classifier ? classifier.ToInference() : ((SequenceTagger)model).ToInference();
        stream = withStream ? inference.CreateStream(batch) : null!;
        return (x, ids, t, b, y, lengths, p) =>
        {
            if (tokens)
            {
                inference.Predict(ids, t, b, y, lengths, p);
            }
            else
            {
                inference.Predict(x, t, b, y, lengths, p);
            }
        };
    }

    private static float TensorMax(ReadOnlySpan<float> row)
    {
        float max = row[0];
        foreach (float v in row)
        {
            max = Math.Max(max, v);
        }

        return max;
    }

    private static void AssertBits(ReadOnlySpan<float> actual, ReadOnlySpan<float> expected, string label)
    {
        Assert.True(
            MemoryMarshal.Cast<float, int>(actual).SequenceEqual(MemoryMarshal.Cast<float, int>(expected)),
            $"{label}: stream [{string.Join(", ", actual.ToArray())}] vs batch [{string.Join(", ", expected.ToArray())}]");
    }
}
