using System.Diagnostics;
using Rnn.Simd.Cells;
using Rnn.Simd.Kernels;
using Rnn.Simd.Kernels.Threading;
using Rnn.Simd.Layers;
using Rnn.Simd.Networks;
using Rnn.Simd.Training;

namespace Rnn.Simd.Cli.Demo;

/// <summary>
/// The embedded Reber grammar (Cleeremans, Servan-Schreiber and McClelland 1989; Hochreiter and Schmidhuber 1997,
/// experiment 1): B, then T or P, then a string of the Reber grammar, then the same T or P again, then E. A network
/// reads the string one symbol at a time and predicts the set of legal next symbols. Every next set inside the string
/// follows from the last few symbols, except the penultimate one: T or P, which repeats the second symbol across the
/// whole inner string.
/// </summary>
/// <remarks>
/// The inner Reber grammar, each branch taken with probability ½:
/// <code>
///   0 ─B→ 1;  1 ─T→ 2, 1 ─P→ 3;  2 ─S→ 2, 2 ─X→ 4;  3 ─T→ 3, 3 ─V→ 5;  4 ─X→ 3, 4 ─S→ 6;  5 ─P→ 4, 5 ─V→ 6;  6 ─E→ end
/// </code>
/// </remarks>
internal static class EmbeddedReber
{
    public const int Symbols = 7;
    public const string Alphabet = "BTPSXVE";
    private const int B = 0, T = 1, P = 2, S = 3, X = 4, V = 5, E = 6;

    // The inner grammar's transitions: from node n, branch k ∈ {0, 1} emits Emit[n, k] and goes to Next[n, k].
    private static readonly int[,] s_emit = { { B, B }, { T, P }, { S, X }, { T, V }, { X, S }, { P, V } };
    private static readonly int[,] s_next = { { 1, 1 }, { 2, 3 }, { 2, 4 }, { 3, 5 }, { 3, 6 }, { 4, 6 } };

    /// <summary>
    /// One string: its symbols and, after each symbol but the last, the legal next symbols as a bit mask
    /// (bit s set when symbol s may follow).
    /// </summary>
    internal sealed record Sample(int[] Symbols, int[] LegalNext)
    {
        public override string ToString() => new([.. Symbols.Select(s => Alphabet[s])]);
    }

    public static Sample Generate(DeterministicRandom random)
    {
        var symbols = new List<int>();
        var legal = new List<int>();
        void Emit(int symbol, int nextMask)
        {
            symbols.Add(symbol);
            legal.Add(nextMask);
        }

        int outer = random.Next(2) == 0 ? T : P;
        Emit(B, Bit(T) | Bit(P));
        Emit(outer, Bit(B));
        Emit(B, Bit(T) | Bit(P));
        int node = 1;
        while (node != 6)
        {
            int branch = random.Next(2);
            int symbol = s_emit[node, branch];
            node = s_next[node, branch];
            Emit(symbol, node == 6 ? Bit(E) : Bit(s_emit[node, 0]) | Bit(s_emit[node, 1]));
        }

        Emit(E, Bit(outer));        // the inner string's end: only the second symbol may follow
        Emit(outer, Bit(E));
        symbols.Add(E);             // the last symbol has no successor
        return new Sample([.. symbols], [.. legal]);
    }

    /// <summary>
    /// Trains an LSTM with a sigmoid output per symbol (multi-label: target 1 for every legal next symbol) by full BPTT
    /// over batches of whole strings (per-string lengths), MSE on the valid steps and Adam; then scores held-out strings.
    /// </summary>
    /// <param name="c">The run's settings.</param>
    /// <param name="progress">Called after every update with its index and the training loss.</param>
    /// <param name="threads">The thread team for the matrix products, or null for the calling thread only.</param>
    public static Result Run(Config c, Action<int, double>? progress = null, ThreadTeam? threads = null)
    {
        var clock = Stopwatch.StartNew();
        var options = new RecurrentNetworkOptions { Cell = c.Cell, InputSize = Symbols, HiddenSize = c.Hidden };
        using var model = StackWithHead.Create(options, Symbols, OutputActivation.Sigmoid);
        Trainer trainer = model.Initialize(c);
        DeterministicRandom trainData = DemoRandom.Stream(c.Seed, DemoRandom.Training);
        var batchBuffers = new BatchBuffers(c.Batch, c.Hidden);
        var samples = new Sample[c.Batch];
        int trainingStrings = 0;
        double lastLoss = double.NaN;
        for (int update = 0; update < c.Updates; update++)
        {
            for (int b = 0; b < c.Batch; b++)
            {
                samples[b] = Generate(trainData);
            }

            trainingStrings += c.Batch;
            BatchBuffers buffers = batchBuffers.Fill(samples);
            int steps = buffers.Steps, rows = steps * c.Batch;
            Span<float> h = buffers.H.AsSpan(0, rows * c.Hidden), y = buffers.Y.AsSpan(0, rows * Symbols);
            Span<float> dy = buffers.DY.AsSpan(0, rows * Symbols), dh = buffers.DH.AsSpan(0, rows * c.Hidden);
            model.Network.Forward(model.Tape, buffers.X.AsSpan(0, rows * Symbols), steps, c.Batch, h, lengths: buffers.Lengths, threads: threads);
            model.Head.Forward(h, rows, y, threads);

            // MSE over the valid steps only: dL/dy = 2 (y − target) / (valid steps · 7), zero on padding.
            float scale = 2f / (buffers.ValidSteps * Symbols);
            ReadOnlySpan<float> target = buffers.Target.AsSpan(0, rows * Symbols);
            double squares = 0;
            for (int i = 0; i < dy.Length; i++)
            {
                bool valid = buffers.Mask[i / Symbols];
                float e = y[i] - target[i];
                dy[i] = valid ? scale * e : 0f;
                squares += valid ? (double)e * e : 0;
            }

            lastLoss = squares / (buffers.ValidSteps * Symbols);
            dh.Clear();
            model.Head.Backward(h, y, dy, rows, dh, threads);
            model.Network.Backward(model.Tape, dh, threads: threads);
            trainer.Update();
            progress?.Invoke(update, lastLoss);
        }

        // Held-out strings: a string is correct when at every step all legal next symbols score above all illegal
        // ones (the ranking criterion) — and, separately, when every legal one is above 0.5 and every illegal one below.
        (int Ranked, int Thresholded, int Penultimate, int Strings, int Longest, string? FirstFailure) HeldOut(RecurrentNetwork? inference)
        {
            DeterministicRandom testData = DemoRandom.Stream(c.Seed, DemoRandom.Test);
            int ranked = 0, thresholded = 0, penultimateRight = 0, strings = 0;
            int longest = 0;
            string? firstFailure = null;
            for (int k = 0; k < c.TestBatches; k++)
            {
                for (int b = 0; b < c.Batch; b++)
                {
                    samples[b] = Generate(testData);
                    longest = Math.Max(longest, samples[b].Symbols.Length);
                }

                BatchBuffers buffers = batchBuffers.Fill(samples);
                int steps = buffers.Steps, rows = steps * c.Batch;
                Span<float> h = buffers.H.AsSpan(0, rows * c.Hidden), y = buffers.Y.AsSpan(0, rows * Symbols);
                if (inference is null)
                {
                    model.Network.Forward(model.Tape, buffers.X.AsSpan(0, rows * Symbols), steps, c.Batch, h, lengths: buffers.Lengths, threads: threads);
                }
                else
                {
                    inference.Forward(buffers.X.AsSpan(0, rows * Symbols), steps, c.Batch, h, lengths: buffers.Lengths, threads: threads);
                }

                model.Head.Forward(h, rows, y, threads);
                for (int b = 0; b < c.Batch; b++)
                {
                    Sample sample = samples[b];
                    bool allRanked = true, allThresholded = true;
                    int inputs = sample.LegalNext.Length;
                    for (int t = 0; t < inputs; t++)
                    {
                        ReadOnlySpan<float> scores = y.Slice(((t * c.Batch) + b) * Symbols, Symbols);
                        (bool isRanked, bool isThresholded) = Score(scores, sample.LegalNext[t]);
                        allRanked &= isRanked;
                        allThresholded &= isThresholded;
                        if (t == inputs - 2 && isRanked)
                        {
                            penultimateRight++;   // input: the inner E; the legal set: the second symbol only
                        }
                    }

                    strings++;
                    ranked += allRanked ? 1 : 0;
                    thresholded += allThresholded ? 1 : 0;
                    if (!allRanked)
                    {
                        firstFailure ??= sample.ToString();
                    }
                }
            }
            return (ranked, thresholded, penultimateRight, strings, longest, firstFailure);
        }

        // The same held-out strings through inference snapshots with reduced weights (perf/results/precision.md).
        var reduced = new Dictionary<string, double>();
        foreach ((string name, WeightPrecision precision) in new[] { ("bf16", WeightPrecision.BFloat16), ("int8", WeightPrecision.Int8) })
        {
            var r = HeldOut(model.Network.ToInferenceNetwork().WithWeightPrecision(precision));
            reduced[$"strings_correct_{name}"] = (double)r.Ranked / r.Strings;
            reduced[$"penultimate_accuracy_{name}"] = (double)r.Penultimate / r.Strings;
        }

        (int ranked, int thresholded, int penultimateRight, int strings, int longest, string? firstFailure) = HeldOut(null);
        return new Result(
            (double)ranked / strings, (double)thresholded / strings, (double)penultimateRight / strings,
            trainingStrings, strings, longest, firstFailure, lastLoss, model.Fingerprint(), clock.Elapsed.TotalSeconds)
        {
            Reduced = reduced,
        };
    }

    private static (bool Ranked, bool Thresholded) Score(ReadOnlySpan<float> scores, int legalMask)
    {
        float lowestLegal = float.PositiveInfinity, highestIllegal = float.NegativeInfinity;
        for (int s = 0; s < Symbols; s++)
        {
            if ((legalMask & Bit(s)) != 0)
            {
                lowestLegal = Math.Min(lowestLegal, scores[s]);
            }
            else
            {
                highestIllegal = Math.Max(highestIllegal, scores[s]);
            }
        }

        return (lowestLegal > highestIllegal, lowestLegal > 0.5f && highestIllegal < 0.5f);
    }

    private static int Bit(int symbol) => 1 << symbol;

    /// <summary>A batch of strings as time-major one-hot inputs and multi-label targets, padded to the longest.</summary>
    private sealed class BatchBuffers(int batch, int hidden)
    {
        public float[] X { get; private set; } = [];        // [T, B, 7] one-hot input symbols
        public float[] Target { get; private set; } = [];   // [T, B, 7] 1 for each legal next symbol
        public bool[] Mask { get; private set; } = [];      // [T, B] whether the step is inside the string
        public float[] H { get; private set; } = [];        // [T, B, H]
        public float[] Y { get; private set; } = [];        // [T, B, 7]
        public float[] DY { get; private set; } = [];       // [T, B, 7]
        public float[] DH { get; private set; } = [];       // [T, B, H]
        public int[] Lengths { get; } = new int[batch];     // [B] input steps of each string (its length − 1)
        public int Steps { get; private set; }
        public int ValidSteps { get; private set; }

        public BatchBuffers Fill(Sample[] samples)
        {
            int steps = 0, valid = 0;
            for (int b = 0; b < batch; b++)
            {
                Lengths[b] = samples[b].LegalNext.Length;
                steps = Math.Max(steps, Lengths[b]);
                valid += Lengths[b];
            }

            Steps = steps;
            ValidSteps = valid;
            int rows = steps * batch;
            if (X.Length < rows * Symbols)
            {
                // Grown (rarely: only for a longer batch than any before), never per call.
                X = new float[rows * Symbols];
                Target = new float[rows * Symbols];
                Mask = new bool[rows];
                Y = new float[rows * Symbols];
                DY = new float[rows * Symbols];
                H = new float[rows * hidden];
                DH = new float[rows * hidden];
            }

            Array.Clear(X);
            Array.Clear(Target);
            Array.Clear(Mask);
            for (int b = 0; b < batch; b++)
            {
                Sample sample = samples[b];
                for (int t = 0; t < sample.LegalNext.Length; t++)
                {
                    int row = (t * batch) + b;
                    X[(row * Symbols) + sample.Symbols[t]] = 1f;
                    Mask[row] = true;
                    for (int s = 0; s < Symbols; s++)
                    {
                        Target[(row * Symbols) + s] = (sample.LegalNext[t] & Bit(s)) != 0 ? 1f : 0f;
                    }
                }
            }

            return this;
        }
    }

    internal sealed record Config : TrainingBudget
    {
        public Config() => Updates = 500;

        public CellType Cell { get; init; } = CellType.Lstm;
    }

    /// <param name="StringsCorrect">Held-out strings whose every step ranks all legal next symbols above all illegal ones.</param>
    /// <param name="StringsCorrectAtHalf">Held-out strings whose every step has the legal symbols above 0.5 and the illegal below.</param>
    /// <param name="PenultimateAccuracy">Held-out strings whose penultimate symbol (T or P) is ranked right.</param>
    /// <param name="TrainingStrings">Strings seen in training.</param>
    /// <param name="TestStrings">Held-out strings scored.</param>
    /// <param name="LongestTestString">Symbols in the longest held-out string.</param>
    /// <param name="FirstFailure">The first held-out string not fully correct, or null.</param>
    /// <param name="LastTrainingLoss">The loss (MSE over the valid steps) of the last training batch.</param>
    /// <param name="Weights">The fingerprint of the trained weights (<see cref="ModelTraining.Fingerprint"/>).</param>
    /// <param name="Seconds">Wall-clock time of the whole run.</param>
    internal sealed record Result(
        double StringsCorrect, double StringsCorrectAtHalf, double PenultimateAccuracy, int TrainingStrings, int TestStrings,
        int LongestTestString, string? FirstFailure, double LastTrainingLoss, string Weights, double Seconds)
    {
        /// <summary>The held-out metrics of inference snapshots at bf16 and int8 weights (strings_correct_bf16, …).</summary>
        public IReadOnlyDictionary<string, double> Reduced { get; init; } = new Dictionary<string, double>();
    }
}
