using Rnn.Simd.Cells;
using Rnn.Simd.IO;
using Rnn.Simd.Import;
using Rnn.Simd.Layers;

namespace Rnn.Simd.Cli.Commands;

/// <summary>
/// One forward call as the conformance commands (<c>infer</c>, <c>backward</c>) read it from files: the model,
/// the input tensors checked against it, and the result buffers. Everything a file can get wrong is an
/// <see cref="InvalidDataException"/> with a one-line message.
/// </summary>
internal sealed class RecurrentCall
{
    private RecurrentCall(PyTorchModel model, float[] input, long[] inputShape, int steps, int batch, float[] h0, float[] c0, int[] lengths)
    {
        Model = model;
        Input = input;
        InputShape = inputShape;
        Steps = steps;
        Batch = batch;
        H0 = h0;
        C0 = c0;
        Lengths = lengths;
        RecurrentNetworkOptions o = model.Options;
        Output = new float[(long)steps * batch * o.LayerOutputSize];
        HN = new float[States * batch * o.OutputSize];
        CN = IsLstm ? new float[States * batch * o.HiddenSize] : [];
    }

    public PyTorchModel Model { get; }

    public RecurrentNetworkOptions Options => Model.Options;

    public bool BatchFirst => Model.BatchFirst;

    public bool IsLstm => Options.Cell == CellType.Lstm;

    public int States => Options.Layers * Options.Directions;

    public float[] Input { get; }

    public long[] InputShape { get; }

    public int Steps { get; }

    public int Batch { get; }

    public float[] H0 { get; }

    public float[] C0 { get; }

    public int[] Lengths { get; }

    public float[] Output { get; }

    public float[] HN { get; }

    public float[] CN { get; }

    public long[] OutputShape => BatchFirst ? [Batch, Steps, Options.LayerOutputSize] : [Steps, Batch, Options.LayerOutputSize];

    public static RecurrentCall Load(FileInfo modelFile, FileInfo inputFile, string prefix, string? cell, bool batchFirstFlag, int threadCount)
    {
        if (threadCount is < 1 or > 256)
        {
            throw new ArgumentException($"--threads must be between 1 and 256, was {threadCount}.");
        }

        PyTorchModel model = PyTorchImport.Load(
            modelFile.FullName,
            new PyTorchImportOptions { Prefix = prefix, Cell = cell, BatchFirst = batchFirstFlag ? true : null });
        try
        {
            return LoadInput(model, inputFile);
        }
        catch (InvalidDataException e) when (!e.Message.Contains(inputFile.FullName, StringComparison.Ordinal))
        {
            throw new InvalidDataException($"input file '{inputFile.FullName}': {e.Message}", e);
        }
    }

    private static RecurrentCall LoadInput(PyTorchModel model, FileInfo inputFile)
    {
        RecurrentNetworkOptions o = model.Options;
        bool batchFirst = model.BatchFirst;

        using SafeTensorsFile inputs = SafeTensorsFile.Open(inputFile.FullName);
        SafeTensorsEntry x = Require(inputs, "input");
        RequireFloat(x, "input");
        long steps64 = x.Shape.Length == 3 ? (batchFirst ? x.Shape[1] : x.Shape[0]) : 0, batch64 = x.Shape.Length == 3 ? (batchFirst ? x.Shape[0] : x.Shape[1]) : 0;
        if (x.Shape.Length != 3 || x.Shape[2] != o.InputSize || batch64 < 1 || batch64 > int.MaxValue || steps64 > int.MaxValue)
        {
            throw new InvalidDataException($"'input' has shape [{string.Join(", ", x.Shape)}]; expected [{(batchFirst ? "B, T" : "T, B")}, {o.InputSize}] with B ≥ 1.");
        }

        int steps = (int)steps64, batch = (int)batch64;
        int states = o.Layers * o.Directions;
        float[] h0 = Optional(inputs, "h0", "input", states, batch, o.OutputSize);
        float[] c0 = o.Cell == CellType.Lstm ? Optional(inputs, "c0", "input", states, batch, o.HiddenSize) : [];
        int[] lengths = [];
        if (inputs.Contains("lengths"))
        {
            SafeTensorsEntry entry = inputs.GetEntry("lengths");
            if (entry.Shape.Length != 1 || entry.Shape[0] != batch || entry.DType != SafeTensorsDType.I64)
            {
                throw new InvalidDataException($"'lengths' must be I64 [{batch}]; it is {entry}.");
            }

            lengths = [.. inputs.ReadInt64("lengths").Select(l => l is < 0 || l > int.MaxValue ? throw new InvalidDataException($"'lengths' holds {l}, outside [0, {steps}].") : (int)l)];
            if (lengths.Any(l => l > steps))
            {
                throw new InvalidDataException($"'lengths' holds a length above T = {steps}.");
            }
        }

        return new RecurrentCall(model, inputs.ReadSingle("input"), [.. x.Shape], steps, batch, h0, c0, lengths);
    }

    /// <summary>The forward results under PyTorch's names: output, h_n and (LSTM) c_n.</summary>
    public SafeTensorsWriter AddForwardResults(SafeTensorsWriter writer)
    {
        writer.Add("output", Output, OutputShape).Add("h_n", HN, States, Batch, Options.OutputSize);
        if (IsLstm)
        {
            writer.Add("c_n", CN, States, Batch, Options.HiddenSize);
        }

        return writer;
    }

    /// <summary>A tensor of a file with exactly the given shape, or empty when the file has none by that name.</summary>
    public static float[] Optional(SafeTensorsFile file, string name, string fileRole, params long[] shape)
    {
        if (!file.Contains(name))
        {
            return [];
        }

        SafeTensorsEntry entry = file.GetEntry(name);
        RequireFloat(entry, fileRole);
        if (!entry.Shape.SequenceEqual(shape))
        {
            throw new InvalidDataException($"'{name}' in the {fileRole} file has shape [{string.Join(", ", entry.Shape)}]; expected [{string.Join(", ", shape)}].");
        }

        return file.ReadSingle(name);
    }

    /// <summary>A tensor read as float must hold floating-point numbers (F32, F64, F16 or BF16).</summary>
    private static void RequireFloat(SafeTensorsEntry entry, string fileRole)
    {
        if (entry.DType is not (SafeTensorsDType.F32 or SafeTensorsDType.F64 or SafeTensorsDType.F16 or SafeTensorsDType.BF16))
        {
            throw new InvalidDataException($"'{entry.Name}' in the {fileRole} file is {entry}; expected a floating-point tensor (F32, F64, F16 or BF16).");
        }
    }

    private static SafeTensorsEntry Require(SafeTensorsFile file, string name) =>
        file.Contains(name) ? file.GetEntry(name) : throw new InvalidDataException($"The input file has no '{name}' tensor.");
}
