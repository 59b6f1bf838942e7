using Rnn.Simd.Cells;
using Rnn.Simd.IO;
using Rnn.Simd.Layers;
using Rnn.Simd.Parameters;
using Rnn.Simd.Tests.Infrastructure;
using Rnn.Simd.Tests.Layers;
using Rnn.Simd.Training;

namespace Rnn.Simd.Tests.Training;

/// <summary>
/// The user's cells (<see cref="IRecurrentCell"/>) run by <see cref="CellNetwork"/>: Elman written by hand against the
/// engine's own Elman (forward, every gradient; stacked, bidirectional, lengths), a minimal gated unit against
/// central differences, streaming equal to whole sequences, truncated BPTT equal to full BPTT on one window, a
/// checkpointed run resumed to the same bits, no allocation per call, and the named errors.
/// </summary>
[Trait("Category", "Training")]
[Trait("Isa", "All")]
public sealed class CellNetworkTests
{
    private const int In = 3, H = 5, T = 6, B = 3;

    public static TheoryData<int, bool, DirectionMerge, bool> Shapes() => new()
    {
        { 1, false, DirectionMerge.Concatenate, false },
        { 2, false, DirectionMerge.Concatenate, true },
        { 2, true, DirectionMerge.Concatenate, true },
        { 1, true, DirectionMerge.Sum, true },
        { 3, false, DirectionMerge.Concatenate, true },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void HandWrittenElman_MatchesTheBuiltInElman_ForwardAndEveryGradient(int layers, bool bidirectional, DirectionMerge merge, bool withLengths)
    {
        var o = new RecurrentNetworkOptions { Cell = CellType.Rnn, InputSize = In, HiddenSize = H, Layers = layers, Bidirectional = bidirectional, Merge = merge };
        int d = o.Directions, f = o.LayerOutputSize;
        Dictionary<string, float[]> torch = TestNetworks.PyTorchParameters(o, 5);
        CellNetwork cells = ElmanCells(layers, bidirectional, merge);
        foreach (ParameterTensor t in cells.Parameters.Tensors)
        {
            torch[TorchName(t.Name)].CopyTo(cells.Parameters.Value(t));
        }

        cells.Parameters.MarkChanged();
        var builtIn = TrainableRecurrentNetwork.FromPyTorch(o, torch);
        var random = new TestRandom(3);
        float[] x = random.Array(T * B * In), s0 = random.Array(layers * d * B * H, -0.5f, 0.5f), g = random.Array(T * B * f), gN = random.Array(s0.Length);
        int[] lengths = withLengths ? [T, 2, 0] : [];

        float[] y = new float[T * B * f], sN = new float[s0.Length], gx = new float[x.Length], gs0 = new float[s0.Length];
        using CellTape tape = cells.CreateTape();
        cells.Forward(tape, x, T, B, y, s0, sN, lengths);
        cells.Backward(tape, g, gN, gx, gs0);

        float[] yRef = new float[y.Length], hN = new float[s0.Length], gxRef = new float[x.Length], gh0 = new float[s0.Length];
        using RecurrentTape refTape = builtIn.CreateTape();
        builtIn.Forward(refTape, x, T, B, yRef, s0, default, hN, default, lengths);
        builtIn.Backward(refTape, g, gN, default, gxRef, gh0);

        AssertClose(yRef, y, 1e-5, "output");
        AssertClose(hN, sN, 1e-5, "s_n");
        AssertClose(gxRef, gx, 1e-4, "dL/dx");
        AssertClose(gh0, gs0, 1e-4, "dL/ds0");
        foreach (ParameterTensor t in cells.Parameters.Tensors)
        {
            AssertClose(builtIn.Parameters.Gradient(TorchName(t.Name)).ToArray(), cells.Parameters.Gradient(t).ToArray(), 1e-4, t.Name);
        }

        // The inference path (no tape) gives the tape's bits.
        float[] y2 = new float[y.Length], sN2 = new float[sN.Length];
        cells.Forward(x, T, B, y2, s0, sN2, lengths);
        Assert.Equal(Bits(y), Bits(y2));
        Assert.Equal(Bits(sN), Bits(sN2));
    }

    [Theory]
    [InlineData(1, false)]
    [InlineData(2, true)]
    public void MinimalGatedUnit_Backward_MatchesCentralDifferences(int layers, bool bidirectional)
    {
        var cells = new List<IRecurrentCell>();
        for (int layer = 0; layer < layers; layer++)
        {
            for (int dir = 0; dir < (bidirectional ? 2 : 1); dir++)
            {
                cells.Add(new MinimalGatedCell(layer == 0 ? In : (bidirectional ? 2 : 1) * 4, 4));
            }
        }

        CellNetwork network = CellNetwork.Create(cells, seed: 9, bidirectional: bidirectional);
        var random = new TestRandom(4);
        float[] x = random.Array(T * B * In), s0 = random.Array(B * network.StateSize, -0.5f, 0.5f);
        float[] g = random.Array(T * B * network.OutputSize), gN = random.Array(s0.Length);
        int[] lengths = [T, 3, 1];
        float[] y = new float[g.Length], sN = new float[s0.Length], gx = new float[x.Length], gs0 = new float[s0.Length];
        using (CellTape tape = network.CreateTape())
        {
            network.Forward(tape, x, T, B, y, s0, sN, lengths);
            network.Backward(tape, g, gN, gx, gs0);
        }

        double Loss()
        {
            network.Forward(x, T, B, y, s0, sN, lengths);
            return Dot(y, g) + Dot(sN, gN);
        }

        float[] values = network.Parameters.Values.ToArray();
        CheckAll(network.Parameters.Values, network.Parameters.Gradients.ToArray(), Loss, () => network.Parameters.MarkChanged(), "θ");
        Assert.Equal(Bits(values), Bits(network.Parameters.Values.ToArray()));
        CheckAll(x, gx, Loss, () => { }, "x");
        CheckAll(s0, gs0, Loss, () => { }, "s0");
    }

    [Fact]
    public void Streaming_InChunks_GivesTheBitsOfOneForwardPass()
    {
        CellNetwork network = CellNetwork.Create([new MinimalGatedCell(In, 4), new MinimalGatedCell(4, 6)], seed: 2);
        var random = new TestRandom(5);
        float[] x = random.Array(T * B * In);
        float[] whole = new float[T * B * network.OutputSize], sN = new float[B * network.StateSize];
        network.Forward(x, T, B, whole, sN: sN);

        CellState state = network.CreateState(B);
        float[] streamed = new float[whole.Length];
        int row = B * In, outRow = B * network.OutputSize, at = 0;
        foreach (int chunk in new[] { 1, 3, 2 })
        {
            network.Process(state, x.AsSpan(at * row, chunk * row), chunk, streamed.AsSpan(at * outRow, chunk * outRow));
            at += chunk;
        }

        Assert.Equal(Bits(whole), Bits(streamed));
        Assert.Equal(Bits(sN), Bits(state.State.ToArray()));
        Assert.Equal(T, state.Steps);
    }

    [Fact]
    public void TruncatedBptt_OverOneWholeWindow_EqualsFullBackpropagation()
    {
        IRecurrentCell[] cells = [new MinimalGatedCell(In, 4), new HandElmanCell(4, 5)];
        CellNetwork full = CellNetwork.Create(cells, seed: 6), truncated = CellNetwork.Create(cells, seed: 6);
        var random = new TestRandom(8);
        float[] x = random.Array(T * B * In), g = random.Array(T * B * full.OutputSize);
        float[] y = new float[g.Length], yT = new float[g.Length];
        using (CellTape tape = full.CreateTape())
        {
            full.Forward(tape, x, T, B, y);
            full.Backward(tape, g);
        }

        using var tbptt = new TruncatedBptt(truncated, T, T, B);
        tbptt.Reset();
        tbptt.Forward(x, T, yT);
        tbptt.Backward(g);
        Assert.Equal(Bits(y), Bits(yT));
        Assert.Equal(Bits(full.Parameters.Gradients.ToArray()), Bits(truncated.Parameters.Gradients.ToArray()));
        Assert.Equal(full.StateSize * B, tbptt.Hidden.Length);
        Assert.Empty(tbptt.Cell.ToArray());
    }

    [Fact]
    public void AUserCell_TrainsWithTruncatedBptt_AndAResumedCheckpointEndsOnTheSameBits()
    {
        string dir = Directory.CreateTempSubdirectory("rnn-simd-cells-").FullName;
        try
        {
            string path = Path.Combine(dir, "run.safetensors");
            (double first, double last, float[] bits) = Run(path, stopAt: -1, resume: false);
            Assert.True(last < 0.5 * first, $"The loss went from {first} to {last}.");
            Run(path, stopAt: 30, resume: false);
            (_, _, float[] resumed) = Run(path, stopAt: -1, resume: true);
            Assert.Equal(Bits(bits), Bits(resumed));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Calls_AllocateNothing()
    {
        CellNetwork network = CellNetwork.Create([new HandElmanCell(In, H), new HandElmanCell(In, H), new HandElmanCell(2 * H, H), new HandElmanCell(2 * H, H)], seed: 1, bidirectional: true);
        var random = new TestRandom(2);
        float[] x = random.Array(T * B * In), y = new float[T * B * network.OutputSize], gx = new float[x.Length];
        int[] lengths = [T, 1, 4];
        using CellTape tape = network.CreateTape();
        AllocationAssert.None(() =>
        {
            network.Forward(tape, x, T, B, y, lengths: lengths);
            network.Backward(tape, y, gradInput: gx);
            network.Forward(x, T, B, y, lengths: lengths);
        });

        CellNetwork stream = CellNetwork.Create([new MinimalGatedCell(In, 4)], seed: 1);
        CellState state = stream.CreateState(B);
        float[] y1 = new float[B * 4];
        AllocationAssert.None(() => stream.Step(state, x.AsSpan(0, B * In), y1));
    }

    [Fact]
    public void BadCellsAndCalls_AreNamedErrors()
    {
        var e = Assert.Throws<ArgumentException>(() => CellNetwork.Create([new HandElmanCell(In, H), new HandElmanCell(H + 1, H)]));
        Assert.Contains("layer 1", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<ArgumentException>(() => CellNetwork.Create([new HandElmanCell(In, H)], bidirectional: true));
        Assert.Contains("two cells per layer", e.Message, StringComparison.Ordinal);
        Assert.Throws<NotSupportedException>(() => CellNetwork.Create([new HandElmanCell(In, H), new HandElmanCell(In, H)], bidirectional: true).CreateState());

        var set = ParameterSet.Create(CellNetwork.Specs([new HandElmanCell(In, H)], "rnn."));
        e = Assert.Throws<ArgumentException>(() => new CellNetwork([new HandElmanCell(In, H)], set, "other."));
        Assert.Contains("other.l0.weight_ih", e.Message, StringComparison.Ordinal);

        CellNetwork network = new([new HandElmanCell(In, H)], set, "rnn.");
        float[] x = new float[T * B * In], y = new float[T * B * H];
        Assert.Throws<ArgumentException>(() => network.Forward(x, T, B, y.AsSpan(1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => network.Forward(x, T, B, y, lengths: [T + 1, 0, 0]));
        using CellTape tape = network.CreateTape();
        Assert.Throws<InvalidOperationException>(() => network.Backward(tape, y));
        network.Forward(tape, x, T, B, y);
        set.MarkChanged();
        Assert.Throws<InvalidOperationException>(() => network.Backward(tape, y));

        CellNetwork inferenceOnly = CellNetwork.Create([new ForwardOnlyCell(2)], seed: 1);
        using CellTape tape2 = inferenceOnly.CreateTape();
        float[] x2 = new float[T * 2], y2 = new float[T * 2];
        inferenceOnly.Forward(tape2, x2, T, 1, y2);
        Assert.Throws<NotSupportedException>(() => inferenceOnly.Backward(tape2, y2));
    }

    [Fact]
    public void TheReadmeExample_Trains()
    {
        // ---- README: "Your own cell, trained" (begin) ----
        // Two stacked hand-written Elman layers and a linear head in one parameter set, trained with truncated BPTT.
        IRecurrentCell[] cells = [new HandElmanCell(2, 16), new HandElmanCell(16, 16)];
        ParameterSet parameters = ParameterSet.Create([.. CellNetwork.Specs(cells, "rnn."), .. TrainableDenseLayer.Specs(16, 1, "head.")]);
        Initializers.Apply(parameters, RecurrentInitialization.PyTorch, seed: 42);
        var rnn = new CellNetwork(cells, parameters, "rnn.");
        var head = new TrainableDenseLayer(16, 1, OutputActivation.Identity, parameters, "head.");
        var trainer = new Trainer(parameters, new Adam(0.01));
        using var tbptt = new TruncatedBptt(rnn, k1: 10, k2: 20, batch: 8);   // backward over the last 20 steps, every 10

        const int K = 10, Bt = 8;
        float[] x = new float[K * Bt * 2], target = new float[K * Bt];       // the next chunk of your stream
        float[] h = new float[K * Bt * 16], y = new float[K * Bt], dy = new float[K * Bt], dh = new float[K * Bt * 16];
        // ---- README (pause) ----
        var random = new TestRandom(12);
        float[] stream = random.Array(400 * Bt * 2);
        double first = double.NaN, loss = double.NaN;
        // ---- README (resume) ----
        for (int chunk = 0; chunk < 39; chunk++)
        {
            // ---- README (pause) ----
            stream.AsSpan(chunk * K * Bt * 2, K * Bt * 2).CopyTo(x);
            for (int i = 0; i < K * Bt; i++)
            {
                int at = (chunk * K * Bt) + i, back = at - (3 * Bt);
                target[i] = back >= 0 ? stream[back * 2] : 0;        // the first feature, three steps ago
            }

            // ---- README (resume) ----
            tbptt.Forward(x, K, h);
            head.Forward(h, K * Bt, y);
            loss = Losses.MeanSquaredError(y, target, dy);
            dh.AsSpan().Clear();
            head.Backward(h, y, dy, K * Bt, dh);
            tbptt.Backward(dh);
            trainer.Update();
            // ---- README (pause) ----
            first = double.IsNaN(first) ? loss : first;
            // ---- README (resume) ----
        }

        // ---- README: "Your own cell, trained" (end) ----
        Assert.True(loss < 0.5 * first, $"The loss went from {first} to {loss}.");
    }

    private static CellNetwork ElmanCells(int layers, bool bidirectional, DirectionMerge merge)
    {
        var cells = new List<IRecurrentCell>();
        int d = bidirectional ? 2 : 1;
        for (int layer = 0; layer < layers; layer++)
        {
            for (int dir = 0; dir < d; dir++)
            {
                cells.Add(new HandElmanCell(layer == 0 ? In : (merge == DirectionMerge.Concatenate ? d : 1) * H, H));
            }
        }

        return CellNetwork.Create(cells, bidirectional: bidirectional, merge: merge);
    }

    // l0.weight_ih → weight_ih_l0; l1_reverse.bias_hh → bias_hh_l1_reverse.
    private static string TorchName(string name)
    {
        int dot = name.IndexOf('.', StringComparison.Ordinal);
        string site = name[..dot], tensor = name[(dot + 1)..];
        string suffix = site.EndsWith("_reverse", StringComparison.Ordinal) ? "_reverse" : "";
        return $"{tensor}_{site[..(site.Length - suffix.Length)]}{suffix}";
    }

    private static (double First, double Last, float[] Parameters) Run(string path, int stopAt, bool resume)
    {
        const int Steps = 5, Batch = 4, Updates = 60;
        IRecurrentCell[] cells = [new MinimalGatedCell(1, 8)];
        ParameterSet parameters = ParameterSet.Create([.. CellNetwork.Specs(cells, "rnn."), .. TrainableDenseLayer.Specs(8, 1, "head.")]);
        Initializers.Apply(parameters, RecurrentInitialization.PyTorch, 21);
        var network = new CellNetwork(cells, parameters, "rnn.");
        var head = new TrainableDenseLayer(8, 1, OutputActivation.Identity, parameters, "head.");
        var trainer = new Trainer(parameters, new Adam(0.02));
        // k2 = k1: the carried state is all a resumed run needs (with k2 > k1 the window's older inputs would be too).
        using var tbptt = new TruncatedBptt(network, Steps, Steps, Batch);
        tbptt.Reset();
        int start = 0;
        if (resume)
        {
            LoadedCheckpoint loaded = Checkpoint.Load(path);
            loaded.Restore(parameters);
            trainer = loaded.CreateTrainer(parameters);
            tbptt.Reset(loaded.Tensors["state"]);
            start = (int)loaded.Step;
        }

        float[] x = new float[Steps * Batch], target = new float[x.Length], h = new float[Steps * Batch * 8], y = new float[x.Length], dy = new float[x.Length], dh = new float[h.Length];
        double first = double.NaN, last = double.NaN;
        for (int update = start; update < Updates; update++)
        {
            if (update == stopAt)
            {
                var carried = new Dictionary<string, float[]> { ["state"] = tbptt.Hidden.ToArray() };
                Checkpoint.Save(path, new CheckpointContent { Parameters = parameters, Trainer = trainer, Step = update, Tensors = carried });
                return (first, last, []);
            }

            // A sine per stream, sampled every 0.3; the target is the next sample.
            for (int s = 0; s < Steps; s++)
            {
                for (int b = 0; b < Batch; b++)
                {
                    double t = 0.3 * ((update * Steps) + s);
                    x[(s * Batch) + b] = (float)Math.Sin(t + b);
                    target[(s * Batch) + b] = (float)Math.Sin(t + 0.3 + b);
                }
            }

            tbptt.Forward(x, Steps, h);
            head.Forward(h, Steps * Batch, y);
            last = Losses.MeanSquaredError(y, target, dy);
            first = double.IsNaN(first) ? last : first;
            dh.AsSpan().Clear();
            head.Backward(h, y, dy, Steps * Batch, dh);
            tbptt.Backward(dh);
            trainer.Update();
        }

        return (first, last, parameters.Values.ToArray());
    }

    private static void CheckAll(Span<float> point, float[] analytic, Func<double> loss, Action changed, string what)
    {
        const float Step = 1e-2f;
        for (int i = 0; i < point.Length; i++)
        {
            float keep = point[i];
            point[i] = keep + Step;
            changed();
            double plus = loss();
            point[i] = keep - Step;
            changed();
            double minus = loss();
            point[i] = keep;
            changed();
            double numeric = (plus - minus) / (2 * Step);
            Assert.True(
                Math.Abs(numeric - analytic[i]) <= 2e-3 + (1e-2 * Math.Abs(numeric)),
                $"dL/d{what}[{i}]: central differences {numeric}, backward {analytic[i]}.");
        }
    }

    private static int[] Bits(ReadOnlySpan<float> values)
    {
        var bits = new int[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            bits[i] = BitConverter.SingleToInt32Bits(values[i]);
        }

        return bits;
    }

    private static double Dot(float[] a, float[] b)
    {
        double sum = 0;
        for (int i = 0; i < a.Length; i++)
        {
            sum += (double)a[i] * b[i];
        }

        return sum;
    }

    private static void AssertClose(float[] expected, float[] actual, double tolerance, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance * Math.Max(1, Math.Abs(expected[i])), $"{what}[{i}]: expected {expected[i]}, got {actual[i]}.");
        }
    }
}
