using System.Security.Cryptography;
using Rnn.Simd.Cells;
using Rnn.Simd.Kernels.Threading;
using Rnn.Simd.Layers;
using Rnn.Simd.Networks;
using Rnn.Simd.Tests.Infrastructure;
using Rnn.Simd.Training;

namespace Rnn.Simd.Tests.Determinism;

/// <summary>
/// Training with every kind of dropout under a pinned hash, so that CI's runs under each ISA switch prove it
/// bit-identical at every vector width, and with one and two threads: a two-layer LSTM language model (between
/// layers, output, weight drop, embedding, variational input and recurrent) and a bidirectional GRU tagger on token input.
/// </summary>
[Trait("Category", "Determinism")]
[Trait("Isa", "All")]
[Collection(NonParallelCollection.Name)]
public sealed class DropoutDeterminismTests
{
    /// <summary>SHA-256 over the trained weights and losses (computed here, the same under every ISA switch and thread count).</summary>
    private const string Expected = "EC10816988F3309861A0B327754F9B921BF1B0F4DF7F2615394DC04DED12A86B";

    private static readonly DropoutOptions s_dropout = new() { Dropout = 0.3f, OutputDropout = 0.2f, WeightDrop = 0.4f, EmbeddingDropout = 0.1f, InputDropout = 0.25f, RecurrentDropout = 0.2f, Seed = 19 };

    [Fact]
    public void TrainingWithDropout_IsTheSameBitsAtEveryVectorWidthAndThreadCount()
    {
        string one = Train(null);
        using (var team = new ThreadTeam(2))
        {
            Assert.Equal(one, Train(team));
        }

        Assert.True(Expected == one, $"hash {one}");
    }

    private static string Train(ThreadTeam? threads)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var random = new DeterministicRandom(31);
        const int steps = 9, batch = 5, vocabulary = 13;
        var losses = new float[5];
        int[] tokens = new int[steps * batch], targets = new int[steps * batch];
        using (var lm = LanguageModel.Create(
            new LanguageModelOptions { VocabularySize = vocabulary, EmbeddingSize = 7, Recurrent = new RecurrentNetworkOptions { HiddenSize = 21, Layers = 2 }, Dropout = s_dropout },
            seed: 3))
        {
            var trainer = new Trainer(lm.Parameters, new Adam(0.01), new TrainerOptions { MaxGradientNorm = 1 });
            for (int chunk = 0; chunk < losses.Length; chunk++)
            {
                Fill(random, tokens, vocabulary);
                Fill(random, targets, vocabulary);
                losses[chunk] = (float)lm.ForwardBackward(tokens, steps, batch, targets, threads).Loss;
                trainer.Update();
            }

            BitHash.Append(hash, lm.Parameters.Values);
            BitHash.Append(hash, losses);
        }

        using (var tagger = SequenceTagger.Create(
            new SequenceTaggerOptions
            {
                VocabularySize = vocabulary, EmbeddingSize = 6, Classes = 4,
                Recurrent = new RecurrentNetworkOptions { Cell = CellType.Gru, HiddenSize = 10, Layers = 2, Bidirectional = true },
                Dropout = s_dropout,
            },
            seed: 4))
        {
            var trainer = new Trainer(tagger.Parameters, new Adam(0.01));
            int[] labels = new int[steps * batch];
            for (int pass = 0; pass < losses.Length; pass++)
            {
                Fill(random, tokens, vocabulary);
                Fill(random, labels, 4);
                losses[pass] = (float)tagger.ForwardBackward(tokens, steps, batch, labels, [9, 4, 7, 1, 9], threads: threads).Loss;
                trainer.Update();
            }

            BitHash.Append(hash, tagger.Parameters.Values);
            BitHash.Append(hash, losses);
        }

        return Convert.ToHexString(hash.GetHashAndReset());
    }

    private static void Fill(DeterministicRandom random, int[] values, int count)
    {
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = (int)(random.NextUInt64() % (ulong)count);
        }
    }
}
