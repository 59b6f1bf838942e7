using System.Security.Cryptography;
using Rnn.Simd.Cells;
using Rnn.Simd.Networks;
using Rnn.Simd.Tests.Infrastructure;
using Rnn.Simd.Training;
using Rnn.Simd.Layers;

namespace Rnn.Simd.Tests.Determinism;

/// <summary>
/// The usage-pattern models end to end under a pinned hash, so that CI's runs under each ISA switch prove them
/// bit-identical at every vector width: a language model trained on carried chunks and then sampling text, an
/// encoder-decoder trained with scheduled sampling and then decoding, a forecaster rolling out.
/// </summary>
[Trait("Category", "Determinism")]
[Trait("Isa", "All")]
[Collection(NonParallelCollection.Name)]
public sealed class UsagePatternDeterminismTests
{
    /// <summary>SHA-256 over the trained weights, losses and generated tokens/values (computed here, the same under every ISA switch).</summary>
    private const string Expected = "6729ED9D6E63E47471192F9AF691FC0C7CBADFB2CF90390F42825914B4AEEFB6";

    [Fact]
    public void TrainingAndGeneration_AreTheSameBitsAtEveryVectorWidth()
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var random = new DeterministicRandom(11);

        // Language model: 6 carried chunks of Adam, then 40 sampled tokens (temperature 0.9, top-k 4).
        using (var lm = LanguageModel.Create(new LanguageModelOptions { VocabularySize = 7, EmbeddingSize = 5, Recurrent = new RecurrentNetworkOptions { HiddenSize = 9, Layers = 2 } }))
        {
            Initializers.Apply(lm.Parameters, RecurrentInitialization.PyTorch, 3);
            var trainer = new Trainer(lm.Parameters, new Adam(0.01), new TrainerOptions { MaxGradientNorm = 1 });
            int[] tokens = new int[8 * 3], targets = new int[8 * 3];
            var losses = new float[6];
            for (int chunk = 0; chunk < 6; chunk++)
            {
                Fill(random, tokens, 7);
                Fill(random, targets, 7);
                losses[chunk] = (float)lm.ForwardBackward(tokens, 8, 3, targets).Loss;
                trainer.Update();
            }

            BitHash.Append(hash, lm.Parameters.Values);
            BitHash.Append(hash, losses);
            TokenGenerator generator = lm.ToInference().CreateGenerator(new SamplingOptions { Temperature = 0.9f, TopK = 4, Seed = 5 });
            generator.Prime([1, 2, 3]);
            int[] text = new int[40];
            generator.Generate(text);
            hash.AppendData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(text.AsSpan()));
        }

        // Encoder-decoder (GRU): 4 batches with teacher-forcing ratio 0.5, then greedy decoding.
        using (var seq = EncoderDecoder.Create(new EncoderDecoderOptions
        {
            SourceVocabularySize = 6,
            TargetVocabularySize = 6,
            EmbeddingSize = 4,
            Recurrent = new RecurrentNetworkOptions { HiddenSize = 8, Cell = CellType.Gru },
        }))
        {
            Initializers.Apply(seq.Parameters, RecurrentInitialization.PyTorch, 4);
            var trainer = new Trainer(seq.Parameters, new Adam(0.01));
            int[] source = new int[5 * 4], target = new int[6 * 4];
            var losses = new float[4];
            for (int batch = 0; batch < 4; batch++)
            {
                Fill(random, source, 6);
                Fill(random, target, 6);
                losses[batch] = (float)seq.ForwardBackward(source, 5, target, 6, 4, teacherForcingRatio: 0.5, seed: (ulong)batch).Loss;
                trainer.Update();
            }

            BitHash.Append(hash, seq.Parameters.Values);
            BitHash.Append(hash, losses);
            int[] decoded = new int[10];
            int count = seq.ToInference().CreateDecoder().Decode([3, 4, 5, 3], decoded);
            hash.AppendData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(decoded.AsSpan(0, count)));
        }

        // Forecaster (LSTM): 5 chunks, then a 12-step rollout.
        using (var forecaster = Forecaster.Create(new ForecasterOptions { InputSize = 2, Recurrent = new RecurrentNetworkOptions { HiddenSize = 6 } }))
        {
            Initializers.Apply(forecaster.Parameters, RecurrentInitialization.PyTorch, 5);
            var trainer = new Trainer(forecaster.Parameters, new Adam(0.01));
            float[] inputs = new float[7 * 2 * 2], targets = new float[inputs.Length];
            for (int chunk = 0; chunk < 5; chunk++)
            {
                for (int i = 0; i < inputs.Length; i++)
                {
                    inputs[i] = (float)random.NextNormal();
                    targets[i] = (float)random.NextNormal();
                }

                forecaster.ForwardBackward(inputs, 7, 2, targets);
                trainer.Update();
            }

            BitHash.Append(hash, forecaster.Parameters.Values);
            ForecastStream stream = forecaster.ToInference().CreateForecast();
            stream.Prime(inputs.AsSpan(0, 7 * 2), 7);
            float[] rollout = new float[12 * 2];
            stream.Rollout(rollout);
            BitHash.Append(hash, rollout);
        }

        string actual = Convert.ToHexString(hash.GetHashAndReset());
        Assert.True(actual == Expected, $"hash {actual}, pinned {Expected}");
    }

    private static void Fill(DeterministicRandom random, int[] ids, int vocabulary)
    {
        for (int i = 0; i < ids.Length; i++)
        {
            ids[i] = (int)(random.NextUInt64() % (ulong)vocabulary);
        }
    }
}
