using System.CommandLine;
using Rnn.Simd.IO;
using Rnn.Simd.Kernels.Threading;
using Rnn.Simd.Layers;
using Rnn.Simd.Parameters;
using Rnn.Simd.Training;

namespace Rnn.Simd.Cli.Commands;

/// <summary>
/// <c>rnn-simd backward</c>: runs a PyTorch RNN/LSTM/GRU forward as <c>infer</c> does, then backpropagation through
/// time with upstream gradients from a file, and writes the forward results and every gradient under PyTorch's
/// names, layout and gate order. How a user checks the engine's gradients against autograd.
/// </summary>
internal static class BackwardCommand
{
    public static Command Create()
    {
        var model = new Option<FileInfo>("--model") { Description = "The model's state_dict as safetensors.", Required = true };
        var input = new Option<FileInfo>("--input") { Description = "input [T,B,X] (or [B,T,X]); optional h0, c0, lengths (I64).", Required = true };
        var gradOutput = new Option<FileInfo>("--grad-output") { Description = "Upstream gradients: output, h_n, c_n (dL/d of each; a missing one is zero).", Required = true };
        var output = new Option<FileInfo>("--output") { Description = "Where to write output, h_n, c_n, grad.input, grad.h0, grad.c0 and grad.<prefix><parameter>.", Required = true };
        var prefix = new Option<string>("--prefix") { Description = "Prefix of the parameter names, e.g. 'encoder.rnn.'.", DefaultValueFactory = _ => "" };
        var cell = new Option<string?>("--cell") { Description = "rnn_tanh, rnn_relu, lstm, gru or gru_reset_before (default: the file's metadata, else the shapes)." };
        cell.AcceptOnlyFromAmong("rnn_tanh", "rnn_relu", "lstm", "gru", "gru_reset_before");
        var batchFirst = new Option<bool>("--batch-first") { Description = "Tensors are [B,T,·] (default: the file's metadata, else false)." };
        var threads = new Option<int>("--threads") { Description = "Threads for the matrix products.", DefaultValueFactory = _ => 1 };
        var command = new Command("backward", "Run a PyTorch recurrent model forward and backward (BPTT) and write every gradient.")
        {
            model, input, gradOutput, output, prefix, cell, batchFirst, threads,
        };
        command.SetAction(result => Run(
            result.GetValue(model)!, result.GetValue(input)!, result.GetValue(gradOutput)!, result.GetValue(output)!, result.GetValue(prefix) ?? "",
            result.GetValue(cell), result.GetResult(batchFirst) is { Implicit: false } && result.GetValue(batchFirst), result.GetValue(threads)));
        return command;
    }

    private static int Run(FileInfo modelFile, FileInfo inputFile, FileInfo gradFile, FileInfo outputFile, string prefix, string? cell, bool batchFirstFlag, int threadCount)
    {
        RecurrentCall call = RecurrentCall.Load(modelFile, inputFile, prefix, cell, batchFirstFlag, threadCount);
        RecurrentNetworkOptions o = call.Options;
        int states = call.States, batch = call.Batch;
        float[] gOutput, gHN, gCN;
        using (SafeTensorsFile grads = SafeTensorsFile.Open(gradFile.FullName))
        {
            gOutput = RecurrentCall.Optional(grads, "output", "grad-output", call.OutputShape);
            gHN = RecurrentCall.Optional(grads, "h_n", "grad-output", states, batch, o.OutputSize);
            gCN = call.IsLstm ? RecurrentCall.Optional(grads, "c_n", "grad-output", states, batch, o.HiddenSize) : [];
        }

        TrainableRecurrentNetwork network = call.Model.ToTrainable(prefix);
        var gradInput = new float[call.Input.Length];
        var gradH0 = new float[call.HN.Length];
        var gradC0 = new float[call.CN.Length];
        using (ThreadTeam? team = threadCount > 1 ? new ThreadTeam(threadCount) : null)
        using (RecurrentTape tape = network.CreateTape())
        {
            network.Forward(tape, call.Input, call.Steps, batch, call.Output, call.H0, call.C0, call.HN, call.CN, call.Lengths, call.BatchFirst, team);
            network.Backward(tape, gOutput, gHN, gCN, gradInput, gradH0, gradC0, team);
        }

        SafeTensorsWriter writer = call.AddForwardResults(new SafeTensorsWriter())
            .Add("grad.input", gradInput, call.InputShape)
            .Add("grad.h0", gradH0, states, batch, o.OutputSize);
        if (call.IsLstm)
        {
            writer.Add("grad.c0", gradC0, states, batch, o.HiddenSize);
        }

        ParameterSet parameters = network.Parameters;
        foreach (ParameterTensor tensor in parameters.Tensors)
        {
            writer.Add("grad." + tensor.Name, parameters.Gradient(tensor), [.. tensor.Shape.Select(d => (long)d)]);
        }

        writer.Save(outputFile.FullName);
        return 0;
    }
}
