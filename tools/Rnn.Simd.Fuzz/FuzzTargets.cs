using Rnn.Simd.Audio;
using Rnn.Simd.Cli.Commands;
using Rnn.Simd.Cli.Runs;
using Rnn.Simd.IO;
using Rnn.Simd.Kernels;
using Rnn.Simd.Cells;
using Rnn.Simd.Import;
using Rnn.Simd.Import.Onnx;
using Rnn.Simd.Layers;
using Rnn.Simd.Networks;
using Rnn.Simd.Parameters;
using Rnn.Simd.Training;

namespace Rnn.Simd.Fuzz;

/// <summary>
/// Every reader a user can point at a file, in the order a user would call them: the safetensors container (from
/// memory and from disk, every tensor read), a checkpoint (loaded, its model, optimiser, trainer and generators
/// rebuilt; as <c>sample</c> and <c>train --resume</c> read it), the PyTorch importer (under each prefix the file
/// has), <c>infer</c>'s input file against a valid model, the ONNX importer (loaded and run once), and the WAV
/// reader of <c>vad</c>.
/// </summary>
/// <remarks>A stage returns normally (the file was accepted) or throws; only <see cref="InvalidDataException"/> may
/// come out of it. Preconditions that belong to the caller and not to the file are checked first, as the command line
/// does: a checkpoint's model is rebuilt only when it holds an architecture, and a run resumes only on the data it
/// was trained on. The checkpoint is loaded once (stage <c>checkpoint</c>) and used by the next stage, which reports
/// the same refusal when it did not load.</remarks>
internal sealed class FuzzTargets(FuzzCorpus corpus)
{
    /// <summary>The stage names, in the order <see cref="Run"/> runs them.</summary>
    public static readonly string[] Stages = ["safetensors", "checkpoint", "checkpoint-use", "pytorch-import", "infer-input", "onnx", "wav"];

    private static readonly string[] s_prefixes = ["", "encoder.rnn.", "param/rnn."];

    private readonly string _textHash = TrainingRun.HashFile(corpus.TextPath);

    // The checkpoint stage's result, which the next stage uses (loading it once, as `sample` does).
    private LoadedCheckpoint? _checkpoint;
    private InvalidDataException? _refused;

    /// <summary>Runs stage <paramref name="stage"/> on the file (its bytes and the path they were written to).</summary>
    public void Run(int stage, byte[] bytes, string path)
    {
        switch (stage)
        {
            case 1:
                _checkpoint = null;
                _refused = null;
                try
                {
                    _checkpoint = CheckpointFolder.Open(path);
                }
                catch (InvalidDataException e)
                {
                    _refused = e;
                    throw;
                }

                break;
            case 2:
                // What `sample` and `train --resume` do with the checkpoint loaded once: nothing, if it was refused.
                UseCheckpoint(_checkpoint ?? throw _refused!);
                break;
            case 4:
                // infer imports the model, then opens the input: an input that is no safetensors file at all fails
                // there with the container's InvalidDataException, whatever the model. Checked first to save the import.
                using (SafeTensorsFile.Load(bytes))
                {
                }

                _ = RecurrentCall.Load(new FileInfo(corpus.ModelPath), new FileInfo(path), "", null, false, 1);
                break;
            case 5:
                Onnx(bytes, path);
                break;
            case 6:
                // The WAV reader of `rnn-simd vad`, from memory and from the file.
                _ = WavReader.Read(bytes, "memory");
                _ = WavReader.Read(path);
                break;
            case 0:
                using (SafeTensorsFile memory = SafeTensorsFile.Load(bytes))
                {
                    ReadAll(memory);
                }

                using (SafeTensorsFile file = SafeTensorsFile.Open(path))
                {
                    ReadAll(file);
                }

                break;
            case 3:
                Import(bytes, path);
                break;
        }
    }

    private static void ReadAll(SafeTensorsFile file)
    {
        foreach (SafeTensorsEntry entry in file.Tensors)
        {
            byte[] raw = new byte[entry.ByteLength];
            file.ReadBytes(entry.Name, raw);
            if (entry.DType is SafeTensorsDType.F32 or SafeTensorsDType.F64 or SafeTensorsDType.F16 or SafeTensorsDType.BF16)
            {
                _ = file.ReadSingle(entry.Name);
                _ = file.ReadDouble(entry.Name);
            }
            else if (entry.DType == SafeTensorsDType.I64)
            {
                _ = file.ReadInt64(entry.Name);
            }
        }
    }

    private void UseCheckpoint(LoadedCheckpoint checkpoint)
    {
        _ = checkpoint.ToDictionary();
        foreach (string name in checkpoint.GeneratorNames)
        {
            _ = checkpoint.CreateGenerator(name);
        }

        if (checkpoint.WeightPrecision != WeightPrecision.Float32)
        {
            // A reduced inference snapshot: rebuilt at its precision, as `sample` does (training from it is refused by
            // design, an InvalidOperationException that no file can avoid, so it is not attempted).
            if (checkpoint.Architecture is not null)
            {
                (checkpoint.CreateInferenceModel() as IDisposable)?.Dispose();
                if (checkpoint.Metadata.TryGetValue(TrainingRun.TaskKey, out string? kind) && kind == "text")
                {
                    _ = TextRun.Load(checkpoint);
                }
            }

            return;
        }

        ParameterSet set;
        SequenceModel? model = null;
        if (checkpoint.Architecture is not null)
        {
            model = checkpoint.CreateModel();
            set = model.Parameters;
        }
        else
        {
            set = ParameterSet.Create(checkpoint.Parameters.Select(p => new ParameterSpec(p.Name, [.. p.Shape], p.Role)));
            checkpoint.Restore(set);
        }

        try
        {
            if (checkpoint.OptimizerKind is not null)
            {
                _ = checkpoint.CreateOptimizer(set);
            }

            if (checkpoint.HasTrainer)
            {
                _ = checkpoint.CreateTrainer(set);
            }
        }
        finally
        {
            (model as IDisposable)?.Dispose();
        }

        // What `sample` and `train --resume` read: only for a text run's checkpoint on the corpus's text.
        if (checkpoint.Metadata.TryGetValue(TrainingRun.TaskKey, out string? task) && task == "text")
        {
            _ = TextRun.Load(checkpoint);
            if (checkpoint.Metadata.TryGetValue(TrainingRun.DataHashKey, out string? hash) && hash == _textHash)
            {
                using TextRun run = TextRun.Resume(checkpoint, corpus.TextPath, new TrainSettings { Updates = checkpoint.Step });
            }
        }
    }

    /// <summary>The ONNX importers: the graph runner (loaded, planned, run on zeros of the declared shapes), the stack
    /// loader on the same model, and, for a graph of one recurrent node, the single-node loader from memory and from the file, run once on two steps of
    /// zeros with every input and output.</summary>
    private static void Onnx(byte[] bytes, string path)
    {
        // The general graph runner: loaded, planned for its declared shapes (a free dimension as 2) and run on zeros.
        OnnxModel model = OnnxModel.Load(bytes, "memory");
        OnnxGraph graph = OnnxGraph.Parse(bytes, "memory");
        var feeds = new OnnxFeed[model.InputNames.Count];
        for (int i = 0; i < feeds.Length; i++)
        {
            OnnxValue declared = graph.Inputs[i];
            long[] shape = [.. (declared.Dimensions ?? [2]).Select(d => d < 0 ? 2 : Math.Min(d, 64))];
            if (shape.Length > 8 || (declared.Dimensions is { } dims && dims.Any(d => d > 64)))
            {
                return;   // a declared shape too large to feed here: nothing of the file's is read by running it
            }

            long count = shape.Aggregate(1L, (a, b) => a * b);
            feeds[i] = declared.ElementType is 6 or 7 ? new OnnxFeed(new long[count], shape) : new OnnxFeed(new float[count], shape);
        }

        var results = new Memory<float>[model.OutputNames.Count];
        for (int k = 0; k < results.Length; k++)
        {
            results[k] = new float[model.OutputShape(k, feeds).Aggregate(1L, (a, b) => a * b)];
        }

        model.Run(feeds, results);

        // The stack loader on the same model: one network, or refused by name; a network it makes runs once.
        try
        {
            RecurrentNetwork stack = OnnxRecurrentStack.From(model).Network;
            stack.Forward(new float[2 * 2 * stack.Options.InputSize], 2, 2, new float[2 * 2 * stack.Options.LayerOutputSize]);
        }
        catch (InvalidDataException)
        {
        }

        // The single-node loader, for graphs of one recurrent node (the If/Conv seed is a graph of several).
        if (graph.Nodes is not [{ OpType: "RNN" or "LSTM" or "GRU" }])
        {
            return;
        }

        _ = OnnxRecurrentLayer.FromGraph(OnnxGraph.Parse(bytes, "memory"), "memory", null, null);
        OnnxRecurrentLayer layer = OnnxRecurrentLayer.Load(path);
        RecurrentNetworkOptions o = layer.Network.Options;
        const int Steps = 2, Batch = 2;
        int states = o.Directions * Batch * o.HiddenSize;
        bool lstm = o.Cell == CellType.Lstm;
        layer.Run(
            new float[Steps * Batch * o.InputSize], Steps, Batch, new float[Steps * states], new float[states], lstm ? new float[states] : default,
            new float[states], lstm ? new float[states] : default, [Steps, 1]);
    }

    private static void Import(byte[] bytes, string path)
    {
        string[] prefixes;
        using (SafeTensorsFile file = SafeTensorsFile.Load(bytes))
        {
            prefixes = [.. s_prefixes.Where(p => file.Contains(p + "weight_ih_l0"))];
        }

        foreach (string prefix in prefixes.Length == 0 ? [""] : prefixes)
        {
            _ = PyTorchImport.Load(path, new PyTorchImportOptions { Prefix = prefix });
        }
    }
}
