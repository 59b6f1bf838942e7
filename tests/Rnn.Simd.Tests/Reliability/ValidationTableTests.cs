using Rnn.Simd.Cells;
using Rnn.Simd.IO;
using Rnn.Simd.Import.Onnx;
using Rnn.Simd.Layers;
using Rnn.Simd.Networks;
using Rnn.Simd.Parameters;
using Rnn.Simd.Serving;
using Rnn.Simd.Tests.Layers;
using Rnn.Simd.Training;

namespace Rnn.Simd.Tests.Reliability;

/// <summary>
/// Issue 7, item 1: every public entry point rejects bad shapes, sizes, overflowing dimensions, mismatched state
/// objects, wrong-length spans and out-of-range values with an <see cref="ArgumentException"/> (or the documented
/// subtype) that names the parameter and says what was expected. One row per (entry point, bad argument).
/// </summary>
[Trait("Category", "Reliability")]
public sealed class ValidationTableTests
{
    /// <summary>A row: the entry point, the parameter it must name, the exception type, a fragment of the message, the call.</summary>
    public sealed record Row(string Entry, string Parameter, Type Exception, string Fragment, Action Call)
    {
        public override string ToString() => $"{Entry}: {Parameter} ({Fragment})";
    }

    private static readonly Type s_arg = typeof(ArgumentException), s_range = typeof(ArgumentOutOfRangeException), s_null = typeof(ArgumentNullException);

    private static readonly Lazy<List<Row>> s_rows = new(Rows);

    /// <summary>"NNN entry: parameter (fragment)": the number picks the row, the rest makes a failure readable.</summary>
    public static TheoryData<string> RowNames() => [.. s_rows.Value.Select((r, i) => $"{i:D3} {r}")];

    [Theory]
    [MemberData(nameof(RowNames))]
    public void EveryBadArgument_IsRejected_NamingTheParameterAndWhatWasExpected(string name)
    {
        Row row = s_rows.Value[int.Parse(name.AsSpan(0, 3), System.Globalization.CultureInfo.InvariantCulture)];
        Exception error = Record.Exception(row.Call);
        Assert.True(error is not null, $"{row.Entry} accepted a bad {row.Parameter}.");
        Assert.True(row.Exception.IsInstanceOfType(error), $"{row.Entry}: expected {row.Exception.Name}, got {error.GetType().Name}: {error.Message}");
        Assert.Equal(row.Parameter, ((ArgumentException)error).ParamName);
        Assert.Contains(row.Fragment, error.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// The table covers every public method or constructor that takes a span (a buffer whose length must match a
    /// shape): reflection lists them, and each needs a row (entries are "Type.Method", or "Type" for a constructor)
    /// or a reason here.
    /// </summary>
    private static readonly Dictionary<string, string> s_exempt = new()
    {
        ["DirectionGradients"] = "internal plumbing exposed as a public struct: built only by the training code from its own buffers",
        ["ColumnSums.Add"] = "a kernel helper; its arguments are checked where TrainableDenseLayer calls it",
        ["GradientClipping.GlobalNorm"] = "every length is valid (an empty span has norm 0)",
        ["TokenGenerator.Generate"] = "every length is valid: one token per element",
        ["OnnxModel.Load"] = "bytes, not a shaped buffer: malformed models are InvalidDataException (OnnxModelTests, OnnxHostileFileTests)",
        ["WavReader.Read"] = "bytes, not a shaped buffer: malformed files are InvalidDataException (Audio/WavReaderTests)",
        ["OnnxTensor.Parse"] = "bytes, not a shaped buffer: every length is read and malformed ones are InvalidDataException (OnnxHostileFileTests)",
    };

    [Fact]
    public void EveryPublicEntryPointTakingASpan_HasARowOrAReason()
    {
        var covered = s_rows.Value.Select(r => r.Entry).ToHashSet();
        var missing = new List<string>();
        foreach (Type type in typeof(RecurrentNetwork).Assembly.GetExportedTypes())
        {
            const System.Reflection.BindingFlags Public = System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.Static | System.Reflection.BindingFlags.DeclaredOnly;
            IEnumerable<System.Reflection.MethodBase> members = [.. type.GetConstructors(Public), .. type.GetMethods(Public).Where(m => !m.IsSpecialName)];
            foreach (System.Reflection.MethodBase member in members)
            {
                bool takesSpan = member.GetParameters().Any(p => p.ParameterType.IsGenericType &&
                    (p.ParameterType.GetGenericTypeDefinition() == typeof(Span<>) || p.ParameterType.GetGenericTypeDefinition() == typeof(ReadOnlySpan<>)));
                string entry = member.IsConstructor ? type.Name : $"{type.Name}.{member.Name}";
                if (takesSpan && !covered.Contains(entry) && !s_exempt.ContainsKey(entry))
                {
                    missing.Add(entry);
                }
            }
        }

        Assert.True(missing.Count == 0, "No validation row for: " + string.Join(", ", missing.Distinct().Order()));
    }

    /// <summary>One StepAsync on a fresh async batcher (disposed after), with buffers of the given lengths.</summary>
    private static void AsyncStep(RecurrentNetwork network, int inputLength, int outputLength, bool registered = true)
    {
        using var batcher = new AsyncStreamBatcher(network);
        StreamId stream = batcher.Add();
        if (!registered)
        {
            batcher.Remove(stream);
        }

        batcher.StepAsync(stream, new float[inputLength], new float[outputLength]).AsTask().GetAwaiter().GetResult();
    }

    private static List<Row> Rows()
    {
        var rows = new List<Row>();
        void Add(string entry, string parameter, Type exception, string fragment, Action call) => rows.Add(new(entry, parameter, exception, fragment, call));

        JordanNetwork jordanForState = JordanNetwork.Create(new JordanNetworkOptions { InputSize = 1, HiddenSize = 1, OutputSize = 2 }, new float[1], new float[2], [], new float[2], []);
        SequenceClassifierInference servedForState = SequenceClassifier.Create(new SequenceClassifierOptions
        {
            VocabularySize = 3, EmbeddingSize = 2, Classes = 2, Recurrent = new RecurrentNetworkOptions { Cell = CellType.Rnn, HiddenSize = 1 },
        }).ToInference();

        // RecurrentNetwork: T = 2, B = 4, X = 5, H = 3, two LSTM layers.
        var o = new RecurrentNetworkOptions { Cell = CellType.Lstm, InputSize = 5, HiddenSize = 3, Layers = 2 };
        RecurrentNetwork n = TestNetworks.Create(o);
        float[] x = new float[2 * 4 * 5], y = new float[2 * 4 * 3];
        Add("RecurrentNetwork.Forward", "input", s_arg, "input has 37 values; expected T·B·X = 40 (T=2, B=4, X=5)", () => n.Forward(new float[37], 2, 4, y));
        Add("RecurrentNetwork.Forward", "output", s_arg, "expected T·B·F = 24 (T=2, B=4, F=3)", () => n.Forward(x, 2, 4, new float[23]));
        Add("RecurrentNetwork.Forward", "output", s_arg, "expected B·F = 12", () => n.Forward(x, 2, 4, y, lastStepOnly: true));
        Add("RecurrentNetwork.Forward", "steps", s_range, "non-negative", () => n.Forward(x, -1, 4, y));
        Add("RecurrentNetwork.Forward", "batch", s_range, "at least 1", () => n.Forward(x, 2, 0, y));
        Add("RecurrentNetwork.Forward", "batch", s_range, "at least 1", () => n.Forward(x, 2, -3, y));
        Add("RecurrentNetwork.Forward", "h0", s_arg, "L·D·B·Hout = 24", () => n.Forward(x, 2, 4, y, h0: new float[12]));
        Add("RecurrentNetwork.Forward", "c0", s_arg, "L·D·B·H = 24", () => n.Forward(x, 2, 4, y, c0: new float[25]));
        Add("RecurrentNetwork.Forward", "hN", s_arg, "L·D·B·Hout", () => n.Forward(x, 2, 4, y, hN: new float[1]));
        Add("RecurrentNetwork.Forward", "cN", s_arg, "L·D·B·H", () => n.Forward(x, 2, 4, y, cN: new float[1]));
        Add("RecurrentNetwork.Forward", "lengths", s_arg, "expected B = 4", () => n.Forward(x, 2, 4, y, lengths: new[] { 2, 2 }));
        Add("RecurrentNetwork.Forward", "lengths", s_range, "[0, 2]; found 3", () => n.Forward(x, 2, 4, y, lengths: new[] { 2, 3, 1, 0 }));
        Add("RecurrentNetwork.Forward", "lengths", s_range, "found -1", () => n.Forward(x, 2, 4, y, lengths: new[] { 2, -1, 1, 0 }));
        // T·B·X past int.MaxValue: the product is reported, not wrapped into a negative or a "matching" length.
        Add("RecurrentNetwork.Forward", "input", s_arg, "T·B·X = 4294967296 (T=65536, B=65536, X=5)".Replace("4294967296", (65536L * 65536 * 5).ToString()), () => n.Forward(x, 65536, 65536, y));
        Add("RecurrentNetwork.Forward", "input", s_arg, "more than one array can hold", () => n.Forward(x, int.MaxValue, int.MaxValue, y));
        var gru = TestNetworks.Create(o with { Cell = CellType.Gru });
        Add("RecurrentNetwork.Forward", "c0", s_arg, "Only an LSTM has a cell state", () => gru.Forward(x, 2, 4, y, c0: new float[24]));
        Add("RecurrentNetwork.Forward", "cN", s_arg, "Only an LSTM has a cell state", () => gru.Forward(x, 2, 4, y, cN: new float[24]));

        RecurrentState state = n.CreateState(4);
        Add("RecurrentNetwork.Step", "state", s_null, "state", () => n.Step(null!, x.AsSpan(0, 20), y.AsSpan(0, 12)));
        Add("RecurrentNetwork.Step", "state", s_arg, "another architecture", () => n.Step(TestNetworks.Create(o with { HiddenSize = 4 }).CreateState(4), x.AsSpan(0, 20), y.AsSpan(0, 12)));
        Add("RecurrentNetwork.Step", "state", s_arg, "another architecture", () => n.Step(gru.CreateState(4), x.AsSpan(0, 20), y.AsSpan(0, 12)));
        Add("RecurrentNetwork.Step", "input", s_arg, "expected T·B·X = 20 (T=1, B=4, X=5)", () => n.Step(state, x.AsSpan(0, 10), y.AsSpan(0, 6)));
        Add("RecurrentNetwork.Step", "output", s_arg, "expected T·B·F = 12 (T=1, B=4, F=3)", () => n.Step(state, x.AsSpan(0, 20), y.AsSpan(0, 11)));
        Add("RecurrentNetwork.Process", "steps", s_range, "non-negative", () => n.Process(state, x, -2, y));
        Add("RecurrentNetwork.CreateState", "batch", s_range, "at least 1", () => n.CreateState(0));
        Add("RecurrentNetwork.CreateState", "batch", s_range, "L·B·Hout = 12884901882 values (L=2, B=2147483647, Hout=3)", () => n.CreateState(int.MaxValue));
        Add("JordanNetwork.CreateState", "batch", s_range, "more than one array can hold", () => jordanForState.CreateState(int.MaxValue));
        Add("SequenceClassifierInference.CreateStream", "batch", s_range, "more than one array can hold", () => servedForState.CreateStream(int.MaxValue / 2));
        Add("RecurrentState.CopyFrom", "other", s_arg, "batch size", () => state.CopyFrom(n.CreateState(2)));
        Add("RecurrentState.CopyFrom", "other", s_null, "other", () => state.CopyFrom(null!));
        Add("RecurrentStateSerializer.Load", "network", s_null, "network", () => RecurrentStateSerializer.Load(null!, new MemoryStream()));

        // Serving: the stream batchers over the same network (X = 5, Hout = 3, two LSTM layers).
        var batcher = new StreamBatcher(n);
        StreamId first = batcher.Add(), second = batcher.Add(), gone = batcher.Add();
        batcher.Remove(gone);
        Add("StreamBatcher.Step", "inputs", s_arg, "inputs has 9 values; expected n·X = 10 (n=2, X=5)", () => batcher.Step([first, second], new float[9], new float[6]));
        Add("StreamBatcher.Step", "outputs", s_arg, "outputs has 7 values; expected n·Hout = 6 (n=2, Hout=3)", () => batcher.Step([first, second], new float[10], new float[7]));
        Add("StreamBatcher.Step", "streams", s_arg, "is not registered here", () => batcher.Step([first, gone], new float[10], new float[6]));
        Add("StreamBatcher.Step", "streams", s_arg, "is not registered here", () => batcher.Step([default], new float[5], new float[3]));
        Add("StreamBatcher.Step", "streams", s_arg, "appears twice", () => batcher.Step([second, first, second], new float[15], new float[9]));
        Add("StreamBatcher", "network", s_arg, "bidirectional network needs whole sequences", () => new StreamBatcher(TestNetworks.Create(o with { Bidirectional = true })));
        Add("StreamBatcher", "capacity", s_range, "non-negative", () => new StreamBatcher(n, -1));
        Add("StreamBatcher.Remove", "stream", s_arg, "is not registered here", () => batcher.Remove(gone));
        Add("StreamBatcher.Snapshot", "destination", s_arg, "batch-1 state of this network's architecture; got one of batch 4", () => batcher.Snapshot(first, state));
        Add("StreamBatcher.Restore", "source", s_arg, "for another architecture", () => batcher.Restore(first, gru.CreateState()));
        Add("StreamBatcher.Restore", "source", s_null, "source", () => batcher.Restore(first, null!));
        Add("AsyncStreamBatcher", "options", s_range, "MaxBatch must be at least 1, was 0", () => new AsyncStreamBatcher(n, new AsyncStreamBatcherOptions { MaxBatch = 0 }).Dispose());
        Add("AsyncStreamBatcher", "options", s_range, "MaxDelay must be between zero", () => new AsyncStreamBatcher(n, new AsyncStreamBatcherOptions { MaxDelay = TimeSpan.FromMilliseconds(-1) }).Dispose());
        Add("AsyncStreamBatcher", "network", s_arg, "reverse network needs whole sequences", () => new AsyncStreamBatcher(TestNetworks.Create(o with { Reverse = true })).Dispose());
        Add("AsyncStreamBatcher.StepAsync", "input", s_arg, "input has 4 values; expected X = 5", () => AsyncStep(n, 4, 3));
        Add("AsyncStreamBatcher.StepAsync", "output", s_arg, "output has 2 values; expected Hout = 3", () => AsyncStep(n, 5, 2));
        Add("AsyncStreamBatcher.StepAsync", "stream", s_arg, "is not registered here", () => AsyncStep(n, 5, 3, registered: false));

        // Options: sizes zero, negative, overflowing.
        Add("RecurrentNetwork.FromPyTorch", "options", s_null, "options", () => RecurrentNetwork.FromPyTorch(null!, new Dictionary<string, float[]>()));
        Add("RecurrentNetwork.FromPyTorch", "options", s_arg, "HiddenSize must be at least 1", () => RecurrentNetwork.FromPyTorch(o with { HiddenSize = 0 }, new Dictionary<string, float[]>()));
        Add("RecurrentNetwork.FromPyTorch", "options", s_arg, "were 5 and -3", () => RecurrentNetwork.FromPyTorch(o with { HiddenSize = -3 }, new Dictionary<string, float[]>()));
        Add("RecurrentNetwork.FromPyTorch", "options", s_arg, "were -5 and 3", () => RecurrentNetwork.FromPyTorch(o with { InputSize = -5 }, new Dictionary<string, float[]>()));
        Add("RecurrentNetwork.FromPyTorch", "options", s_arg, "Layers must be at least 1, was 0", () => RecurrentNetwork.FromPyTorch(o with { Layers = 0 }, new Dictionary<string, float[]>()));
        Add("RecurrentNetwork.FromPyTorch", "options", s_arg, "Layers must be at least 1, was -1", () => RecurrentNetwork.FromPyTorch(o with { Layers = -1 }, new Dictionary<string, float[]>()));
        Add("RecurrentNetwork.FromPyTorch", "options", s_arg, "ProjectionSize -1 is invalid", () => RecurrentNetwork.FromPyTorch(o with { ProjectionSize = -1 }, new Dictionary<string, float[]>()));
        Add("RecurrentNetwork.FromPyTorch", "options", s_arg, "too large", () => RecurrentNetwork.FromPyTorch(o with { HiddenSize = 100_000 }, new Dictionary<string, float[]>()));
        Add("RecurrentNetwork.FromPyTorch", "options", s_arg, "too large", () => RecurrentNetwork.FromPyTorch(o with { InputSize = int.MaxValue, HiddenSize = 1 }, new Dictionary<string, float[]>()));
        Add("RecurrentNetwork.FromPyTorch", "options", s_arg, "too large", () => RecurrentNetwork.FromPyTorch(o with { InputSize = 1, HiddenSize = int.MaxValue }, new Dictionary<string, float[]>()));
        Add("RecurrentNetwork.FromPyTorch", "options", s_arg, "too large", () => RecurrentNetwork.FromPyTorch(o with { InputSize = 1, HiddenSize = 12_000, Layers = 2, Bidirectional = true }, new Dictionary<string, float[]>()));
        Add("RecurrentNetwork.FromPyTorch", "options", s_arg, "not a cell type", () => RecurrentNetwork.FromPyTorch(o with { Cell = (CellType)9 }, new Dictionary<string, float[]>()));
        Add("RecurrentNetwork.FromPyTorch", "parameters", s_arg, "'weight_ih_l0' is missing", () => RecurrentNetwork.FromPyTorch(o, new Dictionary<string, float[]>()));
        Add("RecurrentNetwork.FromPyTorch", "parameters", s_arg, "the options imply 60", () => RecurrentNetwork.FromPyTorch(o, TestNetworks.PyTorchParameters(o with { InputSize = 6 }, 1)));
        Add("RecurrentNetworkOptions.ParameterSpecs", "this", s_arg, "Layers must be at least 1", () => (o with { Layers = 0 }).ParameterSpecs());

        // DenseLayer.
        Add("DenseLayer", "inputs", s_range, "inputs=0", () => _ = new DenseLayer(0, 2, [], [], OutputActivation.Identity));
        Add("DenseLayer", "outputs", s_range, "outputs=-2", () => _ = new DenseLayer(3, -2, [], [], OutputActivation.Identity));
        Add("DenseLayer", "weight", s_arg, "weight has 5 values; expected outputs·inputs = 6 (outputs=2, inputs=3)", () => _ = new DenseLayer(3, 2, new float[5], [], OutputActivation.Identity));
        Add("DenseLayer", "bias", s_arg, "expected none or outputs = 2", () => _ = new DenseLayer(3, 2, new float[6], new float[3], OutputActivation.Identity));
        Add("DenseLayer", "activation", s_arg, "not an output activation", () => _ = new DenseLayer(3, 2, new float[6], [], (OutputActivation)42));
        var dense = new DenseLayer(3, 2, new float[6], [], OutputActivation.Identity);
        Add("DenseLayer.Forward", "rows", s_range, "non-negative", () => dense.Forward(new float[3], -1, new float[2]));
        Add("DenseLayer.Forward", "z", s_arg, "rows·inputs = 12 (rows=4, inputs=3)", () => dense.Forward(new float[11], 4, new float[8]));
        Add("DenseLayer.Forward", "y", s_arg, "rows·outputs = 8 (rows=4, outputs=2)", () => dense.Forward(new float[12], 4, new float[9]));

        // JordanNetwork.
        var jo = new JordanNetworkOptions { InputSize = 2, HiddenSize = 3, OutputSize = 2 };
        JordanNetwork jordan = JordanNetwork.Create(jo, new float[6], new float[6], new float[3], new float[6], new float[2]);
        Add("JordanNetwork.Create", "options", s_arg, "", () => JordanNetwork.Create(jo with { HiddenSize = 0 }, [], [], [], [], []));
        Add("JordanNetwork.Create", "inputWeight", s_arg, "H·X = 6", () => JordanNetwork.Create(jo, new float[5], new float[6], [], new float[6], []));
        Add("JordanNetwork.Create", "recurrentWeight", s_arg, "H·O = 6", () => JordanNetwork.Create(jo, new float[6], new float[7], [], new float[6], []));
        Add("JordanNetwork.Create", "bias", s_arg, "H", () => JordanNetwork.Create(jo, new float[6], new float[6], new float[2], new float[6], []));
        Add("JordanNetwork.Forward", "input", s_arg, "T·B·X = 8 (T=2, B=2, X=2)", () => jordan.Forward(new float[7], 2, 2, new float[8]));
        Add("JordanNetwork.Step", "state", s_arg, "", () => jordan.Step(JordanNetwork.Create(jo with { OutputSize = 1 }, new float[6], new float[3], [], new float[3], []).CreateState(), new float[2], new float[2]));
        Add("JordanNetwork.CreateState", "batch", s_range, "at least 1", () => jordan.CreateState(0));

        // Training-side entry points.
        var trainable = TrainableRecurrentNetwork.Create(o with { Cell = CellType.Rnn });
        Add("TrainableRecurrentNetwork.Forward", "input", s_arg, "T·B·X = 40", () =>
        {
            using RecurrentTape tape = trainable.CreateTape();
            trainable.Forward(tape, new float[39], 2, 4, y);
        });
        Add("TrainableRecurrentNetwork.Forward", "tape", s_null, "tape", () => trainable.Forward(null!, x, 2, 4, y));
        Add("TruncatedBptt", "k1", s_range, "at least 1", () => _ = new TruncatedBptt(trainable, 0, 1, 1));
        Add("TruncatedBptt", "k2", s_range, "at least k1", () => _ = new TruncatedBptt(trainable, 3, 2, 1));
        Add("TruncatedBptt", "batch", s_range, "at least 1", () => _ = new TruncatedBptt(trainable, 1, 1, 0));
        Add("TruncatedBptt", "batch", s_range, "k2·B·X", () => _ = new TruncatedBptt(trainable, 1 << 20, 1 << 20, 1 << 10));
        Add("Trainer", "options", s_range, "MaxGradientNorm", () => _ = new Trainer(ParameterSet.Create(o.ParameterSpecs()), new Sgd(0.1), new TrainerOptions { MaxGradientNorm = double.NaN }));
        Add("Trainer", "options", s_range, "MaxGradientNorm", () => _ = new Trainer(ParameterSet.Create(o.ParameterSpecs()), new Sgd(0.1), new TrainerOptions { MaxGradientNorm = -1 }));
        Add("Trainer", "options", s_range, "ClipValue", () => _ = new Trainer(ParameterSet.Create(o.ParameterSpecs()), new Sgd(0.1), new TrainerOptions { ClipValue = float.PositiveInfinity }));
        Add("Trainer", "options", s_range, "not a policy", () => _ = new Trainer(ParameterSet.Create(o.ParameterSpecs()), new Sgd(0.1), new TrainerOptions { OnNonFiniteGradient = (NonFiniteGradientPolicy)7 }));
        Add("Trainer", "optimizer", s_null, "optimizer", () => _ = new Trainer(ParameterSet.Create(o.ParameterSpecs()), null!));
        Add("GradientClipping.ClipByGlobalNorm", "maxNorm", s_range, "positive and finite", () => GradientClipping.ClipByGlobalNorm(new float[3], double.NaN));
        Add("GradientClipping.ClipByValue", "clipValue", s_range, "positive and finite", () => GradientClipping.ClipByValue(new float[3], -1));
        Add("Sgd", "learningRate", s_range, "", () => _ = new Sgd(-0.1));
        Add("Sgd", "learningRate", s_range, "", () => _ = new Sgd(double.NaN));
        Add("Sgd", "momentum", s_range, "", () => _ = new Sgd(0.1, momentum: -1));
        Add("Sgd", "nesterov", s_arg, "Nesterov", () => _ = new Sgd(0.1, nesterov: true));
        Add("Adam", "learningRate", s_range, "", () => _ = new Adam(double.PositiveInfinity));
        Add("Adam", "beta1", s_range, "", () => _ = new Adam(beta1: 1.5));
        Add("Adam", "beta2", s_range, "", () => _ = new Adam(beta2: double.NaN));
        Add("Adam", "epsilon", s_range, "", () => _ = new Adam(epsilon: -1e-8));
        Add("AdamW", "weightDecay", s_range, "", () => _ = new AdamW(weightDecay: -1));
        Add("RmsProp", "alpha", s_range, "", () => _ = new RmsProp(alpha: -0.5));
        Add("StepLR", "stepSize", s_range, "at least 1", () => _ = new StepLR(0.1, 0));
        Add("StepLR", "baseLearningRate", s_range, "non-negative and finite", () => _ = new StepLR(-0.1, 1));
        Add("CosineAnnealingLR", "period", s_range, "at least 1", () => _ = new CosineAnnealingLR(0.1, -5));
        Add("LinearWarmup", "startFactor", s_range, "[0, 1]", () => _ = new LinearWarmup(new StepLR(0.1, 1), 3, 1.5));
        Add("LearningRateSchedule.LearningRateAt", "epoch", s_range, "non-negative", () => new StepLR(0.1, 1).LearningRateAt(-1));
        Add("Losses.MeanSquaredError", "target", s_arg, "target has 2 values", () => Losses.MeanSquaredError(new float[3], new float[2], new float[3]));
        Add("Losses.MeanSquaredError", "gradient", s_arg, "gradient has 4 values", () => Losses.MeanSquaredError(new float[3], new float[3], new float[4]));
        Add("Losses.SoftmaxCrossEntropy", "logits", s_arg, "rows·classes = 6 (rows=2, classes=3)", () => Losses.SoftmaxCrossEntropy(new float[5], 2, 3, new int[2], new float[6]));
        Add("Losses.SoftmaxCrossEntropy", "classes", s_range, "at least 1", () => Losses.SoftmaxCrossEntropy([], 0, 0, [], []));
        Add("Losses.SoftmaxCrossEntropy", "targets", s_range, "", () => Losses.SoftmaxCrossEntropy(new float[6], 2, 3, [0, 3], new float[6]));
        Add("Losses.SoftmaxCrossEntropy", "labelSmoothing", s_range, "[0, 1]", () => Losses.SoftmaxCrossEntropy(new float[6], 2, 3, [0, 1], new float[6], 1.5f));
        Add("Losses.MeanSquaredError", "lengths", s_range, "found 3", () => Losses.MeanSquaredError(new float[4], new float[4], new float[4], 2, 2, [1, 3]));
        Add("Losses.MeanSquaredError", "lengths", s_arg, "expected B = 2", () => Losses.MeanSquaredError(new float[4], new float[4], new float[4], 2, 2, [1]));
        Add("Losses.MeanSquaredError", "prediction", s_arg, "not a multiple of T·B = 4", () => Losses.MeanSquaredError(new float[6], new float[6], new float[6], 2, 2, default));
        Add("Losses.BinaryCrossEntropyWithLogits", "targets", s_arg, "targets has 2 values", () => Losses.BinaryCrossEntropyWithLogits(new float[3], new float[2], new float[3]));
        Add("Losses.BinaryCrossEntropyWithLogits", "gradient", s_arg, "gradient has 4 values", () => Losses.BinaryCrossEntropyWithLogits(new float[3], new float[3], new float[4]));
        Add("Losses.BinaryCrossEntropyWithLogits", "posWeight", s_arg, "do not divide", () => Losses.BinaryCrossEntropyWithLogits(new float[6], new float[6], new float[6], posWeight: new float[4]));

        // Usage-pattern models.
        var classifierOptions = new SequenceClassifierOptions
        {
            VocabularySize = 5, EmbeddingSize = 4, Classes = 3,
            Recurrent = new RecurrentNetworkOptions { Cell = CellType.Gru, HiddenSize = 6 },
        };
        var classifier = SequenceClassifier.Create(classifierOptions, seed: 1);
        SequenceClassifierInference served = classifier.ToInference();
        int[] tokens = new int[2 * 4];
        Add("SequenceClassifierOptions.Validate", "Classes", s_arg, "at least 2, was 1", () => (classifierOptions with { Classes = 1 }).Validate());
        Add("SequenceClassifierOptions.Validate", "VocabularySize", s_arg, "was -1", () => (classifierOptions with { VocabularySize = -1 }).Validate());
        Add("SequenceClassifierOptions.Validate", "EmbeddingSize", s_arg, "was 0", () => (classifierOptions with { EmbeddingSize = 0 }).Validate());
        Add("SequenceClassifierOptions.Validate", "Recurrent", s_arg, "HiddenSize must be at least 1", () => (classifierOptions with { Recurrent = new RecurrentNetworkOptions { HiddenSize = -6 } }).Validate());
        Add("SequenceClassifierOptions.Validate", "Recurrent", s_arg, "Layers must be at least 1", () => (classifierOptions with { Recurrent = new RecurrentNetworkOptions { HiddenSize = 6, Layers = 0 } }).Validate());
        Add("SequenceClassifier.Create", "Recurrent", s_arg, "too large", () => SequenceClassifier.Create(classifierOptions with { Recurrent = new RecurrentNetworkOptions { HiddenSize = int.MaxValue } }));
        Add("RecurrentHeadModel.ForwardBackward", "tokens", s_range, "Token 5 at position 3 is outside the vocabulary 0 … 4", () => classifier.ForwardBackward([0, 1, 2, 5, 0, 0, 0, 0], 2, 4, new int[4]));
        Add("RecurrentHeadModel.ForwardBackward", "tokens", s_range, "Token -1", () => classifier.ForwardBackward([0, -1, 2, 3, 0, 0, 0, 0], 2, 4, new int[4]));
        Add("RecurrentHeadModel.ForwardBackward", "tokens", s_arg, "tokens has 7 values; expected T·B = 8 (T=2, B=4)", () => classifier.ForwardBackward(new int[7], 2, 4, new int[4]));
        Add("RecurrentHeadModel.ForwardBackward", "labels", s_arg, "expected B = 4", () => classifier.ForwardBackward(tokens, 2, 4, new int[3]));
        Add("RecurrentHeadModel.ForwardBackward", "labels", s_range, "Label 3", () => classifier.ForwardBackward(tokens, 2, 4, [0, 1, 2, 3]));
        Add("RecurrentHeadModel.ForwardBackward", "input", s_arg, "reads token ids", () => classifier.ForwardBackward(new float[8], 2, 4, new int[4]));
        Add("RecurrentHeadModel.ForwardBackward", "lengths", s_range, "found 3", () => classifier.ForwardBackward(tokens, 2, 4, new int[4], lengths: [1, 2, 3, 0]));
        Add("RecurrentHeadModel.ForwardBackward", "tokens", s_arg, "T·B = 4294967296", () => classifier.ForwardBackward(tokens, 65536, 65536, new int[4]));
        Add("RecurrentHeadInference.Predict", "output", s_arg, "B·C = 12", () => served.Predict(tokens, 2, 4, new float[11]));
        Add("RecurrentHeadInference.Predict", "batch", s_range, "at least 1", () => served.Predict(tokens, 8, 0, new float[0]));
        Add("RecurrentHeadInference.Predict", "tokens", s_range, "outside the vocabulary", () => served.Predict([9, 0, 0, 0, 0, 0, 0, 0], 2, 4, new float[12]));
        ModelStream stream = served.CreateStream(4);
        Add("ModelStream.Step", "tokens", s_arg, "expected steps·B = 4 (steps=1, B=4)", () => stream.Step(new int[3]));
        Add("ModelStream.Step", "tokens", s_range, "outside the vocabulary", () => stream.Step([0, 0, 0, 5]));
        Add("ModelStream.Step", "input", s_arg, "reads token ids", () => stream.Step(new float[4]));
        Add("ModelStream.Read", "output", s_arg, "B·O = 12 (B=4, O=3)", () => stream.Read(new float[13]));
        Add("ModelStream.Run", "tokens", s_arg, "steps·B = 8 (steps=2, B=4)", () => stream.Run(new int[7], 2));
        Add("ModelStream.Run", "steps", s_range, "at least 1", () => stream.Run(new int[4], 0));
        Add("ModelStream.Run", "input", s_arg, "reads token ids", () => stream.Run(new float[8], 2));
        Add("SequenceClassifierInference.CreateStream", "batch", s_range, "at least 1", () => served.CreateStream(0));

        var lmOptions = new LanguageModelOptions { VocabularySize = 7, EmbeddingSize = 4, Recurrent = new RecurrentNetworkOptions { HiddenSize = 8 } };
        Add("LanguageModelOptions.Validate", "VocabularySize", s_arg, "at least 1, was 0", () => (lmOptions with { VocabularySize = 0 }).Validate());
        Add("LanguageModelOptions.Validate", "Recurrent", s_arg, "HiddenSize", () => (lmOptions with { Recurrent = lmOptions.Recurrent with { HiddenSize = -8 } }).Validate());
        Add("LanguageModelOptions.Validate", "Recurrent", s_arg, "Layers", () => (lmOptions with { Recurrent = lmOptions.Recurrent with { Layers = 0 } }).Validate());
        Add("LanguageModelOptions.Validate", "Recurrent", s_arg, "ProjectionSize", () => (lmOptions with { Recurrent = lmOptions.Recurrent with { ProjectionSize = 8 } }).Validate());
        Add("LanguageModelOptions.Validate", "Recurrent", s_arg, "too large", () => (lmOptions with { Recurrent = lmOptions.Recurrent with { HiddenSize = 1 << 20 } }).Validate());
        Add("SequenceModelOptions.FromJson", "json", s_null, "json", () => SequenceModelOptions.FromJson(null!));
        var lm = LanguageModel.Create(lmOptions);
        Add("LanguageModel.ForwardBackward", "tokens", s_range, "outside the vocabulary", () => lm.ForwardBackward([7, 0], 1, 2, [0, 0]));
        Add("LanguageModel.ForwardBackward", "targets", s_arg, "T·B = 2", () => lm.ForwardBackward([1, 0], 1, 2, [0]));
        Add("LanguageModel.ForwardBackward", "targets", s_range, "", () => lm.ForwardBackward([1, 0], 1, 2, [0, 7]));
        Add("LanguageModel.ForwardBackward", "lengths", s_range, "found 2", () => lm.ForwardBackward([1, 0], 1, 2, [0, 0], [1, 2]));
        LanguageModelInference lmServed = lm.ToInference();
        Add("LanguageModelInference.CreateGenerator", "sampling", s_range, "TopK must be in [0, 7]", () => lmServed.CreateGenerator(new SamplingOptions { TopK = 8 }));
        Add("LanguageModelInference.CreateGenerator", "sampling", s_range, "Temperature", () => lmServed.CreateGenerator(new SamplingOptions { Temperature = float.NaN }));
        Add("LanguageModelInference.CreateGenerator", "sampling", s_range, "Temperature", () => lmServed.CreateGenerator(new SamplingOptions { Temperature = -1 }));
        Add("TokenGenerator.Prime", "prompt", s_range, "outside the vocabulary", () => lmServed.CreateGenerator().Prime([1, 2, 70]));
        Add("LanguageModelInference.Evaluate", "tokens", s_range, "outside the vocabulary", () => lmServed.Evaluate([1, 2, -7]));
        Add("Embedding", "vocabulary", s_range, "at least one token", () => _ = new Embedding(0, 2, []));
        Add("Embedding", "table", s_arg, "vocabulary·dimension = 6 (vocabulary=3, dimension=2)", () => _ = new Embedding(3, 2, new float[5]));
        Add("Embedding.Lookup", "output", s_arg, "tokens·dimension = 4", () => new Embedding(3, 2, new float[6]).Lookup([0, 1], new float[3]));
        Add("TokenSampler", "vocabulary", s_range, "", () => _ = new TokenSampler(0, new SamplingOptions()));

        var forecaster = Forecaster.Create(new ForecasterOptions { InputSize = 2, Recurrent = new RecurrentNetworkOptions { HiddenSize = 4 } });
        Add("ForecasterOptions.Validate", "InputSize", s_arg, "at least 1, was 0", () => new ForecasterOptions { InputSize = 0, Recurrent = new RecurrentNetworkOptions { HiddenSize = 4 } }.Validate());
        Add("Forecaster.ForwardBackward", "inputs", s_arg, "T·B·X = 12 (T=3, B=2, X=2)", () => forecaster.ForwardBackward(new float[11], 3, 2, new float[12]));
        Add("Forecaster.ForwardBackward", "targets", s_arg, "T·B·X = 12", () => forecaster.ForwardBackward(new float[12], 3, 2, new float[13]));
        Add("Forecaster.ForwardBackward", "lengths", s_range, "found 4", () => forecaster.ForwardBackward(new float[12], 3, 2, new float[12], [4, 1]));
        ForecastStream forecast = forecaster.ToInference().CreateForecast();
        Add("ForecastStream.Prime", "history", s_arg, "steps·X = 6", () => forecast.Prime(new float[5], 3));
        Add("ForecastStream.Prime", "steps", s_range, "at least 1", () => forecast.Prime(new float[6], -3));

        var edOptions = new EncoderDecoderOptions { SourceVocabularySize = 6, TargetVocabularySize = 5, EmbeddingSize = 3, Recurrent = new RecurrentNetworkOptions { HiddenSize = 4 } };
        Add("EncoderDecoderOptions.Validate", "EosToken", s_arg, "", () => (edOptions with { EosToken = 5 }).Validate());
        Add("EncoderDecoderOptions.Validate", "SourceVocabularySize", s_arg, "at least 1", () => (edOptions with { SourceVocabularySize = -6 }).Validate());
        var ed = EncoderDecoder.Create(edOptions);
        Add("EncoderDecoder.ForwardBackward", "source", s_arg, "S·B = 4", () => ed.ForwardBackward(new int[3], 2, new int[4], 2, 2));
        Add("EncoderDecoder.ForwardBackward", "source", s_range, "outside the vocabulary", () => ed.ForwardBackward([0, 6, 0, 0], 2, new int[4], 2, 2));
        Add("EncoderDecoder.ForwardBackward", "target", s_range, "", () => ed.ForwardBackward(new int[4], 2, [0, 0, 5, 0], 2, 2));
        Add("EncoderDecoder.ForwardBackward", "teacherForcingRatio", s_range, "", () => ed.ForwardBackward(new int[4], 2, new int[4], 2, 2, teacherForcingRatio: double.NaN));
        Add("SequenceDecoder.Decode", "source", s_arg, "at least one token", () => ed.ToInference().CreateDecoder().Decode([], new int[4]));
        Add("SequenceDecoder.Decode", "source", s_range, "outside the vocabulary", () => ed.ToInference().CreateDecoder().Decode([6], new int[4]));

        var set = ParameterSet.Create(TrainableDenseLayer.Specs(3, 2));
        Add("ParameterSet.Load", "values", s_null, "values", () => set.Load(null!));
        Add("Initializers.Apply", "set", s_null, "set", () => Initializers.Apply(null!, RecurrentInitialization.IdentityRelu(), 1));
        Add("TrainableDenseLayer.Create", "inputs", s_range, "", () => TrainableDenseLayer.Create(0, 2, OutputActivation.Identity));
        // Buffers that match but whose scratch would pass one array (T·B·F = 2²²·1024 floats): refused before renting.
        var wide = new RecurrentNetworkOptions { Cell = CellType.Rnn, InputSize = 1, HiddenSize = 1024 };
        float[] tall = new float[1 << 22];
        RecurrentNetwork wideNetwork = TestNetworks.Create(wide);
        Add("RecurrentNetwork.Forward", "output", s_arg, "T·B·F = 4294967296 (T=4194304, B=1, F=1024), more than one array can hold", () => wideNetwork.Forward(tall, 1 << 22, 1, tall));
        Add("RecurrentNetwork.Forward", "steps", s_arg, "more than one array holds", () => wideNetwork.Forward(tall, 1 << 22, 1, tall.AsSpan(0, 1024), lastStepOnly: true));
        var wideTrainable = TrainableRecurrentNetwork.Create(wide);
        Add("TrainableRecurrentNetwork.Forward", "steps", s_arg, "more than one array holds", () =>
        {
            using RecurrentTape tape = wideTrainable.CreateTape();
            wideTrainable.Forward(tape, tall, 1 << 22, 1, tall.AsSpan(0, 1024), lastStepOnly: true);
        });

        // The rest of the span-taking surface (the reflection test below lists it).
        Add("ForecastStream.Rollout", "output", s_arg, "N·X values with X = 2, got 3", () => forecast.Rollout(new float[3]));
        Add("JordanNetwork.Process", "input", s_arg, "T·B·X = 6 (T=3, B=1, X=2)", () => jordan.Process(jordan.CreateState(), new float[5], 3, new float[6]));
        Add("JordanNetwork.Process", "output", s_arg, "T·B·O = 6 (T=3, B=1, O=2)", () => jordan.Process(jordan.CreateState(), new float[6], 3, new float[7]));
        Add("GradientCheck.Check", "analytic", s_arg, "analytic has 2 values", () => GradientCheck.Check(_ => 0, new double[3], new double[2]));
        Add("GradientCheck.Check", "step", s_range, "positive", () => GradientCheck.Check(_ => 0, new double[2], new double[2], step: 0));
        Add("StatefulSequenceModel.RestoreState", "hidden", s_arg, "L·B·Hout = 24 (L=1, B=3, Hout=8)", () => lm.RestoreState(new float[23], new float[24], 3));
        Add("StatefulSequenceModel.RestoreState", "cell", s_arg, "L·B·H", () => lm.RestoreState(new float[24], new float[8], 3));
        Add("StatefulSequenceModel.RestoreState", "batch", s_range, "at least 1", () => lm.RestoreState([], [], 0));
        Add("TokenGenerator.NextTokenProbabilities", "probabilities", s_arg, "expected V = 7", () =>
        {
            TokenGenerator primed = lmServed.CreateGenerator();
            primed.Prime([1]);
            primed.NextTokenProbabilities(new float[6]);
        });
        Add("TokenSampler.ArgMax", "values", s_arg, "expected at least one value", () => TokenSampler.ArgMax([]));
        Add("TokenSampler.Sample", "logits", s_arg, "expected V = 7", () => new TokenSampler(7, new SamplingOptions()).Sample(new float[8]));
        Add("TokenSampler.Probabilities", "probabilities", s_arg, "expected V = 7", () => new TokenSampler(7, new SamplingOptions()).Probabilities(new float[7], new float[6]));
        var trainableDense = TrainableDenseLayer.Create(3, 2, OutputActivation.Identity);
        Add("TrainableDenseLayer.Forward", "z", s_arg, "rows·inputs = 12 (rows=4, inputs=3)", () => trainableDense.Forward(new float[13], 4, new float[8]));
        Add("TrainableDenseLayer.Forward", "y", s_arg, "rows·outputs = 8", () => trainableDense.Forward(new float[12], 4, new float[7]));
        Add("TrainableDenseLayer.Backward", "gradOutput", s_arg, "rows·outputs = 8", () => trainableDense.Backward(new float[12], new float[8], new float[9], 4));
        var trainableEmbedding = new TrainableEmbedding(5, 2, ParameterSet.Create(TrainableEmbedding.Specs(5, 2)));
        Add("TrainableEmbedding.Forward", "tokens", s_range, "outside the vocabulary", () => trainableEmbedding.Forward([5], new float[2]));
        Add("TrainableEmbedding.Forward", "output", s_arg, "tokens·dimension = 4", () => trainableEmbedding.Forward([0, 1], new float[5]));
        Add("TrainableEmbedding.Backward", "gradOutput", s_arg, "tokens·dimension = 4 (tokens=2, dimension=2)", () => trainableEmbedding.Backward([0, 1], new float[3]));
        var trainableJordan = TrainableJordanNetwork.Create(jo);
        Add("TrainableJordanNetwork.Forward", "input", s_arg, "T·B·X = 8 (T=2, B=2, X=2)", () =>
        {
            using JordanTape tape = trainableJordan.CreateTape();
            trainableJordan.Forward(tape, new float[9], 2, 2, new float[8]);
        });
        Add("TrainableJordanNetwork.Forward", "targets", s_arg, "T·B·O = 8", () =>
        {
            using JordanTape tape = trainableJordan.CreateTape();
            trainableJordan.Forward(tape, new float[8], 2, 2, new float[8], targets: new float[7], teacherForcingRatio: 1);
        });
        Add("TrainableJordanNetwork.Backward", "tape", s_null, "tape", () => trainableJordan.Backward(null!, new float[8]));
        Add("TrainableRecurrentNetwork.Backward", "gradOutput", s_arg, "", () =>
        {
            using RecurrentTape tape = trainable.CreateTape();
            trainable.Forward(tape, x, 2, 4, y);
            trainable.Backward(tape, new float[y.Length + 1]);
        });
        Add("TrainableRecurrentNetwork.Backward", "gradHN", s_arg, "", () =>
        {
            using RecurrentTape tape = trainable.CreateTape();
            trainable.Forward(tape, x, 2, 4, y);
            trainable.Backward(tape, y, gradHN: new float[5]);
        });
        var tbptt = new TruncatedBptt(trainable, 2, 3, 4);
        Add("TruncatedBptt.Forward", "x", s_arg, "steps·B·X", () => tbptt.Forward(new float[39], 2, y));
        Add("TruncatedBptt.Forward", "output", s_arg, "steps·B·F", () => tbptt.Forward(x, 2, new float[25]));
        Add("TruncatedBptt.Backward", "gradOutput", s_arg, "steps·B·F", () =>
        {
            tbptt.Forward(x, 2, y);
            tbptt.Backward(new float[1]);
        });
        Add("TruncatedBptt.Reset", "h0", s_arg, "L·B·Hout", () => tbptt.Reset(h0: new float[5]));
        CellNetwork cells = CellNetwork.Create([new Training.HandElmanCell(2, 3)], seed: 1);
        float[] cx = new float[2 * 4 * 2], cy = new float[2 * 4 * 3];
        Add("CellNetwork.Forward", "input", s_arg, "T·B·X", () => cells.Forward(new float[cx.Length - 1], 2, 4, cy));
        Add("CellNetwork.Forward", "output", s_arg, "T·B·F", () => cells.Forward(cx, 2, 4, new float[cy.Length + 1]));
        Add("CellNetwork.Forward", "s0", s_arg, "B·ΣS", () => cells.Forward(cx, 2, 4, cy, s0: new float[5]));
        Add("CellNetwork.Forward", "lengths", s_range, "[0, 2]", () => cells.Forward(cx, 2, 4, cy, lengths: [3, 0, 0, 0]));
        Add("CellNetwork.Forward", "batch", s_range, "at least 1", () => cells.Forward(cx, 2, 0, cy));
        Add("CellNetwork.Backward", "gradOutput", s_arg, "T·B·F", () =>
        {
            using CellTape tape = cells.CreateTape();
            cells.Forward(tape, cx, 2, 4, cy);
            cells.Backward(tape, new float[cy.Length + 1]);
        });
        Add("CellNetwork.Backward", "gradInput", s_arg, "T·B·X", () =>
        {
            using CellTape tape = cells.CreateTape();
            cells.Forward(tape, cx, 2, 4, cy);
            cells.Backward(tape, cy, gradInput: new float[1]);
        });
        CellState cellState = cells.CreateState(4);
        Add("CellNetwork.Step", "x", s_arg, "T·B·X", () => cells.Step(cellState, new float[7], new float[12]));
        Add("CellNetwork.Process", "y", s_arg, "T·B·F", () => cells.Process(cellState, cx, 2, new float[23]));
        Add("CellNetwork.Process", "state", s_arg, "another network", () => CellNetwork.Create([new Training.HandElmanCell(2, 3)]).Process(cellState, cx, 2, cy));
        OnnxModel graphModel = OnnxModel.Load(new OnnxWriter().Input("x", 1, -1, 3).Output("y", 1, -1, 3).Node("Relu", "r", ["x"], ["y"]).Build(14), "relu.onnx");
        OnnxFeed[] goodFeed = [new(new float[6], 2, 3)];
        Add("OnnxModel.Run", "inputs", s_arg, "one feed per graph input", () => graphModel.Run([], [new float[6]]));
        Add("OnnxModel.Run", "inputs", s_arg, "declared [-1, 3]", () => graphModel.Run([new OnnxFeed(new float[8], 2, 4)], [new float[8]]));
        Add("OnnxModel.Run", "inputs", s_arg, "its shape [2, 3] has 6", () => graphModel.Run([new OnnxFeed(new float[5], 2, 3)], [new float[6]]));
        Add("OnnxModel.Run", "outputs", s_arg, "one per graph output", () => graphModel.Run(goodFeed, []));
        Add("OnnxModel.Run", "outputs", s_arg, "its memory holds 5", () => graphModel.Run(goodFeed, [new float[5]]));
        Add("OnnxModel.OutputShape", "index", s_range, "1 outputs", () => graphModel.OutputShape(1, goodFeed));
        Add("OnnxModel.OutputShape", "inputs", s_arg, "one feed per graph input", () => graphModel.OutputShape(0, []));
        Add("OnnxTensor.FromFloats", "dimensions", s_arg, "holds 6 elements; 5 values", () => OnnxTensor.FromFloats("t", [2, 3], new float[5]));
        Add("OnnxTensor.FromFloats", "dimensions", s_arg, "out of range", () => OnnxTensor.FromFloats("t", [-1], []));
        Add("OnnxTensor.FromIntegers", "dimensions", s_arg, "holds 2 elements; 3 values", () => OnnxTensor.FromIntegers("t", [2], new long[3]));
        OnnxRecurrentLayer onnx = OnnxRecurrentLayer.Load(Path.Combine(AppContext.BaseDirectory, "GoldenOnnx", "lstm_bidir_layout0_lens_init", "model.onnx"));
        float[] ox = new float[5 * 3 * 4], oy = new float[5 * 2 * 3 * 6], oh = new float[2 * 3 * 6];
        Add("OnnxRecurrentLayer.Run", "y", s_arg, "T·D·B·H", () => onnx.Run(ox, 5, 3, new float[oy.Length - 1]));
        Add("OnnxRecurrentLayer.Run", "yH", s_arg, "D·B·H", () => onnx.Run(ox, 5, 3, oy, new float[5]));
        Add("OnnxRecurrentLayer.Run", "initialH", s_arg, "D·B·H", () => onnx.Run(ox, 5, 3, oy, oh, initialH: new float[7]));
        Add("OnnxRecurrentLayer.Run", "input", s_arg, "T·B·X", () => onnx.Run(new float[ox.Length + 1], 5, 3, oy));
        Add("OnnxRecurrentLayer.Run", "lengths", s_range, "[0, 5]", () => onnx.Run(ox, 5, 3, oy, sequenceLengths: [6, 1, 1]));
        var generator = TrainableRecurrentNetwork.Create(new RecurrentNetworkOptions { Cell = CellType.Rnn, InputSize = 2, HiddenSize = 3 });
        var generatorHead = TrainableDenseLayer.Create(3, 2, OutputActivation.Identity);
        Add("GeneratorTeacherForcing.BuildInputs", "teacher", s_arg, "", () =>
        {
            using RecurrentTape scratch = generator.CreateTape();
            GeneratorTeacherForcing.BuildInputs(generator, generatorHead, scratch, new float[7], 2, 2, 0.5, 1, GeneratorFeedback.Identity, new float[8]);
        });
        Add("GeneratorTeacherForcing.BuildInputs", "inputs", s_arg, "", () =>
        {
            using RecurrentTape scratch = generator.CreateTape();
            GeneratorTeacherForcing.BuildInputs(generator, generatorHead, scratch, new float[8], 2, 2, 0.5, 1, GeneratorFeedback.Identity, new float[9]);
        });

        // VoiceActivityDetector on a stand-in of Silero v5 at 16 kHz: frames of 512.
        var vad = new Simd.Audio.VoiceActivityDetector(Audio.FakeSilero.Current(16000).Model);
        Simd.Audio.VoiceActivityStream vadStream = vad.CreateStream();
        var otherStream = new Simd.Audio.VoiceActivityDetector(Audio.FakeSilero.Current(16000).Model).CreateStream();
        Add("VoiceActivityDetector.Process", "frame", s_arg, "frame has 511 values; expected one frame at 16000 Hz = 512", () => vad.Process(vadStream, new float[511]));
        Add("VoiceActivityDetector.Process", "frame", s_arg, "Sample 3 is NaN; audio samples must be finite", () => vad.Process(vadStream, [0, 0, 0, float.NaN, .. new float[508]]));
        Add("VoiceActivityDetector.Process", "stream", s_arg, "made by another detector", () => vad.Process(otherStream, new float[512]));
        Add("VoiceActivityDetector.Process", "stream", s_null, "", () => vad.Process(null!, new float[512]));
        Add("VoiceActivityDetector.Process", "probabilities", s_arg, "expected one per frame of 512 samples in 1000 samples = 2", () => vad.Process(vadStream, new float[1000], new float[3]));
        Add("VoiceActivityDetector.Process", "signal", s_arg, "Sample 999 is", () => vad.Process(vadStream, [.. new float[999], float.PositiveInfinity], new float[2]));
        Add("VoiceActivityDetector.DetectSpeech", "signal", s_arg, "Sample 1 is", () => vad.DetectSpeech([0, float.NaN]));
        Add("VoiceActivityDetector.DetectSpeech", "options", s_range, "Threshold must be in [0, 1]", () => vad.DetectSpeech([0], new Simd.Audio.SpeechSegmenterOptions { Threshold = 2 }));
        Add("VoiceActivityDetector.FrameCount", "samples", s_range, "non-negative", () => vad.FrameCount(-1));
        Add("SpeechSegmenter.Segment", "probabilities", s_arg, "expected one per frame of 512 samples in 1025 samples = 3", () => Simd.Audio.SpeechSegmenter.Segment(new float[2], 1025, 16000, 512));
        Add("SpeechSegmenter.Segment", "probabilities", s_arg, "in [0, 1], was -0.5", () => Simd.Audio.SpeechSegmenter.Segment([0.5f, -0.5f], 1024, 16000, 512));
        Add("SpeechSegmenter.Segment", "totalSamples", s_range, "non-negative", () => Simd.Audio.SpeechSegmenter.Segment([], -1, 16000, 512));

        string file = Path.Combine(Path.GetTempPath(), $"rnn-simd-validation-{Environment.ProcessId}.safetensors");
        new Simd.IO.SafeTensorsWriter().Add("w", new float[6], 2, 3).Save(file);
        Simd.IO.SafeTensorsFile tensors = Simd.IO.SafeTensorsFile.Load(File.ReadAllBytes(file));
        File.Delete(file);
        Add("SafeTensorsFile.ReadSingle", "destination", s_arg, "", () => tensors.ReadSingle("w", new float[5]));
        Add("SafeTensorsFile.ReadDouble", "destination", s_arg, "", () => tensors.ReadDouble("w", new double[5]));
        Add("SafeTensorsFile.ReadInt64", "name", s_arg, "", () => tensors.ReadInt64("w", new long[6]));
        Add("SafeTensorsFile.ReadBytes", "destination", s_arg, "has 24 bytes; the buffer holds 23", () => tensors.ReadBytes("w", new byte[23]));
        Add("SafeTensorsWriter.Add", "data", s_arg, "", () => new Simd.IO.SafeTensorsWriter().Add("w", new float[5], 2, 3));
        Add("SafeTensorsWriter.Add", "shape", s_arg, "", () => new Simd.IO.SafeTensorsWriter().Add("w", new double[6], 2, -3));
        Add("SafeTensorsWriter.AddBFloat16", "data", s_arg, "", () => new Simd.IO.SafeTensorsWriter().AddBFloat16("w", new float[7], 2, 3));
        return rows;
    }
}
