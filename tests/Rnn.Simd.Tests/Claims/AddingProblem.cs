using System.Diagnostics;
using Rnn.Simd.Tests.Infrastructure;
using Rnn.Simd.Training;

namespace Rnn.Simd.Tests.Claims;

/// <summary>
/// The adding problem (Hochreiter and Schmidhuber 1997, experiment 4; in the form of Le, Jaitly and Hinton 2015):
/// every step carries a value drawn from U(0, 1) and a marker bit; exactly two steps are marked, one in the first half
/// of the sequence and one in the second; the target at the end is the sum of the two marked values. Predicting the
/// mean (1) scores Var(u₁ + u₂) = 2/12 ≈ 0.167; remembering only the later value scores 1/12 ≈ 0.083.
/// </summary>
internal static class AddingProblem
{
    public const double MeanPredictorMse = 2.0 / 12.0;

    /// <summary>Fills x [T, B, 2] (time-major: value, marker) and target [B].</summary>
    public static void Batch(TestRandom random, int steps, int batch, Span<float> x, Span<float> target)
    {
        x.Clear();
        int half = steps / 2;
        for (int b = 0; b < batch; b++)
        {
            for (int t = 0; t < steps; t++)
            {
                x[((t * batch) + b) * 2] = random.NextFloat();
            }

            int first = random.Next(half), second = half + random.Next(steps - half);
            x[(((first * batch) + b) * 2) + 1] = 1f;
            x[(((second * batch) + b) * 2) + 1] = 1f;
            target[b] = x[((first * batch) + b) * 2] + x[((second * batch) + b) * 2];
        }
    }

    /// <summary>
    /// Trains a many-to-one model (last step only, linear head) with Adam and global-norm clipping, and measures it on a
    /// held-out set; the gradient norms ‖dL/dh_t‖ are taken on the first training batch before the first update and on
    /// a held-out batch after training.
    /// </summary>
    public static Result Run(Config c)
    {
        var clock = Stopwatch.StartNew();
        var options = new RecurrentNetworkOptions { Cell = c.Cell, Nonlinearity = c.Nonlinearity, InputSize = 2, HiddenSize = c.Hidden };
        using var model = new RecurrentModel(options, 1, OutputActivation.Identity);
        Initializers.Apply(model.Parameters, c.Initialization, c.Seed);
        var trainer = new Trainer(model.Parameters, new Adam(c.LearningRate), new TrainerOptions { MaxGradientNorm = c.MaxGradientNorm });

        int steps = c.Steps, batch = c.Batch, hidden = c.Hidden;
        var x = new float[steps * batch * 2];      // [T, B, 2]
        var target = new float[batch];             // [B]
        var h = new float[batch * hidden];         // [B, H] the last step's output
        var y = new float[batch];                  // [B, 1]
        var dy = new float[batch];
        var dh = new float[batch * hidden];
        var normsAtStart = new float[steps];       // [L·D = 1, T]
        var trainData = new TestRandom(c.Seed * 0x9E3779B97F4A7C15UL + 1);
        double lastLoss = double.NaN;
        for (int update = 0; update < c.Updates; update++)
        {
            Batch(trainData, steps, batch, x, target);
            model.Network.Forward(model.Tape, x, steps, batch, h, lastStepOnly: true);
            model.Head.Forward(h, batch, y);
            lastLoss = Losses.MeanSquaredError(y, target, dy);
            Array.Clear(dh);
            model.Head.Backward(h, y, dy, batch, dh);
            model.Network.Backward(model.Tape, dh, hiddenGradientNorms: update == 0 ? normsAtStart : default);
            trainer.Update();
        }

        // Held-out set: its own seed, evaluated in batches of the training size.
        var testData = new TestRandom(c.Seed * 0x9E3779B97F4A7C15UL + 2);
        var normsAfter = new float[steps];
        double sum = 0;
        int count = 0;
        for (int k = 0; k < c.TestBatches; k++)
        {
            Batch(testData, steps, batch, x, target);
            model.Network.Forward(model.Tape, x, steps, batch, h, lastStepOnly: true);
            model.Head.Forward(h, batch, y);
            double loss = Losses.MeanSquaredError(y, target, dy);
            sum += loss * batch;
            count += batch;
            if (k == 0)
            {
                Array.Clear(dh);
                model.Head.Backward(h, y, dy, batch, dh);
                model.Network.Backward(model.Tape, dh, hiddenGradientNorms: normsAfter);
                model.Parameters.ZeroGradients();
            }
        }

        return new Result(sum / count, lastLoss, normsAtStart, normsAfter, model.Fingerprint(), clock.Elapsed.TotalSeconds);
    }

    internal sealed record Config
    {
        public CellType Cell { get; init; } = CellType.Lstm;

        public Nonlinearity Nonlinearity { get; init; } = Nonlinearity.Tanh;

        public RecurrentInitialization Initialization { get; init; } = RecurrentInitialization.PyTorch;

        public int Hidden { get; init; } = 32;

        public int Steps { get; init; } = 50;

        public int Batch { get; init; } = 32;

        public int Updates { get; init; } = 1000;

        public double LearningRate { get; init; } = 1e-2;

        public double MaxGradientNorm { get; init; } = 1.0;

        public int TestBatches { get; init; } = 32;

        public ulong Seed { get; init; } = 1;
    }

    /// <param name="TestMse">MSE on the held-out set.</param>
    /// <param name="LastTrainingLoss">The loss of the last training batch.</param>
    /// <param name="NormsAtStart">‖dL/dh_t‖ for t = 0 … T−1 at initialisation (first batch, before any update).</param>
    /// <param name="NormsAfter">‖dL/dh_t‖ on a held-out batch after training.</param>
    /// <param name="Weights">The fingerprint of the trained weights (<see cref="RecurrentModel.Fingerprint"/>).</param>
    /// <param name="Seconds">Wall-clock time of the whole run.</param>
    internal sealed record Result(double TestMse, double LastTrainingLoss, float[] NormsAtStart, float[] NormsAfter, string Weights, double Seconds);
}
