using Rnn.Simd.Cells;
using Rnn.Simd.Import.Onnx;
using Rnn.Simd.IO;
using Rnn.Simd.Kernels.Threading;

namespace Rnn.Simd.Cli.Commands;

/// <summary>
/// <c>infer</c> on an .onnx model: the input file holds one tensor per input of the recurrent node, named as in the
/// graph (X float32; sequence_lens int64; initial_h, initial_c float32, each optional); the output file receives
/// every output the node has, named as in the graph (Y, Y_h, Y_c), in the node's layout. Errors are one-line
/// <see cref="InvalidDataException"/>s naming the file.
/// </summary>
internal static class OnnxCall
{
    public static int Run(FileInfo modelFile, FileInfo inputFile, FileInfo outputFile, int threadCount)
    {
        OnnxRecurrentLayer layer = OnnxRecurrentLayer.Load(modelFile.FullName);
        int d = layer.Network.Options.Directions, h = layer.Network.Options.HiddenSize, x = layer.Network.Options.InputSize;
        bool lstm = layer.Network.Options.Cell == CellType.Lstm;
        float[] input, initialH, initialC;
        int[] lengths = [];
        int steps, batch;
        try
        {
            using SafeTensorsFile inputs = SafeTensorsFile.Open(inputFile.FullName);
            if (!inputs.TryGetEntry(layer.InputName, out SafeTensorsEntry? entry))
            {
                throw new InvalidDataException($"The input file has no '{layer.InputName}' tensor (the graph's input X).");
            }

            long[] shape = [.. entry.Shape];
            long t64 = shape.Length == 3 ? shape[layer.Layout == 0 ? 0 : 1] : -1, b64 = shape.Length == 3 ? shape[layer.Layout == 0 ? 1 : 0] : -1;
            if (shape.Length != 3 || shape[2] != x || b64 < 1 || b64 > int.MaxValue || t64 > int.MaxValue || entry.DType != SafeTensorsDType.F32)
            {
                throw new InvalidDataException($"'{layer.InputName}' is {entry}; expected F32 [{(layer.Layout == 0 ? "T, B" : "B, T")}, {x}] with B ≥ 1 (layout {layer.Layout}).");
            }

            (steps, batch) = ((int)t64, (int)b64);
            input = inputs.ReadSingle(layer.InputName);
            long[] state = layer.Layout == 0 ? [d, batch, h] : [batch, d, h];
            initialH = Optional(inputs, layer.InitialHiddenName, state);
            initialC = lstm ? Optional(inputs, layer.InitialCellName, state) : [];
            if (layer.SequenceLengthsName.Length > 0 && inputs.TryGetEntry(layer.SequenceLengthsName, out SafeTensorsEntry? lens))
            {
                if (lens.DType != SafeTensorsDType.I64 || lens.Shape.Length != 1 || lens.Shape[0] != batch)
                {
                    throw new InvalidDataException($"'{lens.Name}' is {lens}; expected I64 [{batch}].");
                }

                lengths = [.. inputs.ReadInt64(lens.Name).Select(l => l < 0 || l > steps ? throw new InvalidDataException($"'{lens.Name}' holds {l}, outside [0, {steps}].") : (int)l)];
            }
        }
        catch (InvalidDataException e) when (!e.Message.Contains(inputFile.FullName, StringComparison.Ordinal))
        {
            throw new InvalidDataException($"input file '{inputFile.FullName}': {e.Message}", e);
        }

        float[] y = new float[(long)steps * d * batch * h], yH = new float[d * batch * h], yC = lstm ? new float[yH.Length] : [];
        using (ThreadTeam? team = threadCount > 1 ? new ThreadTeam(threadCount) : null)
        {
            layer.Run(input, steps, batch, y, yH, yC, initialH, initialC, lengths, team);
        }

        long[] states = layer.Layout == 0 ? [d, batch, h] : [batch, d, h];
        var writer = new SafeTensorsWriter();
        if (layer.OutputName.Length > 0)
        {
            writer.Add(layer.OutputName, y, layer.Layout == 0 ? [steps, d, batch, h] : [batch, steps, d, h]);
        }

        if (layer.FinalHiddenName.Length > 0)
        {
            writer.Add(layer.FinalHiddenName, yH, states);
        }

        if (lstm && layer.FinalCellName.Length > 0)
        {
            writer.Add(layer.FinalCellName, yC, states);
        }

        writer.Save(outputFile.FullName);
        return 0;
    }

    private static float[] Optional(SafeTensorsFile file, string name, long[] shape)
    {
        if (name.Length == 0 || !file.TryGetEntry(name, out SafeTensorsEntry? entry))
        {
            return [];
        }

        if (entry.DType != SafeTensorsDType.F32 || !entry.Shape.SequenceEqual(shape))
        {
            throw new InvalidDataException($"'{name}' is {entry}; expected F32 [{string.Join(", ", shape)}].");
        }

        return file.ReadSingle(name);
    }
}
