using System.CommandLine;
using Rnn.Simd.Import;
using Rnn.Simd.IO;

namespace Rnn.Simd.Cli.Commands;

/// <summary>
/// <c>rnn-simd infer</c>: runs a PyTorch RNN/LSTM/GRU saved as safetensors on the tensors of an input file and
/// writes PyTorch's results (output, h_n, c_n) to an output file. How a user checks an imported model.
/// </summary>
internal static class InferCommand
{
    public static Command Create()
    {
        var model = new Option<FileInfo>("--model") { Description = "The model's state_dict as safetensors.", Required = true };
        var input = new Option<FileInfo>("--input") { Description = "input [T,B,X] (or [B,T,X]); optional h0, c0, lengths (I64).", Required = true };
        var output = new Option<FileInfo>("--output") { Description = "Where to write output, h_n and (LSTM) c_n.", Required = true };
        var prefix = new Option<string>("--prefix") { Description = "Prefix of the parameter names, e.g. 'encoder.rnn.'.", DefaultValueFactory = _ => "" };
        var cell = new Option<string?>("--cell") { Description = "rnn_tanh, rnn_relu, lstm or gru (default: the file's metadata, else the shapes)." };
        cell.AcceptOnlyFromAmong("rnn_tanh", "rnn_relu", "lstm", "gru", "gru_reset_before");
        var batchFirst = new Option<bool>("--batch-first") { Description = "Tensors are [B,T,·] (default: the file's metadata, else false)." };
        var threads = new Option<int>("--threads") { Description = "Threads for the matrix products.", DefaultValueFactory = _ => 1 };
        var command = new Command("infer", "Run a PyTorch recurrent model (safetensors) forward and write output, h_n, c_n.")
        {
            model, input, output, prefix, cell, batchFirst, threads,
        };
        command.SetAction(result => Run(
            result.GetValue(model)!, result.GetValue(input)!, result.GetValue(output)!, result.GetValue(prefix) ?? "",
            result.GetValue(cell), result.GetResult(batchFirst) is { Implicit: false } && result.GetValue(batchFirst), result.GetValue(threads)));
        return command;
    }

    private static int Run(FileInfo modelFile, FileInfo inputFile, FileInfo outputFile, string prefix, string? cell, bool batchFirstFlag, int threadCount)
    {
        if (threadCount is < 1 or > 256)
        {
            throw new ArgumentException($"--threads must be between 1 and 256, was {threadCount}.");
        }

        PyTorchModel imported = PyTorchImport.Load(
            modelFile.FullName,
            new PyTorchImportOptions { Prefix = prefix, Cell = cell, BatchFirst = batchFirstFlag ? true : null });
        RecurrentNetwork network = imported.Network;
        RecurrentNetworkOptions o = network.Options;
        bool batchFirst = imported.BatchFirst;

        using SafeTensorsFile inputs = SafeTensorsFile.Open(inputFile.FullName);
        SafeTensorsEntry x = Require(inputs, "input");
        if (x.Shape.Length != 3 || x.Shape[2] != o.InputSize || x.Shape[0] < 0 || x.Shape[1] < 1)
        {
            throw new InvalidDataException($"'input' has shape [{string.Join(", ", x.Shape)}]; expected [{(batchFirst ? "B, T" : "T, B")}, {o.InputSize}] with B ≥ 1.");
        }

        int steps = (int)(batchFirst ? x.Shape[1] : x.Shape[0]);
        int batch = (int)(batchFirst ? x.Shape[0] : x.Shape[1]);
        int states = o.Layers * o.Directions;
        float[] h0 = Optional(inputs, "h0", states, batch, o.OutputSize);
        float[] c0 = o.Cell == CellType.Lstm ? Optional(inputs, "c0", states, batch, o.HiddenSize) : [];
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

        float[] output = new float[(long)steps * batch * o.LayerOutputSize];
        float[] hN = new float[states * batch * o.OutputSize];
        float[] cN = o.Cell == CellType.Lstm ? new float[states * batch * o.HiddenSize] : [];
        using (ThreadTeam? team = threadCount > 1 ? new ThreadTeam(threadCount) : null)
        {
            network.Forward(inputs.ReadSingle("input"), steps, batch, output, h0, c0, hN, cN, lengths, batchFirst, team);
        }

        var writer = new SafeTensorsWriter()
            .Add("output", output, batchFirst ? [batch, steps, o.LayerOutputSize] : [steps, batch, o.LayerOutputSize])
            .Add("h_n", hN, states, batch, o.OutputSize);
        if (o.Cell == CellType.Lstm)
        {
            writer.Add("c_n", cN, states, batch, o.HiddenSize);
        }

        writer.Save(outputFile.FullName);
        return 0;
    }

    private static SafeTensorsEntry Require(SafeTensorsFile file, string name) =>
        file.Contains(name) ? file.GetEntry(name) : throw new InvalidDataException($"The input file has no '{name}' tensor.");

    private static float[] Optional(SafeTensorsFile file, string name, int states, int batch, int features)
    {
        if (!file.Contains(name))
        {
            return [];
        }

        SafeTensorsEntry entry = file.GetEntry(name);
        if (entry.Shape.Length != 3 || entry.Shape[0] != states || entry.Shape[1] != batch || entry.Shape[2] != features)
        {
            throw new InvalidDataException($"'{name}' has shape [{string.Join(", ", entry.Shape)}]; expected [{states}, {batch}, {features}].");
        }

        return file.ReadSingle(name);
    }
}
