using System.Buffers;
using System.Globalization;
using Rnn.Simd.Cells;
using Rnn.Simd.IO;
using Rnn.Simd.Kernels;
using Rnn.Simd.Layers;

namespace Rnn.Simd.Import;

/// <summary>What a PyTorch state_dict's shapes cannot tell, and where to find the parameters.</summary>
public sealed record PyTorchImportOptions
{
    /// <summary>Prefix of the parameter names, e.g. <c>"encoder.rnn."</c>; empty for a bare nn.RNN/LSTM/GRU.</summary>
    public string Prefix { get; init; } = "";

    /// <summary>
    /// <c>rnn_tanh</c>, <c>rnn_relu</c>, <c>lstm</c>, <c>gru</c> or <c>gru_reset_before</c> (ONNX's default GRU); null to
    /// take the file's <c>cell</c> metadata, else PyTorch's defaults for the cell the shapes imply (tanh).
    /// </summary>
    public string? Cell { get; init; }

    /// <summary>Whether tensors are [B, T, ·]; null to take the file's <c>batch_first</c> metadata, else false.</summary>
    public bool? BatchFirst { get; init; }

    /// <summary>
    /// The precision the network holds its weight matrices at (<see cref="RecurrentNetwork.WithWeightPrecision"/>):
    /// each weight is read exactly (F32, F16 and BF16 tensors all widen to float32 without rounding) and rounded once,
    /// so a BF16 file loaded at <see cref="WeightPrecision.BFloat16"/> keeps its values bit for bit.
    /// <see cref="PyTorchModel.Parameters"/> keep the values as read.
    /// </summary>
    public WeightPrecision WeightPrecision { get; init; }
}

/// <summary>A network imported from PyTorch, with the layout its inputs use.</summary>
/// <param name="Network">The network, weights permuted into the engine's gate order and packed.</param>
/// <param name="BatchFirst">Whether the model's tensors are [B, T, ·] (PyTorch's batch_first).</param>
public sealed record PyTorchModel(RecurrentNetwork Network, bool BatchFirst)
{
    /// <summary>The parameters as read, under PyTorch's names without the prefix (e.g. <c>weight_ih_l0</c>).</summary>
    public IReadOnlyDictionary<string, float[]> Parameters { get; init; } = new Dictionary<string, float[]>();

    /// <summary>The architecture read from the shapes and metadata.</summary>
    public RecurrentNetworkOptions Options => Network.Options;

    /// <summary>
    /// A trainable copy of the model (its own <see cref="Parameters.ParameterSet"/>), with tensors named
    /// <paramref name="prefix"/> + PyTorch's name, so gradients come out under the file's names.
    /// </summary>
    public Training.TrainableRecurrentNetwork ToTrainable(string prefix = "")
    {
        ArgumentNullException.ThrowIfNull(prefix);
        var named = Parameters.ToDictionary(p => prefix + p.Key, p => p.Value, StringComparer.Ordinal);
        return Training.TrainableRecurrentNetwork.FromPyTorch(Options, named, prefix, Network.Pool);
    }

    /// <summary>
    /// What <see cref="IO.Checkpoint.Save(string, IO.CheckpointContent)"/> needs to keep this model at its precision:
    /// <see cref="Parameters"/> (float32 as read, named <paramref name="prefix"/> + PyTorch's name) with
    /// <see cref="IO.CheckpointContent.WeightPrecision"/> set to <see cref="Network"/>'s.
    /// </summary>
    /// <remarks>
    /// A reduced <see cref="RecurrentNetwork"/> holds only its rounded weights and no parameter set, so it is not saved
    /// itself: the checkpoint rounds the float32 values it was reduced from once, exactly as the import did, and
    /// <see cref="IO.LoadedCheckpoint.CreateInferenceNetwork"/>(<see cref="Options"/>, <paramref name="prefix"/>)
    /// rebuilds a network whose outputs are this one's bit for bit. Add an architecture, generators or metadata with
    /// <c>with { … }</c>.
    /// </remarks>
    public IO.CheckpointContent ToCheckpoint(string prefix = "") =>
        new() { Parameters = ToTrainable(prefix).Parameters, WeightPrecision = Network.WeightPrecision };
}

/// <summary>
/// Loads PyTorch <c>nn.RNN</c>, <c>nn.LSTM</c> and <c>nn.GRU</c> parameters saved as safetensors
/// (<c>state_dict()</c> names <c>weight_ih_l{k}</c>, <c>weight_hh_l{k}</c>, <c>bias_ih_l{k}</c>, <c>bias_hh_l{k}</c>,
/// <c>weight_hr_l{k}</c>, <c>_reverse</c> for the second direction), inferring sizes, layers, directions and
/// projection from the shapes. The file is untrusted: anything inconsistent is an <see cref="InvalidDataException"/>.
/// </summary>
/// <remarks>
/// NaN and ±∞ policy: a weight that is not finite (NaN, +∞, −∞) is refused with an <see cref="InvalidDataException"/>
/// naming the tensor and the index. Such a model can only produce NaN (PyTorch would load it and compute NaN);
/// refusing it at load time says where the damage is. <see cref="SafeTensorsFile"/> itself returns stored values as
/// they are.
/// </remarks>
public static class PyTorchImport
{
    /// <summary>Loads a network from a safetensors file.</summary>
    /// <exception cref="InvalidDataException">The file is malformed or its parameters are inconsistent (the message names the
    /// file and says which).</exception>
    /// <exception cref="ArgumentException">An option is invalid (e.g. an unknown cell name).</exception>
    public static PyTorchModel Load(string path, PyTorchImportOptions? options = null, ArrayPool<float>? pool = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using SafeTensorsFile file = SafeTensorsFile.Open(path);
        try
        {
            return Load(file, options, pool);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"PyTorch state dict '{path}': {e.Message}", e);
        }
    }

    /// <summary>Loads a network from an open safetensors file.</summary>
    /// <exception cref="InvalidDataException">The parameters are missing or inconsistent (the message says which).</exception>
    /// <exception cref="ArgumentException">An option is invalid.</exception>
    public static PyTorchModel Load(SafeTensorsFile file, PyTorchImportOptions? options = null, ArrayPool<float>? pool = null)
    {
        ArgumentNullException.ThrowIfNull(file);
        options ??= new PyTorchImportOptions();
        if (!Enum.IsDefined(options.WeightPrecision))
        {
            throw new ArgumentException($"Unknown weight precision {(int)options.WeightPrecision}.", nameof(options));
        }

        string prefix = options.Prefix ?? "";
        var entries = new Dictionary<string, SafeTensorsEntry>(StringComparer.Ordinal);
        foreach (SafeTensorsEntry entry in file.Tensors)
        {
            if (entry.Name.StartsWith(prefix, StringComparison.Ordinal))
            {
                entries[entry.Name[prefix.Length..]] = entry;
            }
        }

        if (!entries.TryGetValue("weight_ih_l0", out SafeTensorsEntry? ih0) || !entries.TryGetValue("weight_hh_l0", out SafeTensorsEntry? hh0))
        {
            throw new InvalidDataException($"No 'weight_ih_l0' and 'weight_hh_l0' under the prefix '{prefix}'. Tensors in the file: {Names(file, 8)}.");
        }

        (int gatesTimesHidden, int inputSize) = Matrix(ih0);
        (int hhRows, int outputSize) = Matrix(hh0);
        int hidden = outputSize, projection = 0;
        if (entries.TryGetValue("weight_hr_l0", out SafeTensorsEntry? hr0))
        {
            (projection, hidden) = Matrix(hr0);
            if (projection != outputSize)
            {
                throw new InvalidDataException($"'{prefix}weight_hr_l0' has {projection} rows but 'weight_hh_l0' has {outputSize} columns.");
            }
        }

        if (hhRows != gatesTimesHidden || hidden < 1 || gatesTimesHidden % hidden != 0)
        {
            throw new InvalidDataException($"'{prefix}weight_ih_l0' [{gatesTimesHidden}, {inputSize}] and 'weight_hh_l0' [{hhRows}, {outputSize}] do not describe gates × hidden rows.");
        }

        int gates = gatesTimesHidden / hidden;
        CellType shapeCell = gates switch
        {
            1 => CellType.Rnn,
            3 => CellType.Gru,
            4 => CellType.Lstm,
            _ => throw new InvalidDataException($"{gates} gate blocks of {hidden} rows: neither RNN (1), GRU (3) nor LSTM (4)."),
        };

        string? cellName = options.Cell ?? (file.Metadata.TryGetValue("cell", out string? c) ? c : null);
        (CellType cell, Nonlinearity nonlinearity, GruVariant variant) = ParseCell(cellName, shapeCell, options.Cell is not null);
        bool batchFirst = options.BatchFirst ?? (file.Metadata.TryGetValue("batch_first", out string? bf) && ParseBool(bf));

        int layers = 0;
        while (entries.ContainsKey($"weight_ih_l{layers}"))
        {
            layers++;
        }

        var network = new RecurrentNetworkOptions
        {
            Cell = cell,
            Nonlinearity = nonlinearity,
            GruVariant = variant,
            InputSize = inputSize,
            HiddenSize = hidden,
            ProjectionSize = projection,
            Layers = layers,
            Bidirectional = entries.ContainsKey("weight_ih_l0_reverse"),
        };

        var parameters = new Dictionary<string, float[]>(StringComparer.Ordinal);
        for (int layer = 0; layer < layers; layer++)
        {
            for (int dir = 0; dir < network.Directions; dir++)
            {
                string suffix = $"l{layer}{(dir == 1 ? "_reverse" : "")}";
                int layerInput = layer == 0 ? inputSize : network.LayerOutputSize;
                Expect(entries, prefix, $"weight_ih_{suffix}", parameters, file, gatesTimesHidden, layerInput);
                Expect(entries, prefix, $"weight_hh_{suffix}", parameters, file, gatesTimesHidden, outputSize);
                bool hasIh = entries.ContainsKey($"bias_ih_{suffix}"), hasHh = entries.ContainsKey($"bias_hh_{suffix}");
                if (hasIh != hasHh)
                {
                    throw new InvalidDataException($"'{prefix}bias_ih_{suffix}' and 'bias_hh_{suffix}' must both be present or both absent.");
                }

                if (hasIh)
                {
                    Expect(entries, prefix, $"bias_ih_{suffix}", parameters, file, gatesTimesHidden);
                    Expect(entries, prefix, $"bias_hh_{suffix}", parameters, file, gatesTimesHidden);
                }

                if (projection > 0)
                {
                    Expect(entries, prefix, $"weight_hr_{suffix}", parameters, file, projection, hidden);
                }
            }
        }

        try
        {
            network.Validate("options");
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"The parameters describe an unsupported network: {e.Message}", e);
        }

        // Keys now carry no prefix.
        RecurrentNetwork loaded = RecurrentNetwork.FromPyTorch(network, parameters, "", pool).WithWeightPrecision(options.WeightPrecision);
        return new PyTorchModel(loaded, batchFirst) { Parameters = parameters };
    }

    /// <summary>Parses a cell name as the CLI and the metadata spell it.</summary>
    private static (CellType, Nonlinearity, GruVariant) ParseCell(string? name, CellType fromShapes, bool fromOption)
    {
        (CellType Cell, Nonlinearity Nonlinearity, GruVariant Variant) parsed = name?.Trim().ToLowerInvariant() switch
        {
            null => (fromShapes, Nonlinearity.Tanh, GruVariant.ResetAfter),
            "rnn_tanh" or "rnn" => (CellType.Rnn, Nonlinearity.Tanh, GruVariant.ResetAfter),
            "rnn_relu" => (CellType.Rnn, Nonlinearity.Relu, GruVariant.ResetAfter),
            "lstm" => (CellType.Lstm, Nonlinearity.Tanh, GruVariant.ResetAfter),
            "gru" => (CellType.Gru, Nonlinearity.Tanh, GruVariant.ResetAfter),
            "gru_reset_before" => (CellType.Gru, Nonlinearity.Tanh, GruVariant.ResetBefore),
            _ => fromOption
                ? throw new ArgumentException($"Unknown cell '{name}': expected rnn_tanh, rnn_relu, lstm, gru or gru_reset_before.", "options")
                : throw new InvalidDataException($"Unknown cell '{name}' in the file's metadata."),
        };

        if (parsed.Cell != fromShapes)
        {
            string message = $"The cell '{name}' does not match the parameter shapes, which describe {fromShapes}.";
            throw fromOption ? new ArgumentException(message, "options") : new InvalidDataException(message);
        }

        return parsed;
    }

    private static bool ParseBool(string value) => value.Trim().ToLowerInvariant() switch
    {
        "true" or "1" or "yes" => true,
        "false" or "0" or "no" or "" => false,
        _ => throw new InvalidDataException($"Metadata batch_first is '{value}'; expected true or false."),
    };

    private static (int Rows, int Cols) Matrix(SafeTensorsEntry entry)
    {
        if (entry.Shape.Length != 2 || entry.Shape[0] < 1 || entry.Shape[1] < 1 || entry.Shape[0] > int.MaxValue || entry.Shape[1] > int.MaxValue)
        {
            throw new InvalidDataException($"'{entry.Name}' must be a non-empty matrix; its shape is [{string.Join(", ", entry.Shape)}].");
        }

        return ((int)entry.Shape[0], (int)entry.Shape[1]);
    }

    private static void Expect(Dictionary<string, SafeTensorsEntry> entries, string prefix, string name, Dictionary<string, float[]> parameters, SafeTensorsFile file, params int[] shape)
    {
        if (!entries.TryGetValue(name, out SafeTensorsEntry? entry))
        {
            throw new InvalidDataException($"'{prefix}{name}' is missing.");
        }

        if (entry.Shape.Length != shape.Length || !entry.Shape.Select(d => (long)d).SequenceEqual(shape.Select(d => (long)d)))
        {
            throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture, $"'{entry.Name}' has shape [{string.Join(", ", entry.Shape)}]; expected [{string.Join(", ", shape)}]."));
        }

        float[] values;
        try
        {
            values = file.ReadSingle(entry.Name);
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"'{entry.Name}' is not a floating-point tensor ({e.Message}).", e);
        }

        int bad = Array.FindIndex(values, v => !float.IsFinite(v));
        if (bad >= 0)
        {
            throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture, $"'{entry.Name}' holds {values[bad]} at index {bad}; a model with non-finite weights is refused."));
        }

        parameters[name] = values;
    }

    private static string Names(SafeTensorsFile file, int max)
    {
        IEnumerable<string> names = file.Tensors.Select(t => t.Name).Take(max);
        string list = string.Join(", ", names);
        return file.Tensors.Count > max ? list + ", …" : list.Length == 0 ? "none" : list;
    }
}
