using Rnn.Simd.Import.Onnx;
using Rnn.Simd.IO;
using Rnn.Simd.Kernels.Threading;

namespace Rnn.Simd.Cli.Commands;

/// <summary>
/// <c>infer</c> on an .onnx model (<see cref="OnnxModel"/>): the input file holds one tensor per graph input, named
/// as in the graph, in its declared type (F32; I64 for ids and sequence_lens); the output file receives every graph
/// output under its graph name and shape. Errors are one-line <see cref="InvalidDataException"/>s naming the file.
/// </summary>
internal static class OnnxCall
{
    public static int Run(FileInfo modelFile, FileInfo inputFile, FileInfo outputFile, int threadCount)
    {
        OnnxModel model = OnnxModel.Load(modelFile.FullName);
        var feeds = new OnnxFeed[model.InputNames.Count];
        try
        {
            using SafeTensorsFile inputs = SafeTensorsFile.Open(inputFile.FullName);
            for (int i = 0; i < feeds.Length; i++)
            {
                string name = model.InputNames[i];
                if (!inputs.TryGetEntry(name, out SafeTensorsEntry? entry))
                {
                    throw new InvalidDataException($"The input file has no '{name}' tensor (graph input {i}).");
                }

                long[] shape = [.. entry.Shape];
                feeds[i] = entry.DType switch
                {
                    SafeTensorsDType.F32 => new OnnxFeed(inputs.ReadSingle(name), shape),
                    SafeTensorsDType.I64 => new OnnxFeed(inputs.ReadInt64(name), shape),
                    _ => throw new InvalidDataException($"'{name}' is {entry}; graph inputs are read as F32 or I64."),
                };
            }
        }
        catch (InvalidDataException e) when (!e.Message.Contains(inputFile.FullName, StringComparison.Ordinal))
        {
            throw new InvalidDataException($"input file '{inputFile.FullName}': {e.Message}", e);
        }

        Memory<float>[] results;
        try
        {
            results = [.. Enumerable.Range(0, model.OutputNames.Count).Select(k => new Memory<float>(new float[model.OutputShape(k, feeds).Aggregate(1L, (a, b) => a * b)]))];
            using ThreadTeam? team = threadCount > 1 ? new ThreadTeam(threadCount) : null;
            model.Run(feeds, results, team);
        }
        catch (ArgumentException e)
        {
            // A feed that does not fit the graph (type, shape, ids, lengths) is the input file's fault.
            throw new InvalidDataException($"input file '{inputFile.FullName}': {e.Message}", e);
        }

        var writer = new SafeTensorsWriter();
        for (int k = 0; k < results.Length; k++)
        {
            writer.Add(model.OutputNames[k], results[k].Span, [.. model.OutputShape(k, feeds)]);
        }

        writer.Save(outputFile.FullName);
        return 0;
    }
}
