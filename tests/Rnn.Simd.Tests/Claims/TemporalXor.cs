using System.Diagnostics;
using Rnn.Simd.Tests.Infrastructure;
using Rnn.Simd.Training;

namespace Rnn.Simd.Tests.Claims;

/// <summary>
/// Elman's (1990) temporal XOR: a stream of bits in which every third bit is the XOR of the two before it
/// (0 1 1, 1 0 1, 0 0 0, …); the network reads one bit per step and predicts the next. Only the third bit of
/// each triple is predictable; a network that has learned the task predicts it well and the two random bits at 0.5
/// (squared error 0.25).
/// </summary>
internal static class TemporalXor
{
    /// <summary>One bit stream; starts at the first bit of a triple.</summary>
    internal sealed class Stream(TestRandom random)
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

    /// <summary>
    /// Trains an Elman network with a sigmoid output on <see cref="Config.Batch"/> independent streams by truncated BPTT
    /// (k1 = k2 = <see cref="Config.Window"/>, the state carried across windows), MSE and Adam; then runs fresh streams
    /// of <see cref="Config.TestSteps"/> steps from the zero state and measures the squared error by the position of the
    /// predicted bit in its triple.
    /// </summary>
    public static Result Run(Config c)
    {
        var clock = Stopwatch.StartNew();
        var options = new RecurrentNetworkOptions { Cell = CellType.Rnn, Nonlinearity = c.Nonlinearity, InputSize = 1, HiddenSize = c.Hidden };
        using var model = new RecurrentModel(options, 1, OutputActivation.Sigmoid);
        Initializers.Apply(model.Parameters, c.Initialization, c.Seed);
        var trainer = new Trainer(model.Parameters, new Adam(c.LearningRate), new TrainerOptions { MaxGradientNorm = c.MaxGradientNorm });

        int k = c.Window, batch = c.Batch, hidden = c.Hidden;
        var x = new float[k * batch];              // [k, B, 1]
        var target = new float[k * batch];         // [k, B, 1] the next bit
        var h = new float[k * batch * hidden];     // [k, B, H]
        var y = new float[k * batch];              // [k, B, 1]
        var dy = new float[k * batch];
        var dh = new float[k * batch * hidden];
        var trainData = new TestRandom(c.Seed * 0x9E3779B97F4A7C15UL + 1);
        var streams = new Stream[batch];
        var current = new int[batch];
        for (int b = 0; b < batch; b++)
        {
            streams[b] = new Stream(trainData);
            current[b] = streams[b].Next();
        }

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

                tbptt.Forward(x, k, h);
                model.Head.Forward(h, k * batch, y);
                Losses.MeanSquaredError(y, target, dy);
                Array.Clear(dh);
                model.Head.Backward(h, y, dy, k * batch, dh);
                tbptt.Backward(dh);
                trainer.Update();
            }
        }

        // Fresh streams, whole sequences from the zero state: squared error split by the predicted bit's place in its triple.
        int steps = c.TestSteps;
        var testData = new TestRandom(c.Seed * 0x9E3779B97F4A7C15UL + 2);
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
        model.Network.Forward(model.Tape, bits.AsSpan(0, steps * batch), steps, batch, testH);
        model.Head.Forward(testH, steps * batch, testY);
        double predictable = 0, random = 0;
        int predictableCount = 0, randomCount = 0;
        for (int t = 0; t < steps; t++)
        {
            bool isXor = (t + 1) % 3 == 2;   // the predicted bit, number t + 1 of the stream, is the third of its triple
            for (int b = 0; b < batch; b++)
            {
                double e = testY[(t * batch) + b] - bits[((t + 1) * batch) + b];
                if (isXor)
                {
                    predictable += e * e;
                    predictableCount++;
                }
                else
                {
                    random += e * e;
                    randomCount++;
                }
            }
        }

        return new Result(predictable / predictableCount, random / randomCount, model.Fingerprint(), clock.Elapsed.TotalSeconds);
    }

    internal sealed record Config
    {
        public Nonlinearity Nonlinearity { get; init; } = Nonlinearity.Sigmoid;

        public RecurrentInitialization Initialization { get; init; } = RecurrentInitialization.PyTorch;

        public int Hidden { get; init; } = 8;

        public int Window { get; init; } = 6;

        public int Batch { get; init; } = 32;

        public int Updates { get; init; } = 1000;

        public double LearningRate { get; init; } = 1e-2;

        public double MaxGradientNorm { get; init; } = 1.0;

        public int TestSteps { get; init; } = 300;

        public ulong Seed { get; init; } = 1;
    }

    /// <param name="PredictableMse">Mean squared error on the XOR bits (every third).</param>
    /// <param name="RandomMse">Mean squared error on the two random bits of each triple.</param>
    /// <param name="Weights">The fingerprint of the trained weights (<see cref="RecurrentModel.Fingerprint"/>).</param>
    /// <param name="Seconds">Wall-clock time of the whole run.</param>
    internal sealed record Result(double PredictableMse, double RandomMse, string Weights, double Seconds);
}
