using Rnn.Simd.Cells;
using Rnn.Simd.Import;
using Rnn.Simd.Layers;
using Rnn.Simd.Networks;
using Rnn.Simd.Training;

namespace Rnn.Simd.Tests.Networks;

/// <summary>The README's API example ("Use it"), compiled and run, so that the README stays true.</summary>
public sealed class ReadmeApiExampleTests
{
    [Fact]
    public void LoadAPyTorchModel_StreamSteps_TrainAClassifier_AsTheReadmeShowsIt()
    {
        string path = Path.Combine(AppContext.BaseDirectory, "Golden", "lstm_lengths_h0", "model.safetensors");

        // ---- README: "Use it" (begin) ----
        // Serve a PyTorch nn.LSTM (its state_dict saved as safetensors); the network is immutable: share it.
        RecurrentNetwork lstm = PyTorchImport.Load(path, new PyTorchImportOptions { Prefix = "encoder.lstm." }).Network;
        RecurrentState stream = lstm.CreateState();                 // one per stream: small and serialisable
        float[] x = new float[lstm.Options.InputSize], h = new float[lstm.Options.OutputSize];
        lstm.Step(stream, x, h);                                    // one step; allocates nothing

        // Train a many-to-one GRU classifier on token sequences [T, B], then serve it.
        using var model = SequenceClassifier.Create(new SequenceClassifierOptions
        {
            VocabularySize = 3, EmbeddingSize = 8, Classes = 2,
            Recurrent = new RecurrentNetworkOptions { Cell = CellType.Gru, HiddenSize = 16 },
        }, seed: 1);
        var trainer = new Trainer(model.Parameters, new Adam(0.02), new TrainerOptions { MaxGradientNorm = 1 });
        const int T = 12, B = 32;
        int[] tokens = new int[T * B], labels = new int[B];        // your data: ids [T, B], one label per sequence
        // ---- README (pause) ----
        var random = new DeterministicRandom(5);
        TrainingResult result = default;
        for (int step = 0; step < 300; step++)
        {
            MoreAThanB(random, tokens, labels, T, B);
            // ---- README (resume) ----
            result = model.ForwardBackward(tokens, T, B, labels);  // loss and accuracy; gradients added
            trainer.Update();                                       // clip, Adam, zero the gradients
            // ---- README (pause) ----
        }

        // ---- README (resume) ----
        SequenceClassifierInference served = model.ToInference();  // immutable snapshot: Predict, CreateStream
        float[] probabilities = new float[B * 2];
        served.Predict(tokens, T, B, probabilities, probabilities: true);
        // ---- README: "Use it" (end) ----

        Assert.Contains(h, v => v != 0);
        Assert.True(result.Accuracy > 0.75, $"training accuracy {result.Accuracy}");
        int right = 0;
        for (int b = 0; b < B; b++)
        {
            right += (probabilities[(2 * b) + 1] > 0.5f ? 1 : 0) == labels[b] ? 1 : 0;
        }

        Assert.True(right >= 0.8 * B, $"{right}/{B} served predictions right");
    }

    /// <summary>Tokens 0 (filler), 1 (A) and 2 (B); label 1 when A occurs more often than B.</summary>
    private static void MoreAThanB(DeterministicRandom random, int[] tokens, int[] labels, int steps, int batch)
    {
        for (int b = 0; b < batch; b++)
        {
            int balance = 0;
            for (int t = 0; t < steps; t++)
            {
                int token = (int)(random.NextUInt64() % 3);
                tokens[(t * batch) + b] = token;
                balance += token == 1 ? 1 : token == 2 ? -1 : 0;
            }

            labels[b] = balance > 0 ? 1 : 0;
        }
    }
}
