using System.CommandLine;
using Rnn.Simd.IO;
using Rnn.Simd.Kernels.Threading;

namespace Rnn.Simd.Cli.Commands;

/// <summary>
/// <c>rnn-simd infer</c>: runs a PyTorch RNN/LSTM/GRU saved as safetensors on the tensors of an input file and
/// writes PyTorch's results (output, h_n, c_n) to an output file. How a user checks an imported model.
/// </summary>
internal static class InferCommand
{
    public static Command Create()
    {
        var model = new Option<FileInfo>("--model") { Description = "The model: a state_dict as safetensors, or or an .onnx file.", Required = true };
        var input = new Option<FileInfo>("--input") { Description = "input [T,B,X] (or [B,T,X]); optional h0, c0, lengths (I64). For .onnx: one tensor per graph input, named as in the graph.", Required = true };
        var output = new Option<FileInfo>("--output") { Description = "Where to write output, h_n and (LSTM) c_n.", Required = true };
        var prefix = new Option<string>("--prefix") { Description = "Prefix of the parameter names, e.g. 'encoder.rnn.'.", DefaultValueFactory = _ => "" };
        var cell = new Option<string?>("--cell") { Description = "rnn_tanh, rnn_relu, lstm or gru (default: the file's metadata, else the shapes)." };
        cell.AcceptOnlyFromAmong("rnn_tanh", "rnn_relu", "lstm", "gru", "gru_reset_before");
        var batchFirst = new Option<bool>("--batch-first") { Description = "Tensors are [B,T,·] (default: the file's metadata, else false)." };
        var threads = new Option<int>("--threads") { Description = "Threads for the matrix products.", DefaultValueFactory = _ => 1 };
        var command = new Command("infer", "Run a recurrent model forward: a PyTorch state_dict (safetensors) writes output, h_n, c_n; an .onnx file writes its graph outputs.")
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
        if (modelFile.Extension.Equals(".onnx", StringComparison.OrdinalIgnoreCase))
        {
            return OnnxCall.Run(modelFile, inputFile, outputFile, threadCount);
        }

        RecurrentCall call = RecurrentCall.Load(modelFile, inputFile, prefix, cell, batchFirstFlag, threadCount);
        using (ThreadTeam? team = threadCount > 1 ? new ThreadTeam(threadCount) : null)
        {
            call.Model.Network.Forward(call.Input, call.Steps, call.Batch, call.Output, call.H0, call.C0, call.HN, call.CN, call.Lengths, call.BatchFirst, team);
        }

        call.AddForwardResults(new SafeTensorsWriter()).Save(outputFile.FullName);
        return 0;
    }
}
