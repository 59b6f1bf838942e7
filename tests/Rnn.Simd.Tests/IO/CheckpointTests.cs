using Rnn.Simd.Cells;
using Rnn.Simd.Cli.Demo;
using Rnn.Simd.IO;
using Rnn.Simd.Layers;
using Rnn.Simd.Networks;
using Rnn.Simd.Parameters;
using Rnn.Simd.Tests.Infrastructure;
using Rnn.Simd.Training;

namespace Rnn.Simd.Tests.IO;

/// <summary>
/// Checkpoints: a run resumed from one continues bit for bit (every optimiser kind, the trainer's counters, the
/// generators), damaged files are refused with a clear message, a failed save keeps the old file, and a checkpoint
/// only goes into a set of the same tensors.
/// </summary>
[Trait("Category", "IO")]
public sealed class CheckpointTests : IDisposable
{
    private const int Steps = 5, Batch = 3, Inputs = 3, Hidden = 6, Outputs = 2;

    private readonly string _directory = Path.Combine(Path.GetTempPath(), "rnn-simd-ckpt-" + Guid.NewGuid().ToString("N"));

    public CheckpointTests() => Directory.CreateDirectory(_directory);

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    public static TheoryData<string> OptimizerKinds => ["sgd_nesterov", "sgd_dampened", "adam", "adamw_amsgrad", "rmsprop_centered_momentum"];

    // ---------------------------------------------------------------- resuming

    [Theory]
    [MemberData(nameof(OptimizerKinds))]
    public void Resuming_Continues_Bit_For_Bit(string kind)
    {
        const int before = 3, after = 3;
        string path = Path.Combine(_directory, "run.ckpt");

        // The reference: one run of before + after updates.
        using var straight = NewModel(initialize: true);
        var straightTrainer = new Trainer(straight.Parameters, NewOptimizer(kind), new TrainerOptions { MaxGradientNorm = 1 });
        var straightData = new DeterministicRandom(7);
        for (int update = 0; update < before + after; update++)
        {
            TrainStep(straight, straightTrainer, straightData, update);
        }

        // The same run cut after `before` updates, saved, and resumed in new objects.
        using (var first = NewModel(initialize: true))
        {
            var trainer = new Trainer(first.Parameters, NewOptimizer(kind), new TrainerOptions { MaxGradientNorm = 1 });
            var data = new DeterministicRandom(7);
            for (int update = 0; update < before; update++)
            {
                TrainStep(first, trainer, data, update);
            }

            Assert.NotNull(data.State.SpareNormal);   // an odd number of normals per step: the kept one must survive
            Checkpoint.Save(path, new CheckpointContent
            {
                Parameters = first.Parameters,
                Trainer = trainer,
                Step = before,
                Generators = new Dictionary<string, DeterministicRandom> { ["data"] = data },
                Metadata = new Dictionary<string, string> { ["architecture"] = "lstm 3-6 + dense 2" },
                Tensors = new Dictionary<string, float[]> { ["carried.h"] = [1.5f, -0f, float.Epsilon, 3e38f] },
            });
        }

        LoadedCheckpoint loaded = Checkpoint.Load(path);
        Assert.Equal(before, loaded.Step);
        Assert.Equal("lstm 3-6 + dense 2", loaded.Metadata["architecture"]);
        Assert.Equal(Bits([1.5f, -0f, float.Epsilon, 3e38f]), Bits(loaded.Tensors["carried.h"]));
        Assert.Single(loaded.Tensors);
        Assert.Equal(before - 1, loaded.UpdatesApplied);
        Assert.Equal(1, loaded.UpdatesSkipped);

        using var resumed = NewModel(initialize: false);
        loaded.Restore(resumed.Parameters);
        Trainer resumedTrainer = loaded.CreateTrainer(resumed.Parameters);
        DeterministicRandom resumedData = loaded.CreateGenerator("data");
        Assert.Equal(straightTrainer.Optimizer.GetType(), resumedTrainer.Optimizer.GetType());
        for (int update = before; update < before + after; update++)
        {
            TrainStep(resumed, resumedTrainer, resumedData, update);
        }

        Assert.Equal(Bits(straight.Parameters.Values), Bits(resumed.Parameters.Values));
        Assert.Equal(straightTrainer.Optimizer.StepCount, resumedTrainer.Optimizer.StepCount);
        Assert.Equal(straightTrainer.Optimizer.LearningRate, resumedTrainer.Optimizer.LearningRate);
        Assert.Equal(straightTrainer.UpdatesApplied, resumedTrainer.UpdatesApplied);
        Assert.Equal(straightTrainer.UpdatesSkipped, resumedTrainer.UpdatesSkipped);
        Assert.Equal(straightData.State, resumedData.State);
        Assert.Equal(straightData.NextNormal(), resumedData.NextNormal());
    }

    [Fact]
    public void A_Whole_Model_Comes_Back_From_Its_Architecture()
    {
        var options = new SequenceClassifierOptions
        {
            VocabularySize = 9, EmbeddingSize = 4, Classes = 3,
            Recurrent = new RecurrentNetworkOptions { Cell = CellType.Lstm, HiddenSize = 5, ProjectionSize = 3, Bidirectional = true },
        };
        using var model = SequenceClassifier.Create(options, seed: 8);
        string path = Path.Combine(_directory, "model.ckpt");
        Checkpoint.Save(path, new CheckpointContent { Parameters = model.Parameters, Architecture = model.Options });

        LoadedCheckpoint loaded = Checkpoint.Load(path);
        Assert.Equal(options, loaded.Architecture);
        using var again = Assert.IsType<SequenceClassifier>(loaded.CreateModel());
        Assert.Equal(Bits(model.Parameters.Values), Bits(again.Parameters.Values));

        Checkpoint.Save(path, new CheckpointContent { Parameters = model.Parameters });
        Assert.Null(Checkpoint.Load(path).Architecture);
        Assert.Throws<InvalidOperationException>(() => Checkpoint.Load(path).CreateModel());
    }

    [Fact]
    public void User_Tensors_Must_Be_Named_And_Finite()
    {
        using var model = NewModel(initialize: true);
        string path = Path.Combine(_directory, "tensors.ckpt");
        Checkpoint.Save(path, new CheckpointContent { Parameters = model.Parameters });
        foreach (Dictionary<string, float[]> bad in new[]
        {
            new Dictionary<string, float[]> { [""] = [1f] },
            new Dictionary<string, float[]> { ["empty"] = [] },
            new Dictionary<string, float[]> { ["nan"] = [1f, float.NaN] },
        })
        {
            Assert.Throws<ArgumentException>(() => Checkpoint.Save(path, new CheckpointContent { Parameters = model.Parameters, Tensors = bad }));
        }

        Assert.Empty(Checkpoint.Load(path).Tensors);   // the refused saves left the good file
    }

    [Fact]
    public void An_Optimizer_Saved_Before_Its_First_Step_Restores_Without_State()
    {
        using var model = NewModel(initialize: true);
        var adam = new Adam(0.02, weightDecay: 0.1) { WeightDecayExcludedRoles = Optimizer.BiasRoles };
        string path = Path.Combine(_directory, "fresh.ckpt");
        Checkpoint.Save(path, new CheckpointContent { Parameters = model.Parameters, Optimizer = adam });

        LoadedCheckpoint loaded = Checkpoint.Load(path);
        Assert.Equal("adam", loaded.OptimizerKind);
        Assert.False(loaded.HasTrainer);
        var restored = Assert.IsType<Adam>(loaded.CreateOptimizer(model.Parameters));
        Assert.Equal(0, restored.StepCount);
        Assert.Equal(0.02, restored.LearningRate);
        Assert.Equal(0.1, restored.WeightDecay);
        Assert.Equal(Optimizer.BiasRoles, restored.WeightDecayExcludedRoles);
        Assert.Throws<InvalidOperationException>(() => loaded.CreateTrainer(model.Parameters));
        Assert.Throws<ArgumentException>(() => loaded.CreateGenerator("data"));
    }

    [Fact]
    public void The_Parameters_Read_As_A_PyTorch_State_Dict_Under_Their_Prefix()
    {
        string path = SaveSample("run.ckpt");
        LoadedCheckpoint loaded = Checkpoint.Load(path);
        Rnn.Simd.Import.PyTorchModel model = Rnn.Simd.Import.PyTorchImport.Load(path, new Rnn.Simd.Import.PyTorchImportOptions { Prefix = "param/rnn." });
        Assert.Equal(Hidden, model.Options.HiddenSize);
        Assert.Equal(loaded.ToDictionary()["rnn.weight_hh_l0"], model.Parameters["weight_hh_l0"]);
        Assert.Equal(["rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0", "rnn.bias_hh_l0", "head.weight", "head.bias"], loaded.Parameters.Select(p => p.Name));
    }

    [Fact]
    public void Generator_State_Round_Trips_And_Rejects_The_Zero_State()
    {
        var a = new DeterministicRandom(42);
        a.NextNormal();
        var b = new DeterministicRandom(1) { State = a.State };
        Assert.Equal(a.NextNormal(), b.NextNormal());   // the kept normal
        Assert.Equal(a.NextUInt64(), b.NextUInt64());
        Assert.Throws<ArgumentException>(() => b.State = new DeterministicRandomState(0, 0, 0, 0, null));
        Assert.Throws<ArgumentException>(() => b.State = new DeterministicRandomState(1, 0, 0, 0, double.NaN));
    }

    // ---------------------------------------------------------------- damage

    [Fact]
    public void Every_Truncation_And_Single_Byte_Flip_Is_Refused_As_Damage()
    {
        byte[] good = File.ReadAllBytes(SaveSample("good.ckpt"));
        string path = Path.Combine(_directory, "bad.ckpt");
        int[] cuts = [0, 1, 7, 8, 9, 100, good.Length / 2, good.Length - 4, good.Length - 1];
        foreach (int cut in cuts)
        {
            AssertDamaged(path, good[..cut]);
        }

        for (int i = 0; i < good.Length; i++)
        {
            byte[] bad = (byte[])good.Clone();
            bad[i] ^= (byte)(i % 3 == 0 ? 0xFF : 1 << (i % 8));
            AssertDamaged(path, bad);
        }
    }

    [Fact]
    public void A_Flipped_Payload_Byte_Is_A_Checksum_Mismatch()
    {
        byte[] bytes = File.ReadAllBytes(SaveSample("good.ckpt"));
        bytes[^5] ^= 0x10;
        string path = Path.Combine(_directory, "x.ckpt");
        File.WriteAllBytes(path, bytes);
        InvalidDataException e = Assert.Throws<InvalidDataException>(() => Checkpoint.Load(path));
        Assert.Equal($"checkpoint '{path}' is damaged: checksum mismatch.", e.Message);
    }

    [Fact]
    public void Empty_And_Random_Files_Are_Damaged()
    {
        string path = Path.Combine(_directory, "x.ckpt");
        Assert.Equal($"checkpoint '{path}' is damaged: the file is empty.", AssertDamaged(path, []));
        var random = new DeterministicRandom(3);
        for (int n = 1; n < 2000; n += 97)
        {
            byte[] garbage = new byte[n];
            for (int i = 0; i < n; i++)
            {
                garbage[i] = (byte)random.NextUInt64();
            }

            AssertDamaged(path, garbage);
        }
    }

    [Fact]
    public void A_Safetensors_File_That_Is_No_Checkpoint_Is_Named_As_Such()
    {
        string path = Path.Combine(_directory, "model.safetensors");
        new SafeTensorsWriter().Add("weight_ih_l0", [1f, 2f], 2, 1).SetMetadata("cell", "rnn_tanh").Save(path);
        InvalidDataException e = Assert.Throws<InvalidDataException>(() => Checkpoint.Load(path));
        Assert.Equal($"checkpoint '{path}' is not an rnn-simd checkpoint: it has no 'format' metadata, expected 'rnn-simd.checkpoint'.", e.Message);
    }

    [Fact]
    public void Consistently_Signed_But_Wrong_Files_Are_Refused_With_The_Reason()
    {
        string good = SaveSample("good.ckpt");
        Assert.Contains("has format version 2; this library reads version 1", Resigned(good, metadata: m => m["format_version"] = "2"));
        Assert.Contains("parameter 'head.bias' holds NaN at index 1", Resigned(good, tensor: (n, v) => n == "param/head.bias" ? [v[0], float.NaN] : v));
        Assert.Contains("the adamw state 'max_exp_avg_sq' of parameter 'rnn.weight_hh_l0' is missing", Resigned(good, drop: "optim/max_exp_avg_sq/rnn.weight_hh_l0"));
        Assert.Contains("tensor 'param/rnn.bias_ih_l0' is missing", Resigned(good, drop: "param/rnn.bias_ih_l0"));
        Assert.Contains("unknown optimiser 'lamb'", Resigned(good, metadata: m => m["optimizer"] = "lamb"));
        Assert.Contains("metadata 'optimizer.lr' is missing", Resigned(good, metadata: m => m.Remove("optimizer.lr")));
        Assert.Contains("hyperparameters are out of range", Resigned(good, metadata: m => m["optimizer.beta1"] = "1.5"));
        Assert.Contains("metadata 'step' is '-1'", Resigned(good, metadata: m => m["step"] = "-1"));
        Assert.Contains("no checksum", Resigned(good, metadata: m => m.Remove("checksum"), sign: false));
    }

    [Fact]
    public void Saving_A_Broken_Run_Is_Refused_And_Keeps_The_Last_Good_Checkpoint()
    {
        string path = SaveSample("run.ckpt");
        byte[] before = File.ReadAllBytes(path);
        using var model = NewModel(initialize: true);
        model.Parameters.Value("rnn.weight_hh_l0")[4] = float.PositiveInfinity;
        ArgumentException e = Assert.Throws<ArgumentException>(() => Checkpoint.Save(path, new CheckpointContent { Parameters = model.Parameters }));
        Assert.Contains("'rnn.weight_hh_l0' holds Infinity at index 4", e.Message);
        Assert.Equal(before, File.ReadAllBytes(path));
    }

    [Fact]
    public void A_Save_That_Fails_Midway_Leaves_The_Previous_Checkpoint_Loadable()
    {
        string path = SaveSample("run.ckpt");
        byte[] before = File.ReadAllBytes(path);
        using var model = NewModel(initialize: true);
        IOException e = Assert.Throws<IOException>(() =>
            Checkpoint.SaveCore(path, new CheckpointContent { Parameters = model.Parameters, Step = 99 }, inner => new FailingStream(inner, failAfter: 300)));
        Assert.Contains("disk full", e.Message);
        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Equal(4, Checkpoint.Load(path).Step);
        Assert.Equal(["run.ckpt"], Directory.GetFileSystemEntries(_directory).Select(Path.GetFileName));
    }

    // ---------------------------------------------------------------- mismatches

    [Fact]
    public void Restoring_Into_A_Different_Set_Names_The_Tensor()
    {
        LoadedCheckpoint loaded = Checkpoint.Load(SaveSample("run.ckpt"));
        var options = new RecurrentNetworkOptions { Cell = CellType.Lstm, InputSize = Inputs, HiddenSize = Hidden };

        using var wider = StackWithHead.Create(options with { HiddenSize = Hidden + 1 }, Outputs, OutputActivation.Identity);
        ArgumentException e = Assert.Throws<ArgumentException>(() => loaded.Restore(wider.Parameters));
        Assert.Equal("set", e.ParamName);
        Assert.Contains("'rnn.weight_ih_l0' has shape [28, 3]", e.Message);

        var renamed = ParameterSet.Create(options.ParameterSpecs("enc.", true).Concat(TrainableDenseLayer.Specs(Hidden, Outputs, "head.", true)));
        e = Assert.Throws<ArgumentException>(() => loaded.CreateOptimizer(renamed));
        Assert.Contains("Parameter 'enc.weight_ih_l0' is not in checkpoint", e.Message);

        var recurrentOnly = ParameterSet.Create(options.ParameterSpecs("rnn.", true));
        e = Assert.Throws<ArgumentException>(() => loaded.Restore(recurrentOnly));
        Assert.Contains("lacks parameter(s) 'head.weight', 'head.bias'", e.Message);

        var roles = ParameterSet.Create(loaded.Parameters.Select(p => new ParameterSpec(p.Name, [.. p.Shape], ParameterRole.DenseWeight)));
        e = Assert.Throws<ArgumentException>(() => loaded.Restore(roles));
        Assert.Contains("has role DenseWeight; checkpoint", e.Message);
    }

    [Fact]
    public void Content_Errors_Are_Argument_Exceptions()
    {
        using var model = NewModel(initialize: true);
        using var other = NewModel(initialize: true);
        var trainer = new Trainer(model.Parameters, new Sgd(0.1));
        string path = Path.Combine(_directory, "x.ckpt");
        Assert.Throws<ArgumentException>(() => Checkpoint.Save(path, new CheckpointContent { Parameters = other.Parameters, Trainer = trainer }));
        Assert.Throws<ArgumentException>(() => Checkpoint.Save(path, new CheckpointContent { Parameters = model.Parameters, Trainer = trainer, Optimizer = new Sgd(0.1) }));
        Assert.Throws<ArgumentException>(() => Checkpoint.Save(path, new CheckpointContent { Parameters = model.Parameters, Step = -1 }));
        var stepped = new Sgd(0.1, momentum: 0.5);
        stepped.Step(other.Parameters);
        Assert.Throws<ArgumentException>(() => Checkpoint.Save(path, new CheckpointContent { Parameters = model.Parameters, Optimizer = stepped }));
        Assert.False(File.Exists(path));
    }

    // ---------------------------------------------------------------- helpers

    private static StackWithHead NewModel(bool initialize)
    {
        var options = new RecurrentNetworkOptions { Cell = CellType.Lstm, InputSize = Inputs, HiddenSize = Hidden };
        var model = StackWithHead.Create(options, Outputs, OutputActivation.Identity);
        if (initialize)
        {
            Initializers.Apply(model.Parameters, RecurrentInitialization.PyTorch, seed: 11);
        }

        return model;
    }

    private static Optimizer NewOptimizer(string kind) => kind switch
    {
        "sgd_nesterov" => new Sgd(0.05, momentum: 0.9, weightDecay: 1e-3, nesterov: true),
        "sgd_dampened" => new Sgd(0.05, momentum: 0.8, dampening: 0.25) { WeightDecayExcludedRoles = Optimizer.BiasRoles },
        "adam" => new Adam(0.01, weightDecay: 1e-3) { WeightDecayExcludedRoles = Optimizer.BiasRoles },
        "adamw_amsgrad" => new AdamW(0.01, beta2: 0.99, amsgrad: true),
        "rmsprop_centered_momentum" => new RmsProp(1e-3, alpha: 0.9, weightDecay: 1e-4, momentum: 0.9, centered: true),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    /// <summary>
    /// One update on a fresh batch drawn from <paramref name="data"/> (an odd number of normals, so a kept normal
    /// crosses updates); update 1's gradient is poisoned (skipped), update 2 halves the learning rate.
    /// </summary>
    private static void TrainStep(StackWithHead model, Trainer trainer, DeterministicRandom data, int update)
    {
        var x = new float[Steps * Batch * Inputs];       // [T, B, X]: 45 normals
        var target = new float[Steps * Batch * Outputs]; // [T, B, O]
        var h = new float[Steps * Batch * Hidden];
        var y = new float[target.Length];
        var dy = new float[target.Length];
        var dh = new float[h.Length];
        for (int i = 0; i < x.Length; i++)
        {
            x[i] = (float)data.NextNormal();
        }

        for (int i = 0; i < target.Length; i++)
        {
            target[i] = data.NextSingle();
        }

        model.Network.Forward(model.Tape, x, Steps, Batch, h);
        model.Head.Forward(h, Steps * Batch, y);
        Losses.MeanSquaredError(y, target, dy);
        model.Head.Backward(h, y, dy, Steps * Batch, dh);
        model.Network.Backward(model.Tape, dh);
        if (update == 1)
        {
            model.Parameters.Gradients[3] = float.NaN;
        }

        if (update == 2)
        {
            trainer.Optimizer.LearningRate *= 0.5;
        }

        trainer.Update();
    }

    /// <summary>A checkpoint of four AdamW (AMSGrad) updates of the sample model, with a generator.</summary>
    private string SaveSample(string name)
    {
        using var model = NewModel(initialize: true);
        var trainer = new Trainer(model.Parameters, NewOptimizer("adamw_amsgrad"));
        var data = new DeterministicRandom(5);
        for (int update = 0; update < 4; update++)
        {
            TrainStep(model, trainer, data, update);
        }

        string path = Path.Combine(_directory, name);
        Checkpoint.Save(path, new CheckpointContent
        {
            Parameters = model.Parameters,
            Trainer = trainer,
            Step = 4,
            Generators = new Dictionary<string, DeterministicRandom> { ["data"] = data },
        });
        return path;
    }

    private static string AssertDamaged(string path, byte[] bytes)
    {
        File.WriteAllBytes(path, bytes);
        InvalidDataException e = Assert.Throws<InvalidDataException>(() => Checkpoint.Load(path));
        Assert.StartsWith($"checkpoint '{path}' is damaged: ", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        return e.Message;
    }

    /// <summary>
    /// Rewrites the checkpoint at <paramref name="source"/> with changes and a checksum that matches them (unless
    /// <paramref name="sign"/> is false), loads it, and returns the load's error message.
    /// </summary>
    private string Resigned(
        string source, Action<Dictionary<string, string>>? metadata = null, Func<string, float[], float[]>? tensor = null,
        string? drop = null, bool sign = true)
    {
        var writer = new SafeTensorsWriter();
        var meta = new Dictionary<string, string>(StringComparer.Ordinal);
        using (SafeTensorsFile file = SafeTensorsFile.Open(source))
        {
            foreach (SafeTensorsEntry entry in file.Tensors)
            {
                long[] shape = [.. entry.Shape];
                if (entry.Name == drop)
                {
                    continue;
                }

                if (entry.DType == SafeTensorsDType.I64)
                {
                    writer.Add(entry.Name, file.ReadInt64(entry.Name), shape);
                }
                else
                {
                    float[] values = file.ReadSingle(entry.Name);
                    writer.Add(entry.Name, tensor is null ? values : tensor(entry.Name, values), shape);
                }
            }

            foreach (KeyValuePair<string, string> pair in file.Metadata)
            {
                meta[pair.Key] = pair.Value;
            }
        }

        metadata?.Invoke(meta);
        return CheckpointSigning.LoadError(writer, meta, Path.Combine(_directory, "resigned.ckpt"), sign);
    }

    private static uint[] Bits(ReadOnlySpan<float> values)
    {
        var bits = new uint[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            bits[i] = BitConverter.SingleToUInt32Bits(values[i]);
        }

        return bits;
    }
}
