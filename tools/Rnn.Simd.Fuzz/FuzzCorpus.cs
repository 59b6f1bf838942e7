using Rnn.Simd.Cells;
using Rnn.Simd.Cli.Runs;
using Rnn.Simd.IO;
using Rnn.Simd.Import.Onnx;
using Rnn.Simd.Kernels;
using Rnn.Simd.Layers;
using Rnn.Simd.Parameters;
using Rnn.Simd.Training;

namespace Rnn.Simd.Fuzz;

/// <summary>
/// The valid files the fuzzer starts from, all made in code: a plain safetensors file of every readable dtype, a
/// PyTorch-style state dict (two-layer bidirectional LSTM with projection) and an input file for it, a GRU state dict,
/// two ONNX models of one recurrent node, a WAV file (16-bit PCM mono at 16 kHz, an odd-sized chunk before its
/// fmt chunk), and a whole <c>rnn-simd train</c> checkpoint (architecture, parameters, Adam's moments, trainer, generators,
/// carried state, vocabulary, settings) of a run on <see cref="TextPath"/>, with its bf16 and int8 inference snapshots.
/// </summary>
internal sealed class FuzzCorpus
{
    /// <summary>The text the checkpoint's run trained on (resuming needs the same file).</summary>
    public const string Text = "the quick brown fox jumps over the lazy dog; pack my box with five dozen liquor jugs.\n";

    private FuzzCorpus(string textPath, string modelPath, IReadOnlyList<(string Name, byte[] Bytes)> seeds)
    {
        TextPath = textPath;
        ModelPath = modelPath;
        Seeds = seeds;
    }

    /// <summary>The training text of the checkpoint seed.</summary>
    public string TextPath { get; }

    /// <summary>The valid LSTM state dict, the model an input file is read against.</summary>
    public string ModelPath { get; }

    /// <summary>The seed files by name.</summary>
    public IReadOnlyList<(string Name, byte[] Bytes)> Seeds { get; }

    /// <summary>Writes the corpus's helper files into <paramref name="directory"/> and builds the seeds.</summary>
    public static FuzzCorpus Create(string directory)
    {
        Directory.CreateDirectory(directory);
        var random = new DeterministicRandom(20261122);
        var seeds = new List<(string, byte[])>();

        // A plain file: every dtype the reader converts, a scalar, an empty tensor, metadata.
        var plain = new SafeTensorsWriter()
            .Add("f32", Values(random, 12), 3, 4)
            .Add("f64", [.. Values(random, 5).Select(v => (double)v)], 5)
            .Add("f16", [.. Values(random, 6).Select(v => (Half)v)], 2, 3)
            .AddBFloat16("bf16", Values(random, 4), 4)
            .Add("i64", [1L, -2L, long.MaxValue], 3)
            .Add("scalar", [1.5f])
            .Add("empty", ReadOnlySpan<float>.Empty, 0, 7)
            .SetMetadata("note", "plain seed");
        seeds.Add(("plain", Bytes(plain)));

        // A PyTorch state dict: 2 layers, bidirectional, projection; what the importer and `infer` read.
        var lstm = new RecurrentNetworkOptions { Cell = CellType.Lstm, InputSize = 3, HiddenSize = 4, ProjectionSize = 2, Layers = 2, Bidirectional = true };
        var stateDict = new SafeTensorsWriter().SetMetadata("cell", "lstm").SetMetadata("batch_first", "false");
        foreach (ParameterSpec spec in lstm.ParameterSpecs())
        {
            stateDict.Add(spec.Name, Values(random, spec.Shape.Aggregate(1, (a, b) => a * b)), [.. spec.Shape.Select(d => (long)d)]);
        }

        byte[] model = Bytes(stateDict);
        string modelPath = Path.Combine(directory, "model.safetensors");
        File.WriteAllBytes(modelPath, model);
        seeds.Add(("pytorch_lstm", model));

        var gru = new RecurrentNetworkOptions { Cell = CellType.Gru, InputSize = 2, HiddenSize = 3 };
        var gruDict = new SafeTensorsWriter().SetMetadata("cell", "gru");
        foreach (ParameterSpec spec in gru.ParameterSpecs("encoder.rnn."))
        {
            gruDict.Add(spec.Name, Values(random, spec.Shape.Aggregate(1, (a, b) => a * b)), [.. spec.Shape.Select(d => (long)d)]);
        }

        seeds.Add(("pytorch_gru", Bytes(gruDict)));

        // An input file for the LSTM: input [T = 3, B = 2, X = 3], h0, c0 [layers·directions = 4, B, ·], lengths.
        var input = new SafeTensorsWriter()
            .Add("input", Values(random, 18), 3, 2, 3)
            .Add("h0", Values(random, 16), 4, 2, 2)
            .Add("c0", Values(random, 32), 4, 2, 4)
            .Add("lengths", [3L, 2L], 2);
        seeds.Add(("infer_input", Bytes(input)));

        // ONNX models of one recurrent node, as OnnxRecurrentLayer reads them: a bidirectional LSTM (layout 0,
        // sequence_lens, initial states, weights as initializers) and a GRU (reset-before, layout 1, no bias).
        seeds.Add(("onnx_lstm", OnnxSeed(random, "LSTM", 4, directions: 2, layout: 0, bias: true, ("direction", "bidirectional"))));
        seeds.Add(("onnx_gru", OnnxSeed(random, "GRU", 3, directions: 1, layout: 1, bias: false, ("layout", 1L), ("linear_before_reset", 0L))));

        // A two-layer LSTM stack as PyTorch exports it (h0 sliced per layer, Y squeezed between the layers, Y_h
        // concatenated), which OnnxRecurrentStack loads as one network.
        seeds.Add(("onnx_stack", StackSeed(random)));

        // A graph with an If on a scalar int64 input (its branches: subgraphs reading outer names, one with a
        // nested If), Conv, Pad, Pow, Sqrt, Log, Exp, Neg, Abs and ReduceMean, as Silero VAD's graphs use them.
        seeds.Add(("onnx_if_conv", IfConvSeed(random)));

        // A WAV file as the voice activity detector reads it: a LIST chunk of odd size (and its pad byte) first.
        seeds.Add(("wav", WavSeed(random)));

        // A checkpoint of a real `train` run after three updates.
        string textPath = Path.Combine(directory, "text.txt");
        File.WriteAllText(textPath, Text);
        var settings = new TrainSettings { Cell = "lstm", Hidden = 6, Layers = 1, Embedding = 3, Steps = 4, Batch = 2, Every = 1, Updates = 3 };
        using (TextRun run = TextRun.Start(textPath, settings))
        {
            for (int i = 0; i < 3; i++)
            {
                run.TrainOne(null);
            }

            string checkpointPath = Path.Combine(directory, "checkpoint.safetensors");
            CheckpointContent content = run.ToCheckpoint() with { Generators = new Dictionary<string, DeterministicRandom> { ["data"] = new DeterministicRandom(5) } };
            Checkpoint.Save(checkpointPath, content);
            seeds.Add(("checkpoint", File.ReadAllBytes(checkpointPath)));

            // The same run as reduced inference snapshots (no optimiser or trainer): the recurrent matrices as BF16, and
            // as I8 codes with an F32 scale per row under scale/, with weight_precision in the metadata.
            foreach ((string name, WeightPrecision precision) in (ReadOnlySpan<(string, WeightPrecision)>)[("checkpoint_bf16", WeightPrecision.BFloat16), ("checkpoint_int8", WeightPrecision.Int8)])
            {
                string reducedPath = Path.Combine(directory, name + ".safetensors");
                Checkpoint.Save(reducedPath, content with { Trainer = null, Optimizer = null, WeightPrecision = precision });
                seeds.Add((name, File.ReadAllBytes(reducedPath)));
            }
        }

        return new FuzzCorpus(textPath, modelPath, seeds);
    }

    // RIFF/WAVE: LIST (5 bytes + pad), fmt (PCM, mono, 16000 Hz, 16-bit), data (40 samples).
    private static byte[] WavSeed(DeterministicRandom random)
    {
        var bytes = new List<byte>();
        void Chunk(string id, byte[] body)
        {
            bytes.AddRange(System.Text.Encoding.ASCII.GetBytes(id));
            bytes.AddRange(BitConverter.GetBytes(body.Length));
            bytes.AddRange(body);
            if (body.Length % 2 == 1)
            {
                bytes.Add(0);
            }
        }

        bytes.AddRange("WAVE"u8.ToArray());
        Chunk("LIST", [1, 2, 3, 4, 5]);
        Chunk("fmt ", [1, 0, 1, 0, .. BitConverter.GetBytes(16000), .. BitConverter.GetBytes(32000), 2, 0, 16, 0]);
        Chunk("data", [.. Values(random, 40).SelectMany(v => BitConverter.GetBytes((short)(v * 30000)))]);
        return [.. "RIFF"u8.ToArray(), .. BitConverter.GetBytes(bytes.Count), .. bytes];
    }

    // X [T, B, In] (layout 0) or [B, T, In]; In = 3, H = 2, B = 2.
    private static byte[] OnnxSeed(DeterministicRandom random, string op, int gates, int directions, int layout, bool bias, params (string, object)[] attributes)
    {
        const int In = 3, H = 2, B = 2;
        var writer = new OnnxWriter()
            .Initializer("W", [directions, gates * H, In], Values(random, directions * gates * H * In))
            .Initializer("R", [directions, gates * H, H], Values(random, directions * gates * H * H));
        if (bias)
        {
            writer.Initializer("B", [directions, 2 * gates * H], Values(random, directions * 2 * gates * H));
        }

        long[] x = layout == 0 ? [-1, B, In] : [B, -1, In], state = layout == 0 ? [directions, B, H] : [B, directions, H];
        writer.Input("X", 1, x).Input("sequence_lens", 6, B).Input("initial_h", 1, state)
            .Output("Y", 1, layout == 0 ? [-1, directions, B, H] : [B, -1, directions, H]).Output("Y_h", 1, state);
        return writer
            .Node(op, "rnn", ["X", "W", "R", bias ? "B" : "", "sequence_lens", "initial_h"], ["Y", "Y_h"], [("hidden_size", (long)H), .. attributes])
            .Build(14);
    }

    // x [T, B = 2, In = 3], h0 [2, B, H = 2]; two forward LSTM layers.
    private static byte[] StackSeed(DeterministicRandom random)
    {
        const int In = 3, H = 2, B = 2;
        var writer = new OnnxWriter()
            .Initializer("W0", [1, 4 * H, In], Values(random, 4 * H * In)).Initializer("R0", [1, 4 * H, H], Values(random, 4 * H * H))
            .Initializer("W1", [1, 4 * H, H], Values(random, 4 * H * H)).Initializer("R1", [1, 4 * H, H], Values(random, 4 * H * H))
            .Initializer("zero", [1], [0L]).Initializer("one", [1], [1L]).Initializer("two", [1], [2L])
            .Input("x", 1, -1, B, In).Input("h0", 1, 2, B, H).Output("y", 1, [-1, B, H]).Output("h_n", 1, [2, B, H]);
        return writer
            .Node("Slice", "h0_0", ["h0", "zero", "one", "zero"], ["s0"])
            .Node("LSTM", "l0", ["x", "W0", "R0", "", "", "s0"], ["y0", "h_0"], ("hidden_size", (long)H))
            .Node("Squeeze", "q0", ["y0", "one"], ["x1"])
            .Node("Slice", "h0_1", ["h0", "one", "two", "zero"], ["s1"])
            .Node("LSTM", "l1", ["x1", "W1", "R1", "", "", "s1"], ["y1", "h_1"], ("hidden_size", (long)H))
            .Node("Squeeze", "q1", ["y1", "one"], ["y"])
            .Node("Concat", "hn", ["h_0", "h_1"], ["h_n"], ("axis", 0L))
            .Build(14);
    }

    private static byte[] IfConvSeed(DeterministicRandom random)
    {
        OnnxWriter.Graph inner = new OnnxWriter().Node("Neg", "neg", ["m"], ["n"]).Node("Abs", "abs", ["n"], ["a"]).Output("a", 1, null).Subgraph("inner");
        OnnxWriter.Graph other = new OnnxWriter().Node("Exp", "exp", ["m"], ["e"]).Output("e", 1, null).Subgraph("other");
        OnnxWriter.Graph then = new OnnxWriter()
            .Node("Pad", "pad", ["x", "pads"], ["p"], ("mode", "reflect"))
            .Node("Constant", "axis", [], ["one"], ("value_ints", new long[] { 1 }))
            .Node("Unsqueeze", "unsqueeze", ["p", "one"], ["u"])
            .Node("Conv", "conv", ["u", "w", "b"], ["k"], ("strides", new long[] { 2 }), ("pads", new long[] { 1, 0 }))
            .Node("Pow", "square", ["k", "two"], ["s"])
            .Node("Sqrt", "root", ["s"], ["r"])
            .Node("Add", "plus", ["r", "two"], ["l0"])
            .Node("Log", "log", ["l0"], ["l"])
            .Node("ReduceMean", "mean", ["l"], ["m"], ("axes", new long[] { 2 }), ("keepdims", 0L))
            .Node("Cast", "yes", ["sr"], ["flag"], ("to", 9L))
            .Node("If", "nested", ["flag"], ["y_then"], ("then_branch", inner), ("else_branch", other))
            .Output("y_then", 1, null).Subgraph("then");
        OnnxWriter.Graph otherwise = new OnnxWriter().Node("Slice", "head", ["x", "start", "end", "axis1"], ["y_else"]).Output("y_else", 1, null).Subgraph("else");
        return new OnnxWriter()
            .Initializer("w", [4, 1, 5], Values(random, 20)).Initializer("b", [4], Values(random, 4)).Initializer("two", [], [2f])
            .Initializer("pads", [4], new long[] { 0, 2, 0, 2 }).Initializer("zero", [], new long[] { 0 })
            .Initializer("start", [1], new long[] { 0 }).Initializer("end", [1], new long[] { 4 }).Initializer("axis1", [1], new long[] { 1 })
            .Input("x", 1, 1, 16).Input("sr", 7).Output("y", 1, null)
            .Node("Equal", "is0", ["sr", "zero"], ["c"])
            .Node("If", "branch", ["c"], ["y"], ("then_branch", then), ("else_branch", otherwise))
            .Build(16);
    }

    private static float[] Values(DeterministicRandom random, int count)
    {
        var values = new float[count];
        for (int i = 0; i < count; i++)
        {
            values[i] = (random.NextSingle() * 2) - 1;
        }

        return values;
    }

    private static byte[] Bytes(SafeTensorsWriter writer)
    {
        using var stream = new MemoryStream();
        writer.WriteTo(stream);
        return stream.ToArray();
    }
}
