using System.Diagnostics;
using Rnn.Simd.Cells;
using Rnn.Simd.Kernels.Threading;
using Rnn.Simd.Layers;
using Rnn.Simd.Networks;
using Rnn.Simd.Tests.Infrastructure;
using Rnn.Simd.Training;
using Xunit.Abstractions;

namespace Rnn.Simd.Tests.Networks;

/// <summary>
/// Training <see cref="SequenceClassifier"/> and <see cref="SequenceTagger"/> end to end with Adam: the same seed gives
/// the same weights on one and two threads, and each model learns a small task that needs its recurrence.
/// </summary>
[Trait("Category", "Networks")]
public sealed class RecurrentHeadTrainingTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    [Trait("Category", "Networks")]
    [Trait("Isa", "All")]
    public void Training_IsBitIdentical_RunToRun_AndForOneAndTwoThreads(bool tagger)
    {
        HeadCase c = HeadCase.Make(
            "determinism", tagger, new RecurrentNetworkOptions { Cell = CellType.Lstm, InputSize = 8, HiddenSize = 24, Bidirectional = true },
            tokens: !tagger, steps: 7, batch: 6, lengths: [7, 5, 1, 0, 7, 3]);
        using var team = new ThreadTeam(2);
        string first = Train(c, null), again = Train(c, null), dual = Train(c, team);
        Assert.Equal(first, again);
        Assert.Equal(first, dual);
        output.WriteLine($"{(tagger ? "tagger" : "classifier")}: {first}");
    }

    /// <summary>
    /// Many-to-one: is there more of token A than of token B in a sequence of A, B and a neutral token (lengths 3 … 10)?
    /// Majority counting needs the whole sequence; the last token alone scores about 60%.
    /// </summary>
    [Fact]
    public void Classifier_LearnsWhetherTokenAOutnumbersTokenB()
    {
        var options = new SequenceClassifierOptions
        {
            VocabularySize = 3,
            EmbeddingSize = 4,
            Classes = 2,
            Recurrent = new RecurrentNetworkOptions { Cell = CellType.Gru, HiddenSize = 12 },
        };
        const int steps = 10, batch = 32;
        var clock = Stopwatch.StartNew();
        using SequenceClassifier model = SequenceClassifier.Create(options, seed: 1);
        var trainer = new Trainer(model.Parameters, new Adam(0.02));
        var random = new TestRandom(7);
        var tokens = new int[steps * batch];
        var labels = new int[batch];
        var lengths = new int[batch];
        TrainingResult result = default;
        for (int update = 0; update < 300; update++)
        {
            MajorityBatch(random, steps, batch, tokens, labels, lengths);
            model.Parameters.ZeroGradients();
            result = model.ForwardBackward(tokens, steps, batch, labels, lengths);
            trainer.Update();
        }

        const int test = 512;
        var testTokens = new int[steps * test];
        var testLabels = new int[test];
        var testLengths = new int[test];
        MajorityBatch(new TestRandom(99), steps, test, testTokens, testLabels, testLengths);
        var probabilities = new float[test * 2];
        model.ToInference().Predict(testTokens, steps, test, probabilities, testLengths, probabilities: true);
        int correct = Enumerable.Range(0, test).Count(b => (probabilities[(2 * b) + 1] > probabilities[2 * b] ? 1 : 0) == testLabels[b]);
        double accuracy = (double)correct / test;
        output.WriteLine($"last training loss {result.Loss:F4}, accuracy {result.Accuracy:P1}; held-out accuracy {accuracy:P1}; {clock.ElapsedMilliseconds} ms");
        Assert.True(accuracy >= 0.95, $"held-out accuracy {accuracy:P1}");
    }

    /// <summary>
    /// Many-to-many: tag every step with the token seen two steps earlier (the first two steps are unlabelled, −100):
    /// a delayed copy, which needs memory of the last two inputs.
    /// </summary>
    [Fact]
    public void Tagger_LearnsADelayedCopy()
    {
        const int vocabulary = 4, delay = 2, steps = 12, batch = 32;
        var options = new SequenceTaggerOptions
        {
            InputSize = vocabulary,
            Classes = vocabulary,
            Recurrent = new RecurrentNetworkOptions { Cell = CellType.Gru, HiddenSize = 12 },
        };
        var clock = Stopwatch.StartNew();
        using SequenceTagger model = SequenceTagger.Create(options, seed: 2);
        var trainer = new Trainer(model.Parameters, new Adam(0.02));
        var random = new TestRandom(5);
        var input = new float[steps * batch * vocabulary];
        var labels = new int[steps * batch];
        TrainingResult result = default;
        for (int update = 0; update < 100; update++)
        {
            DelayedCopyBatch(random, steps, batch, vocabulary, delay, input, labels);
            model.Parameters.ZeroGradients();
            result = model.ForwardBackward(input, steps, batch, labels);
            trainer.Update();
        }

        const int test = 256;
        var testInput = new float[steps * test * vocabulary];
        var testLabels = new int[steps * test];
        DelayedCopyBatch(new TestRandom(77), steps, test, vocabulary, delay, testInput, testLabels);
        var logits = new float[steps * test * vocabulary];
        model.ToInference().Predict(testInput, steps, test, logits);
        int correct = 0, counted = 0;
        for (int row = 0; row < steps * test; row++)
        {
            if (testLabels[row] == Losses.DefaultIgnoreIndex)
            {
                continue;
            }

            ReadOnlySpan<float> r = logits.AsSpan(row * vocabulary, vocabulary);
            int best = 0;
            for (int k = 1; k < vocabulary; k++)
            {
                best = r[k] > r[best] ? k : best;
            }

            counted++;
            correct += best == testLabels[row] ? 1 : 0;
        }

        double accuracy = (double)correct / counted;
        output.WriteLine($"last training loss {result.Loss:F4}, accuracy {result.Accuracy:P1}; held-out accuracy {accuracy:P1}; {clock.ElapsedMilliseconds} ms");
        Assert.True(accuracy >= 0.98, $"held-out accuracy {accuracy:P1}");
    }

    private static string Train(HeadCase c, ThreadTeam? threads)
    {
        SequenceModel model = c.CreateModel(seed: 12);
        try
        {
            var trainer = new Trainer(model.Parameters, new Adam(0.01));
            for (int update = 0; update < 8; update++)
            {
                (float[] input, int[] tokens, int[] labels) = c.Data((ulong)update);
                model.Parameters.ZeroGradients();
                HeadCase.Train(model, input, tokens, c.Steps, c.Batch, labels, c.Lengths, threads: threads);
                trainer.Update();
            }

            return HeadCase.Fingerprint(model.Parameters);
        }
        finally
        {
            HeadCase.Dispose(model);
        }
    }

    /// <summary>Tokens 0 (A), 1 (B), 2 (neutral); label 1 when A occurs more often than B within the sequence's length.</summary>
    private static void MajorityBatch(TestRandom random, int steps, int batch, int[] tokens, int[] labels, int[] lengths)
    {
        for (int b = 0; b < batch; b++)
        {
            lengths[b] = 3 + random.Next(steps - 2);
            int balance = 0;
            for (int t = 0; t < steps; t++)
            {
                int token = random.Next(3);
                tokens[(t * batch) + b] = token;
                if (t < lengths[b])
                {
                    balance += token == 0 ? 1 : token == 1 ? -1 : 0;
                }
            }

            labels[b] = balance > 0 ? 1 : 0;
        }
    }

    /// <summary>One-hot tokens [T, B, V]; label at step t the token at t − delay (ignored for t &lt; delay).</summary>
    private static void DelayedCopyBatch(TestRandom random, int steps, int batch, int vocabulary, int delay, float[] input, int[] labels)
    {
        Array.Clear(input);
        var drawn = new int[steps * batch];
        for (int row = 0; row < steps * batch; row++)
        {
            drawn[row] = random.Next(vocabulary);
            input[(row * vocabulary) + drawn[row]] = 1f;
            int t = row / batch;
            labels[row] = t < delay ? Losses.DefaultIgnoreIndex : drawn[row - (delay * batch)];
        }
    }
}
