using Rnn.Simd.Cells;
using Rnn.Simd.Import;
using Rnn.Simd.IO;
using Rnn.Simd.Kernels;
using Rnn.Simd.Layers;
using Rnn.Simd.Networks;
using Rnn.Simd.Parameters;
using Rnn.Simd.Tests.Infrastructure;
using Rnn.Simd.Tests.Layers;
using Rnn.Simd.Training;

namespace Rnn.Simd.Tests.IO;

/// <summary>
/// Checkpoints of reduced networks (<see cref="CheckpointContent.WeightPrecision"/>): the precision is recorded, the
/// matrices are stored compact and come back bit for bit (every cell, stacked, bidirectional, compact and float
/// panels, every model of Networks/), training from one is refused, and hostile precision data is refused by name.
/// </summary>
[Trait("Category", "IO")]
[Trait("Isa", "All")]
public sealed class ReducedCheckpointTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "rnn-simd-reduced-" + Guid.NewGuid().ToString("N"));

    public ReducedCheckpointTests() => Directory.CreateDirectory(_directory);

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    public static TheoryData<string, WeightPrecision> Cases()
    {
        var data = new TheoryData<string, WeightPrecision>();
        foreach (string name in (string[])["rnn_tanh", "rnn_relu_bidir", "lstm_l2", "lstm_proj_bidir", "gru_l2_bidir", "gru_reset_before", "lstm_compact", "gru_compact_bidir"])
        {
            data.Add(name, WeightPrecision.BFloat16);
            data.Add(name, WeightPrecision.Int8);
        }

        return data;
    }

    private static RecurrentNetworkOptions Architecture(string name) => name switch
    {
        "rnn_tanh" => new() { Cell = CellType.Rnn, InputSize = 5, HiddenSize = 7 },
        "rnn_relu_bidir" => new() { Cell = CellType.Rnn, Nonlinearity = Nonlinearity.Relu, InputSize = 5, HiddenSize = 7, Bidirectional = true },
        "lstm_l2" => new() { Cell = CellType.Lstm, InputSize = 5, HiddenSize = 9, Layers = 2 },
        "lstm_proj_bidir" => new() { Cell = CellType.Lstm, InputSize = 5, HiddenSize = 9, ProjectionSize = 6, Layers = 2, Bidirectional = true },
        "gru_l2_bidir" => new() { Cell = CellType.Gru, InputSize = 5, HiddenSize = 8, Layers = 2, Bidirectional = true },
        "gru_reset_before" => new() { Cell = CellType.Gru, GruVariant = GruVariant.ResetBefore, InputSize = 5, HiddenSize = 8, Layers = 2 },

        // Fused matrices of 512 KiB and more: held in compact panels (bf16 and int8 kernels), not float panels.
        "lstm_compact" => new() { Cell = CellType.Lstm, InputSize = 128, HiddenSize = 128 },
        "gru_compact_bidir" => new() { Cell = CellType.Gru, InputSize = 96, HiddenSize = 160, Bidirectional = true },
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    // ---------------------------------------------------------------- round trips

    [Theory]
    [InlineData("lstm_proj_bidir", WeightPrecision.BFloat16)]
    [InlineData("lstm_proj_bidir", WeightPrecision.Int8)]
    [InlineData("gru_compact_bidir", WeightPrecision.Int8)]
    [InlineData("rnn_tanh", WeightPrecision.Float32)]
    public void ImportedNetwork_WithoutAParameterSet_IsCheckpointed_FromWhatItWasReducedFrom(string name, WeightPrecision precision)
    {
        // An imported reduced network has no parameter set; PyTorchModel.ToCheckpoint saves the float32 values it was
        // rounded from, at its precision, and the checkpoint gives the imported network's bits back.
        RecurrentNetworkOptions o = Architecture(name);
        var file = new SafeTensorsWriter();
        foreach ((string tensor, float[] values) in TestNetworks.PyTorchParameters(o, 23))
        {
            ParameterSpec spec = o.ParameterSpecs().Single(s => s.Name == tensor);
            file.Add(tensor, values, [.. spec.Shape.Select(d => (long)d)]);
        }

        string source = Path.Combine(_directory, "import.safetensors");
        file.Save(source);
        PyTorchModel imported = PyTorchImport.Load(source, new PyTorchImportOptions { Cell = o.Cell.ToString().ToLowerInvariant(), WeightPrecision = precision });
        Assert.Equal(precision, imported.Network.WeightPrecision);

        string path = Path.Combine(_directory, "imported.ckpt");
        Checkpoint.Save(path, imported.ToCheckpoint("rnn.") with { Step = 3 });
        LoadedCheckpoint loaded = Checkpoint.Load(path);
        Assert.Equal(precision, loaded.WeightPrecision);
        RecurrentNetwork again = loaded.CreateInferenceNetwork(imported.Options, "rnn.");
        Assert.Equal(precision, again.WeightPrecision);
        foreach (int batch in (int[])[1, 3])
        {
            Assert.Equal(Run(imported.Network, batch), Run(again, batch));
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ReducedNetwork_RoundTrips_BitForBit_InFewerBytes(string name, WeightPrecision precision)
    {
        RecurrentNetworkOptions o = Architecture(name);
        TrainableRecurrentNetwork trainable = TrainableRecurrentNetwork.FromPyTorch(o, TestNetworks.PyTorchParameters(o, 17));
        RecurrentNetwork saved = trainable.ToInferenceNetwork().WithWeightPrecision(precision);
        string f32 = Save("f32.ckpt", trainable.Parameters, WeightPrecision.Float32);
        string reduced = Save("reduced.ckpt", trainable.Parameters, precision);

        LoadedCheckpoint loaded = Checkpoint.Load(reduced);
        Assert.Equal(precision, loaded.WeightPrecision);
        RecurrentNetwork again = loaded.CreateInferenceNetwork(o, trainable.Prefix);
        Assert.Equal(precision, again.WeightPrecision);
        Assert.Equal(WeightPrecision.Float32, Checkpoint.Load(f32).WeightPrecision);

        foreach (int batch in (int[])[1, 2, 5, 16])
        {
            Assert.Equal(Run(saved, batch), Run(again, batch));
        }

        // Where the recurrent matrices dominate the file, bf16 is about half of float32 and int8 (codes and a scale per
        // row) a quarter; in the tiny networks the header's names weigh as much as the weights.
        long f32Bytes = new FileInfo(f32).Length, reducedBytes = new FileInfo(reduced).Length;
        double limit = name.Contains("compact", StringComparison.Ordinal) ? (precision == WeightPrecision.BFloat16 ? 0.52 : 0.27) : 1.0;
        Assert.True(reducedBytes < limit * f32Bytes, $"{name} {precision}: {reducedBytes} B against float32's {f32Bytes} B");
    }

    [Theory]
    [InlineData(WeightPrecision.BFloat16)]
    [InlineData(WeightPrecision.Int8)]
    public void EveryModel_RoundTrips_AtItsPrecision(WeightPrecision precision)
    {
        var stack = new RecurrentNetworkOptions { Cell = CellType.Lstm, HiddenSize = 8, Layers = 2 };
        SequenceModel[] models =
        [
            SequenceClassifier.Create(new SequenceClassifierOptions { InputSize = 3, Classes = 4, Recurrent = stack with { Bidirectional = true } }, seed: 1),
            SequenceTagger.Create(new SequenceTaggerOptions { VocabularySize = 9, EmbeddingSize = 4, Classes = 3, Recurrent = stack with { Cell = CellType.Gru } }, seed: 2),
            LanguageModel.Create(new LanguageModelOptions { VocabularySize = 7, EmbeddingSize = 5, Recurrent = stack }, seed: 3),
            Forecaster.Create(new ForecasterOptions { InputSize = 2, Recurrent = stack with { Cell = CellType.Rnn } }, seed: 4),
            EncoderDecoder.Create(new EncoderDecoderOptions { SourceVocabularySize = 6, TargetVocabularySize = 5, EmbeddingSize = 4, Recurrent = stack with { Cell = CellType.Gru } }, seed: 5),
        ];
        foreach (SequenceModel model in models)
        {
            string path = Save(model.GetType().Name + ".ckpt", model.Parameters, precision, model.Options);
            object served = Checkpoint.Load(path).CreateInferenceModel();
            (RecurrentNetwork Saved, RecurrentNetwork Loaded)[] pairs = (model, served) switch
            {
                (SequenceClassifier m, SequenceClassifierInference s) => [(m.ToInference().Network.WithWeightPrecision(precision), s.Network)],
                (SequenceTagger m, SequenceTaggerInference s) => [(m.ToInference().Network.WithWeightPrecision(precision), s.Network)],
                (LanguageModel m, LanguageModelInference s) => [(m.ToInference().Network.WithWeightPrecision(precision), s.Network)],
                (Forecaster m, ForecasterInference s) => [(m.ToInference().Network.WithWeightPrecision(precision), s.Network)],
                (EncoderDecoder m, EncoderDecoderInference s) =>
                [
                    (m.ToInference().Encoder.WithWeightPrecision(precision), s.Encoder),
                    (m.ToInference().Decoder.WithWeightPrecision(precision), s.Decoder),
                ],
                _ => throw new InvalidOperationException($"{model.GetType().Name} came back as {served.GetType().Name}"),
            };
            foreach ((RecurrentNetwork saved, RecurrentNetwork loaded) in pairs)
            {
                Assert.Equal(precision, loaded.WeightPrecision);
                Assert.Equal(Run(saved, 3), Run(loaded, 3));
            }

            (model as IDisposable)?.Dispose();
        }
    }

    [Fact]
    public void Classifier_PredictsTheSavedBits()
    {
        using var model = SequenceClassifier.Create(new SequenceClassifierOptions
        {
            InputSize = 4, Classes = 3, Recurrent = new RecurrentNetworkOptions { Cell = CellType.Gru, HiddenSize = 10 },
        }, seed: 9);
        SequenceClassifierInference f32 = model.ToInference();
        var expected = new SequenceClassifierInference(model.Options, f32.Embedding, f32.Network.WithWeightPrecision(WeightPrecision.Int8), f32.Head);
        var served = (SequenceClassifierInference)Checkpoint.Load(Save("c.ckpt", model.Parameters, WeightPrecision.Int8, model.Options)).CreateInferenceModel();
        float[] x = new TestRandom(3).Array(6 * 2 * 4);
        float[] a = new float[2 * 3], b = new float[2 * 3];
        expected.Predict(x, 6, 2, a, probabilities: true);
        served.Predict(x, 6, 2, b, probabilities: true);
        Assert.Equal(a.Select(BitConverter.SingleToUInt32Bits), b.Select(BitConverter.SingleToUInt32Bits));
    }

    [Fact]
    public void Float32Checkpoints_StillLoadAsFloat32_AndTrain()
    {
        var o = new RecurrentNetworkOptions { Cell = CellType.Lstm, InputSize = 3, HiddenSize = 4 };
        TrainableRecurrentNetwork trainable = TrainableRecurrentNetwork.FromPyTorch(o, TestNetworks.PyTorchParameters(o, 2));
        string path = Save("f32.ckpt", trainable.Parameters, WeightPrecision.Float32);
        using (SafeTensorsFile file = SafeTensorsFile.Open(path))
        {
            Assert.False(file.Metadata.ContainsKey("weight_precision"));   // the files of before keep their bytes
            Assert.All(file.Tensors, t => Assert.Equal(SafeTensorsDType.F32, t.DType));
        }

        LoadedCheckpoint loaded = Checkpoint.Load(path);
        Assert.Equal(WeightPrecision.Float32, loaded.WeightPrecision);
        RecurrentNetwork network = loaded.CreateInferenceNetwork(o);
        Assert.Equal(WeightPrecision.Float32, network.WeightPrecision);
        Assert.Equal(Run(trainable.ToInferenceNetwork(), 2), Run(network, 2));
        loaded.Restore(trainable.Parameters);
    }

    // ---------------------------------------------------------------- training

    [Fact]
    public void Training_FromAReducedCheckpoint_IsRefused()
    {
        var o = new RecurrentNetworkOptions { Cell = CellType.Gru, InputSize = 3, HiddenSize = 4 };
        TrainableRecurrentNetwork trainable = TrainableRecurrentNetwork.FromPyTorch(o, TestNetworks.PyTorchParameters(o, 3));
        var trainer = new Trainer(trainable.Parameters, new Sgd(0.1));
        var save = Assert.Throws<ArgumentException>(() => Checkpoint.Save(Path.Combine(_directory, "t.ckpt"), new CheckpointContent
        {
            Parameters = trainable.Parameters, Trainer = trainer, WeightPrecision = WeightPrecision.BFloat16,
        }));
        Assert.Contains("without the float32 master weights", save.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => Save("u.ckpt", trainable.Parameters, (WeightPrecision)5));

        using var model = SequenceTagger.Create(new SequenceTaggerOptions { InputSize = 3, Classes = 2, Recurrent = o with { InputSize = 0 } }, seed: 1);
        LoadedCheckpoint loaded = Checkpoint.Load(Save("m.ckpt", model.Parameters, WeightPrecision.Int8, model.Options));
        foreach (Action refused in (Action[])[() => loaded.CreateModel(), () => loaded.Restore(model.Parameters), () => loaded.CreateTrainer(model.Parameters), () => loaded.CreateOptimizer(model.Parameters)])
        {
            var e = Assert.Throws<InvalidOperationException>(refused);
            Assert.Contains("holds Int8 weights, an inference snapshot without the float32 master weights", e.Message, StringComparison.Ordinal);
        }

        Assert.Equal(model.Parameters.Tensors.Count, loaded.ToDictionary().Count);   // the widened values stay readable
    }

    // ---------------------------------------------------------------- hostile files

    [Fact]
    public void HostilePrecisionData_IsRefused_ByName()
    {
        var o = new RecurrentNetworkOptions { Cell = CellType.Lstm, InputSize = 3, HiddenSize = 4, Layers = 2 };
        TrainableRecurrentNetwork trainable = TrainableRecurrentNetwork.FromPyTorch(o, TestNetworks.PyTorchParameters(o, 5));
        string int8 = Save("int8.ckpt", trainable.Parameters, WeightPrecision.Int8);
        string bf16 = Save("bf16.ckpt", trainable.Parameters, WeightPrecision.BFloat16);
        const string scale = "scale/weight_hh_l1";

        Assert.Contains("metadata 'weight_precision' is 'fp8', not bfloat16, int8 or float32", Rewritten(int8, metadata: m => m["weight_precision"] = "fp8"));
        Assert.Contains("metadata 'weight_precision' is 'Int8'", Rewritten(int8, metadata: m => m["weight_precision"] = "Int8"));
        Assert.Contains($"tensor '{scale}' holds NaN at index 2", Rewritten(int8, floats: (n, v) => n == scale ? [v[0], v[1], float.NaN, .. v[3..]] : v));
        Assert.Contains($"tensor '{scale}' holds Infinity at index 0", Rewritten(int8, floats: (n, v) => n == scale ? [float.PositiveInfinity, .. v[1..]] : v));
        Assert.Contains($"tensor '{scale}' holds -1 at index 1", Rewritten(int8, floats: (n, v) => n == scale ? [v[0], -1f, .. v[2..]] : v));
        Assert.Contains($"tensor '{scale}' must be F32 [16]", Rewritten(int8, floats: (n, v) => n == scale ? v[1..] : v));
        Assert.Contains($"tensor '{scale}' (the int8 scales of 'param/weight_hh_l1') is missing", Rewritten(int8, drop: scale));
        Assert.Contains("tensor 'param/weight_ih_l0' holds the int8 code -128 at index 3", Rewritten(int8, codes: (n, q) => n == "param/weight_ih_l0" ? [q[0], q[1], q[2], -128, .. q[4..]] : q));
        Assert.Contains("tensor 'param/weight_ih_l0' is I8; expected BF16", Rewritten(int8, metadata: m => m["weight_precision"] = "bfloat16"));
        Assert.Contains("unexpected tensor 'scale/weight_", Rewritten(int8, metadata: m => m.Remove("weight_precision"), codesAsFloats: true));
        Assert.Contains("tensor 'param/weight_hh_l0' is F32; expected BF16 (a bfloat16 checkpoint's recurrent matrix)", Rewritten(bf16, widen: "param/weight_hh_l0"));
        Assert.Contains("parameter 'weight_ih_l1' holds Infinity at index 0", Rewritten(bf16, floats: (n, v) => n == "param/weight_ih_l1" ? [float.PositiveInfinity, .. v[1..]] : v));
        Assert.Contains("has no float32 master weights to resume an optimiser on", Rewritten(bf16, metadata: m => m["optimizer"] = "sgd"));
    }

    // ---------------------------------------------------------------- helpers

    private string Save(string name, ParameterSet parameters, WeightPrecision precision, SequenceModelOptions? architecture = null)
    {
        string path = Path.Combine(_directory, name);
        Checkpoint.Save(path, new CheckpointContent { Parameters = parameters, Architecture = architecture, WeightPrecision = precision, Step = 1 });
        return path;
    }

    /// <summary>The bits of the outputs, h_n and c_n of a forward call (T = 4) at <paramref name="batch"/>.</summary>
    private static uint[] Run(RecurrentNetwork network, int batch)
    {
        RecurrentNetworkOptions o = network.Options;
        const int steps = 4;
        float[] x = new TestRandom((ulong)(31 + batch)).Array(steps * batch * o.InputSize, -2f, 2f);
        float[] y = new float[steps * batch * o.LayerOutputSize];
        float[] hN = new float[o.Layers * o.Directions * batch * o.OutputSize];
        float[] cN = o.Cell == CellType.Lstm ? new float[o.Layers * o.Directions * batch * o.HiddenSize] : [];
        network.Forward(x, steps, batch, y, hN: hN, cN: cN);
        return [.. y.Concat(hN).Concat(cN).Select(BitConverter.SingleToUInt32Bits)];
    }

    /// <summary>
    /// Copies the checkpoint at <paramref name="source"/> with changes (F32 values, I8 codes, metadata, a dropped tensor,
    /// a BF16 tensor widened to F32, or every I8 tensor written as F32 values), signs it, loads it and returns the error.
    /// </summary>
    private string Rewritten(
        string source, Action<Dictionary<string, string>>? metadata = null, Func<string, float[], float[]>? floats = null,
        Func<string, sbyte[], sbyte[]>? codes = null, string? drop = null, string? widen = null, bool codesAsFloats = false)
    {
        var writer = new SafeTensorsWriter();
        var meta = new Dictionary<string, string>(StringComparer.Ordinal);
        using (SafeTensorsFile file = SafeTensorsFile.Open(source))
        {
            foreach (SafeTensorsEntry entry in file.Tensors.Where(e => e.Name != drop))
            {
                long[] shape = [.. entry.Shape];
                if (entry.DType == SafeTensorsDType.I8)
                {
                    byte[] bytes = new byte[entry.ElementCount];
                    file.ReadBytes(entry.Name, bytes);
                    sbyte[] q = codes?.Invoke(entry.Name, [.. bytes.Select(b => (sbyte)b)]) ?? [.. bytes.Select(b => (sbyte)b)];
                    if (codesAsFloats)
                    {
                        writer.Add(entry.Name, [.. q.Select(v => (float)v)], shape);
                    }
                    else
                    {
                        writer.AddInt8(entry.Name, q, shape);
                    }
                }
                else
                {
                    float[] values = file.ReadSingle(entry.Name);
                    values = floats?.Invoke(entry.Name, values) ?? values;
                    if (entry.DType == SafeTensorsDType.BF16 && entry.Name != widen)
                    {
                        writer.AddBFloat16(entry.Name, values, shape);
                    }
                    else
                    {
                        writer.Add(entry.Name, values, entry.Name.StartsWith("scale/", StringComparison.Ordinal) ? [values.Length] : shape);
                    }
                }
            }

            foreach (KeyValuePair<string, string> pair in file.Metadata)
            {
                meta[pair.Key] = pair.Value;
            }
        }

        metadata?.Invoke(meta);
        string path = Path.Combine(_directory, "rewritten.ckpt"), message = CheckpointSigning.LoadError(writer, meta, path);
        Assert.StartsWith($"checkpoint '{path}' is invalid: ", message);
        return message;
    }
}
