using System.Diagnostics;
using Rnn.Simd.Cells;
using Rnn.Simd.Kernels.Threading;
using Rnn.Simd.Layers;
using Rnn.Simd.Networks;
using Rnn.Simd.Training;

namespace Rnn.Simd.Cli.Demo;

/// <summary>
/// Elman's (1990) temporal XOR: a stream of bits in which every third bit is the XOR of the two before it
/// (0 1 1, 1 0 1, 0 0 0, …); the network reads one bit per step and predicts the next. Only the third bit of
/// each triple is predictable; a network that has learned the task predicts it well and the two random bits at 0.5
/// (squared error 0.25).
/// </summary>
internal static class TemporalXor
{
    /// <summary>
    /// Trains an Elman network with a sigmoid output on <see cref="Config.Batch"/> independent streams by truncated BPTT
    /// (k1 = k2 = <see cref="Config.Window"/>, the state carried across windows), MSE and Adam; then runs fresh streams
    /// of <see cref="Config.TestSteps"/> steps from the zero state and measures the squared error by the position of the
    /// predicted bit in its triple.
    /// </summary>
    /// <param name="c">The run's settings.</param>
    /// <param name="progress">Called after every update with its index and the training loss.</param>
    /// <param name="threads">The thread team for the matrix products, or null for the calling thread only.</param>
    public static Result Run(Config c, Action<int, double>? progress = null, ThreadTeam? threads = null)
    {
        var clock = Stopwatch.StartNew();
        var options = new RecurrentNetworkOptions { Cell = CellType.Rnn, Nonlinearity = c.Nonlinearity, InputSize = 1, HiddenSize = c.Hidden };
        using var model = StackWithHead.Create(options, 1, OutputActivation.Sigmoid);
        Trainer trainer = model.Initialize(c);

        int k = c.Window, batch = c.Batch, hidden = c.Hidden;
        var x = new float[k * batch];              // [k, B, 1]
        var target = new float[k * batch];         // [k, B, 1] the next bit
        var h = new float[k * batch * hidden];     // [k, B, H]
        var y = new float[k * batch];              // [k, B, 1]
        var dy = new float[k * batch];
        var dh = new float[k * batch * hidden];
        DeterministicRandom trainData = DemoRandom.Stream(c.Seed, DemoRandom.Training);
        var streams = new Stream[batch];
        var current = new int[batch];
        for (int b = 0; b < batch; b++)
        {
            streams[b] = new Stream(trainData);
            current[b] = streams[b].Next();
        }

        double lastLoss = double.NaN;
        using (var tbptt = new TruncatedBptt(model.Network, k, k, batch))
        {
            for (int update = 0; update < c.Updates; update++)
            {
                for (int t = 0; t < k; t++)
                {
                    for (int b = 0; b < batch; b++)
                    {
                        int next = streams[b].Next();
                        x[(t * batch) + b] = current[b];
                        target[(t * batch) + b] = next;
                        current[b] = next;
                    }
                }

                tbptt.Forward(x, k, h, threads);
                model.Head.Forward(h, k * batch, y, threads);
                lastLoss = Losses.MeanSquaredError(y, target, dy);
                Array.Clear(dh);
                model.Head.Backward(h, y, dy, k * batch, dh, threads);
                tbptt.Backward(dh, threads);
                trainer.Update();
                progress?.Invoke(update, lastLoss);
            }
        }

        // Fresh streams, whole sequences from the zero state: squared error split by the predicted bit's place in its triple.
        int steps = c.TestSteps;
        DeterministicRandom testData = DemoRandom.Stream(c.Seed, DemoRandom.Test);
        var bits = new float[(steps + 1) * batch];             // [T + 1, B]
        for (int b = 0; b < batch; b++)
        {
            var stream = new Stream(testData);
            for (int t = 0; t <= steps; t++)
            {
                bits[(t * batch) + b] = stream.Next();
            }
        }

        var testH = new float[steps * batch * hidden];
        var testY = new float[steps * batch];
        model.Network.Forward(model.Tape, bits.AsSpan(0, steps * batch), steps, batch, testH, threads: threads);
        model.Head.Forward(testH, steps * batch, testY, threads);
        double predictable = 0, random = 0;
        int predictableCount = 0, randomCount = 0, predictableRight = 0;
        for (int t = 0; t < steps; t++)
        {
            bool isXor = (t + 1) % 3 == 2;   // the predicted bit, number t + 1 of the stream, is the third of its triple
            for (int b = 0; b < batch; b++)
            {
                float actual = bits[((t + 1) * batch) + b];
                double e = testY[(t * batch) + b] - actual;
                if (isXor)
                {
                    predictable += e * e;
                    predictableCount++;
                    predictableRight += Math.Abs(e) < 0.5 ? 1 : 0;
                }
                else
                {
                    random += e * e;
                    randomCount++;
                }
            }
        }

        return new Result(
            predictable / predictableCount, random / randomCount, (double)predictableRight / predictableCount, lastLoss,
            model.Fingerprint(), clock.Elapsed.TotalSeconds);
    }

    /// <summary>One bit stream; starts at the first bit of a triple.</summary>
    private sealed class Stream(DeterministicRandom random)
    {
        private int _position;
        private int _first, _second;

        public int Next()
        {
            int bit = (_position % 3) switch
            {
                0 => _first = random.Next(2),
                1 => _second = random.Next(2),
                _ => _first ^ _second,
            };
            _position++;
            return bit;
        }
    }

    internal sealed record Config : TrainingBudget
    {
        public Config() => Hidden = 8;

        public Nonlinearity Nonlinearity { get; init; } = Nonlinearity.Sigmoid;

        /// <summary>The truncation window k1 = k2.</summary>
        public int Window { get; init; } = 6;

        /// <summary>Steps of each fresh held-out stream.</summary>
        public int TestSteps { get; init; } = 300;
    }

    /// <param name="PredictableMse">Mean squared error on the XOR bits (every third).</param>
    /// <param name="RandomMse">Mean squared error on the two random bits of each triple.</param>
    /// <param name="PredictableAccuracy">Share of the XOR bits predicted on the right side of 0.5.</param>
    /// <param name="LastTrainingLoss">The loss of the last training window.</param>
    /// <param name="Weights">The fingerprint of the trained weights (<see cref="ModelTraining.Fingerprint"/>).</param>
    /// <param name="Seconds">Wall-clock time of the whole run.</param>
    internal sealed record Result(
        double PredictableMse, double RandomMse, double PredictableAccuracy, double LastTrainingLoss, string Weights, double Seconds);
}
