using System.Diagnostics;
using Rnn.Simd.Cells;
using Rnn.Simd.Kernels;
using Rnn.Simd.Kernels.Threading;
using Rnn.Simd.Layers;
using Rnn.Simd.Networks;
using Rnn.Simd.Training;

namespace Rnn.Simd.Cli.Demo;

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
    public static void Batch(DeterministicRandom random, int steps, int batch, Span<float> x, Span<float> target)
    {
        x.Clear();
        int half = steps / 2;
        for (int b = 0; b < batch; b++)
        {
            for (int t = 0; t < steps; t++)
            {
                x[((t * batch) + b) * 2] = random.NextSingle();
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
    /// <param name="c">The run's settings.</param>
    /// <param name="progress">Called after every update with its index and the training loss.</param>
    /// <param name="threads">The thread team for the matrix products, or null for the calling thread only.</param>
    public static Result Run(Config c, Action<int, double>? progress = null, ThreadTeam? threads = null)
    {
        var clock = Stopwatch.StartNew();
        var options = new RecurrentNetworkOptions { Cell = c.Cell, Nonlinearity = c.Nonlinearity, InputSize = 2, HiddenSize = c.Hidden };
        using var model = StackWithHead.Create(options, 1, OutputActivation.Identity);
        Trainer trainer = model.Initialize(c);

        int steps = c.Steps, batch = c.Batch, hidden = c.Hidden;
        var x = new float[steps * batch * 2];      // [T, B, 2]
        var target = new float[batch];             // [B]
        var h = new float[batch * hidden];         // [B, H] the last step's output
        var y = new float[batch];                  // [B, 1]
        var dy = new float[batch];
        var dh = new float[batch * hidden];
        var normsAtStart = new float[steps];       // [L·D = 1, T]
        DeterministicRandom trainData = DemoRandom.Stream(c.Seed, DemoRandom.Training);
        double lastLoss = double.NaN;
        for (int update = 0; update < c.Updates; update++)
        {
            Batch(trainData, steps, batch, x, target);
            lastLoss = ForwardBackward(model, x, target, steps, batch, h, y, dy, dh, update == 0 ? normsAtStart : default, threads);
            trainer.Update();
            progress?.Invoke(update, lastLoss);
        }

        // Held-out set: its own stream, evaluated in batches of the training size.
        DeterministicRandom testData = DemoRandom.Stream(c.Seed, DemoRandom.Test);
        var normsAfter = new float[steps];
        double sum = 0;
        int count = 0;
        for (int k = 0; k < c.TestBatches; k++)
        {
            Batch(testData, steps, batch, x, target);
            if (k == 0)
            {
                sum += batch * ForwardBackward(model, x, target, steps, batch, h, y, dy, dh, normsAfter, threads);
                model.Parameters.ZeroGradients();
            }
            else
            {
                model.Network.Forward(model.Tape, x, steps, batch, h, threads: threads, lastStepOnly: true);
                model.Head.Forward(h, batch, y, threads);
                sum += batch * Losses.MeanSquaredError(y, target, dy);
            }

            count += batch;
        }

        // The same held-out set through inference snapshots with reduced weights (perf/results/precision.md).
        var reduced = new Dictionary<string, double>();
        foreach ((string name, WeightPrecision precision) in new[] { ("bf16", WeightPrecision.BFloat16), ("int8", WeightPrecision.Int8) })
        {
            RecurrentNetwork snapshot = model.Network.ToInferenceNetwork().WithWeightPrecision(precision);
            testData = DemoRandom.Stream(c.Seed, DemoRandom.Test);
            double reducedSum = 0;
            for (int k = 0; k < c.TestBatches; k++)
            {
                Batch(testData, steps, batch, x, target);
                snapshot.Forward(x, steps, batch, h, threads: threads, lastStepOnly: true);
                model.Head.Forward(h, batch, y, threads);
                reducedSum += batch * Losses.MeanSquaredError(y, target, dy);
            }

            reduced[$"test_mse_{name}"] = reducedSum / count;
        }

        return new Result(sum / count, lastLoss, normsAtStart, normsAfter, model.Fingerprint(), clock.Elapsed.TotalSeconds) { Reduced = reduced };
    }

    /// <summary>One batch forward and backward (gradients added into the parameter set); returns the loss.</summary>
    private static double ForwardBackward(
        StackWithHead model, float[] x, float[] target, int steps, int batch, float[] h, float[] y, float[] dy, float[] dh,
        Span<float> hiddenGradientNorms, ThreadTeam? threads)
    {
        model.Network.Forward(model.Tape, x, steps, batch, h, threads: threads, lastStepOnly: true);
        model.Head.Forward(h, batch, y, threads);
        double loss = Losses.MeanSquaredError(y, target, dy);
        Array.Clear(dh);
        model.Head.Backward(h, y, dy, batch, dh, threads);
        model.Network.Backward(model.Tape, dh, threads: threads, hiddenGradientNorms: hiddenGradientNorms);
        return loss;
    }

    internal sealed record Config : TrainingBudget
    {
        public Config() => Hidden = 32;

        public CellType Cell { get; init; } = CellType.Lstm;

        public Nonlinearity Nonlinearity { get; init; } = Nonlinearity.Tanh;

        /// <summary>The sequence length T.</summary>
        public int Steps { get; init; } = 50;
    }

    /// <param name="TestMse">MSE on the held-out set.</param>
    /// <param name="LastTrainingLoss">The loss of the last training batch.</param>
    /// <param name="NormsAtStart">‖dL/dh_t‖ for t = 0 … T−1 at initialisation (first batch, before any update).</param>
    /// <param name="NormsAfter">‖dL/dh_t‖ on a held-out batch after training.</param>
    /// <param name="Weights">The fingerprint of the trained weights (<see cref="ModelTraining.Fingerprint"/>).</param>
    /// <param name="Seconds">Wall-clock time of the whole run.</param>
    internal sealed record Result(double TestMse, double LastTrainingLoss, float[] NormsAtStart, float[] NormsAfter, string Weights, double Seconds)
    {
        /// <summary>The held-out MSE of inference snapshots at bf16 and int8 weights (test_mse_bf16, test_mse_int8).</summary>
        public IReadOnlyDictionary<string, double> Reduced { get; init; } = new Dictionary<string, double>();
    }
}
