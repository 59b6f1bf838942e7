using Rnn.Simd.Cells;
using Rnn.Simd.IO;
using Rnn.Simd.Internal;
using Rnn.Simd.Kernels;
using Rnn.Simd.Layers;
using Rnn.Simd.Parameters;
using Rnn.Simd.Training;

namespace Rnn.Simd.Import;

/// <summary>Which tensors <see cref="PyTorchExport"/> writes, under which names, and the metadata it adds.</summary>
public sealed record PyTorchExportOptions
{
    /// <summary>Only tensors whose names start with this are written (e.g. <c>"rnn."</c>); empty for all.</summary>
    public string SourcePrefix { get; init; } = "";

    /// <summary>Replaces <see cref="SourcePrefix"/> in the written names: empty for a bare <c>nn.LSTM</c>'s
    /// <c>state_dict</c>, <c>"encoder.rnn."</c> for a submodule.</summary>
    public string TargetPrefix { get; init; } = "";

    /// <summary>The <c>cell</c> metadata (<c>rnn_tanh</c>, <c>rnn_relu</c>, <c>lstm</c>, <c>gru</c>,
    /// <c>gru_reset_before</c>) that <see cref="PyTorchImport"/> reads, or null to write none.</summary>
    public string? Cell { get; init; }

    /// <summary>The <c>batch_first</c> metadata (<c>"true"</c> or <c>"false"</c>).</summary>
    public bool BatchFirst { get; init; }

    /// <summary>
    /// <see cref="WeightPrecision.BFloat16"/> writes the recurrent weight matrices (<c>weight_ih</c>, <c>weight_hh</c>,
    /// <c>weight_hr</c>) as BF16 tensors, each rounded once exactly as <see cref="RecurrentNetwork.WithWeightPrecision"/>
    /// rounds it, so the file holds a bf16 network's weights bit for bit (PyTorch loads them into float32 or bfloat16
    /// modules; <see cref="PyTorchImport"/> with BFloat16 gives the same network). Biases and every other tensor stay
    /// F32. <see cref="WeightPrecision.Int8"/> is refused: a PyTorch state dict of nn.LSTM/GRU has no int8 form.
    /// </summary>
    public WeightPrecision WeightPrecision { get; init; }
}

/// <summary>
/// Writes parameters as a PyTorch state dict in safetensors: names are PyTorch's already (a
/// <see cref="ParameterSet"/> keeps them), so export selects tensors by prefix, renames the prefix and adds the
/// <c>cell</c> and <c>batch_first</c> metadata that <see cref="PyTorchImport"/> reads. The result loads into
/// <c>nn.RNN</c>/<c>nn.LSTM</c>/<c>nn.GRU</c> with <c>load_state_dict(..., strict=True)</c>
/// (tools/golden/export_check.py checks it with PyTorch).
/// </summary>
/// <remarks>Deterministic: the same parameters and options give byte-identical files. Values are copied bit for bit (F32), or the recurrent weight matrices rounded once to BF16 under <see cref="PyTorchExportOptions.WeightPrecision"/>.</remarks>
public static class PyTorchExport
{
    /// <summary>A writer holding the selected tensors under their PyTorch names, and the metadata.</summary>
    /// <param name="parameters">The parameters.</param>
    /// <param name="options">Selection, renaming and metadata; null for all tensors, unrenamed, no cell.</param>
    /// <returns>The writer (add more, or <see cref="SafeTensorsWriter.Save"/> it).</returns>
    /// <exception cref="ArgumentException">No tensor starts with the source prefix, or a renamed name is empty.</exception>
    public static SafeTensorsWriter ToWriter(ParameterSet parameters, PyTorchExportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        options ??= new PyTorchExportOptions();
        if (options.WeightPrecision is not (WeightPrecision.Float32 or WeightPrecision.BFloat16))
        {
            ThrowHelper.Argument(nameof(options), $"Weight precision {options.WeightPrecision} has no PyTorch state-dict form; export Float32 or BFloat16.");
        }

        string source = options.SourcePrefix ?? "", target = options.TargetPrefix ?? "";
        var writer = new SafeTensorsWriter();
        foreach (ParameterTensor t in parameters.Tensors)
        {
            if (!t.Name.StartsWith(source, StringComparison.Ordinal))
            {
                continue;
            }

            string name = target + t.Name[source.Length..];
            if (name.Length == 0)
            {
                ThrowHelper.Argument(nameof(options), $"Tensor '{t.Name}' would be written with an empty name.");
            }

            long[] shape = [.. t.Shape.Select(d => (long)d)];
            if (options.WeightPrecision == WeightPrecision.BFloat16 && CheckpointPrecision.IsRecurrentMatrix(t.Name))
            {
                writer.AddBFloat16(name, parameters.Value(t), shape);
            }
            else
            {
                writer.Add(name, parameters.Value(t), shape);
            }
        }

        if (writer.Count == 0)
        {
            ThrowHelper.Argument(nameof(options), $"No parameter name starts with '{source}'.");
        }

        if (options.Cell is { } cell)
        {
            writer.SetMetadata("cell", cell);
        }

        writer.SetMetadata("batch_first", options.BatchFirst ? "true" : "false");
        return writer;
    }

    /// <summary>Writes the selected parameters to <paramref name="path"/> (atomically, as <see cref="SafeTensorsWriter.Save"/>).</summary>
    /// <param name="path">The destination; its directory must exist.</param>
    /// <param name="parameters">The parameters.</param>
    /// <param name="options">Selection, renaming and metadata.</param>
    /// <exception cref="ArgumentException">As <see cref="ToWriter(ParameterSet, PyTorchExportOptions?)"/>.</exception>
    public static void Save(string path, ParameterSet parameters, PyTorchExportOptions? options = null) =>
        ToWriter(parameters, options).Save(path);

    /// <summary>
    /// Writes a trainable network's parameters (those under its prefix) as the <c>state_dict</c> of the matching
    /// <c>nn.RNN</c>/<c>nn.LSTM</c>/<c>nn.GRU</c>, with the cell named after its options.
    /// </summary>
    /// <param name="path">The destination; its directory must exist.</param>
    /// <param name="network">The network.</param>
    /// <param name="targetPrefix">Prefix of the written names (empty for a bare module).</param>
    /// <param name="batchFirst">The <c>batch_first</c> metadata.</param>
    /// <exception cref="ArgumentException">The network sums its directions (<see cref="DirectionMerge.Sum"/>), which PyTorch cannot express.</exception>
    public static void Save(string path, TrainableRecurrentNetwork network, string targetPrefix = "", bool batchFirst = false)
    {
        ArgumentNullException.ThrowIfNull(network);
        Save(path, network.Parameters, new PyTorchExportOptions
        {
            SourcePrefix = network.Prefix,
            TargetPrefix = targetPrefix,
            Cell = CellName(network.Options),
            BatchFirst = batchFirst,
        });
    }

    /// <summary>The <c>cell</c> metadata for a network's options (the names <see cref="PyTorchImport"/> reads).</summary>
    internal static string CellName(RecurrentNetworkOptions options)
    {
        if (options.Bidirectional && options.Merge != DirectionMerge.Concatenate)
        {
            ThrowHelper.Argument(nameof(options), "PyTorch concatenates the two directions; a network that sums them cannot be exported.");
        }

        return options.Cell switch
        {
            CellType.Lstm => "lstm",
            CellType.Gru => options.GruVariant == GruVariant.ResetBefore ? "gru_reset_before" : "gru",
            _ => options.Nonlinearity == Nonlinearity.Relu ? "rnn_relu" : "rnn_tanh",
        };
    }
}
