using Rnn.Simd.Cells;
using Rnn.Simd.Layers;
using Rnn.Simd.Parameters;
using Rnn.Simd.Tests.Infrastructure;
using Rnn.Simd.Training;

namespace Rnn.Simd.Tests.Training;

/// <summary>The README's training example, compiled and run (a shortened loop), so the README stays true.</summary>
[Trait("Category", "Training")]
[Trait("Isa", "All")]
public sealed class ReadmeTrainingExampleTests
{
    [Fact]
    public void ManyToOneRegression_AsTheReadmeShowsIt_LowersTheLoss()
    {
        // ---- README: "Train it" (begin) ----
        // Many-to-one regression: an LSTM and a linear head, trained together with one optimiser.
        var lstm = new RecurrentNetworkOptions { Cell = CellType.Lstm, InputSize = 2, HiddenSize = 32 };
        ParameterSet parameters = ParameterSet.Create([.. lstm.ParameterSpecs("rnn."), .. TrainableDenseLayer.Specs(32, 1, "head.")]);
        Initializers.Apply(parameters, RecurrentInitialization.PyTorch, seed: 42);
        var rnn = new TrainableRecurrentNetwork(lstm, parameters, "rnn.");
        var head = new TrainableDenseLayer(32, 1, OutputActivation.Identity, parameters, "head.");
        var trainer = new Trainer(parameters, new Adam(0.01), new TrainerOptions { MaxGradientNorm = 1.0 });
        using RecurrentTape tape = rnn.CreateTape();

        const int T = 50, B = 32;
        float[] x = new float[T * B * 2], target = new float[B];        // your data: x [T, B, 2], one target per sequence
        float[] last = new float[B * 32], y = new float[B], dy = new float[B], dLast = new float[B * 32];
        // ---- README (pause) ----
        var random = new TestRandom(1);
        random.Array(x.Length, -1, 1).CopyTo(x, 0);
        for (int b = 0; b < B; b++)
        {
            target[b] = x[((T - 1) * B + b) * 2] + x[((T - 2) * B + b) * 2];   // depends on the last two steps
        }

        double first = double.NaN, loss = double.NaN;
        for (int step = 0; step < 60; step++)                             // the README runs 1000
        {
            // ---- README (resume) ----
            rnn.Forward(tape, x, T, B, last, lastStepOnly: true);       // h at each sequence's last step, [B, 32]
            head.Forward(last, B, y);
            loss = Losses.MeanSquaredError(y, target, dy);
            dLast.AsSpan().Clear();                                      // backward passes add into their outputs
            head.Backward(last, y, dy, B, dLast);                        // dW, db added into parameters.Gradients
            rnn.Backward(tape, dLast);                                    // BPTT over all 50 steps
            UpdateResult update = trainer.Update();                       // non-finite guard, clipping, Adam, zero gradients
            // ---- README: "Train it" (end) ----
            Assert.True(update.Applied);
            first = double.IsNaN(first) ? loss : first;
        }

        Assert.True(loss < 0.5 * first, $"loss {first} → {loss}");
    }
}
