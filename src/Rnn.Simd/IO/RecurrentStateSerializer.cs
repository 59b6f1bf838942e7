using System.Globalization;
using Rnn.Simd.Cells;
using Rnn.Simd.IO;
using Rnn.Simd.Layers;

namespace Rnn.Simd.IO;

/// <summary>
/// Writes and reads a <see cref="RecurrentState"/> as safetensors (<c>hidden</c> [L, B, Hout], <c>cell</c> [L, B, H] for
/// LSTM, metadata describing the architecture), so that a stream can continue in another process or on another
/// replica with bit-identical results.
/// </summary>
public static class RecurrentStateSerializer
{
    private const string Format = "rnn-simd-state-1";

    /// <summary>Writes <paramref name="state"/> to <paramref name="stream"/>.</summary>
    public static void Save(RecurrentState state, Stream stream)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(stream);
        RecurrentNetworkOptions o = state.Options;
        var writer = new SafeTensorsWriter()
            .SetMetadata("format", Format)
            .SetMetadata("architecture", Describe(o))
            .SetMetadata("steps", state.Steps.ToString(CultureInfo.InvariantCulture))
            .Add("hidden", state.Hidden, o.Layers, state.Batch, o.OutputSize);
        if (o.Cell == CellType.Lstm)
        {
            writer.Add("cell", state.Cell, o.Layers, state.Batch, o.HiddenSize);
        }

        writer.WriteTo(stream);
    }

    /// <summary>Reads a state written by <see cref="Save"/> for a network of the same architecture.</summary>
    /// <exception cref="InvalidDataException">The data is malformed or belongs to another architecture.</exception>
    public static RecurrentState Load(RecurrentNetwork network, Stream stream)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(stream);
        RecurrentNetworkOptions o = network.Options;
        using SafeTensorsFile file = SafeTensorsFile.Read(stream);
        if (!file.Metadata.TryGetValue("format", out string? format) || format != Format)
        {
            throw new InvalidDataException($"Not a recurrent state (format '{format ?? "none"}').");
        }

        if (!file.Metadata.TryGetValue("architecture", out string? architecture) || architecture != Describe(o))
        {
            throw new InvalidDataException($"The state belongs to '{architecture}', not to this network ('{Describe(o)}').");
        }

        if (!file.TryGetEntry("hidden", out SafeTensorsEntry? hidden) || hidden.DType != SafeTensorsDType.F32
            || hidden.Shape.Length != 3 || hidden.Shape[0] != o.Layers || hidden.Shape[2] != o.OutputSize || hidden.Shape[1] < 1 || hidden.Shape[1] > int.MaxValue)
        {
            throw new InvalidDataException($"The state's 'hidden' tensor must be F32 [{o.Layers}, B, {o.OutputSize}].");
        }

        int batch = (int)hidden.Shape[1];
        RecurrentState state = network.CreateState(batch);
        file.ReadSingle("hidden", state.Hidden);
        if (o.Cell == CellType.Lstm)
        {
            if (!file.TryGetEntry("cell", out SafeTensorsEntry? cell) || cell.DType != SafeTensorsDType.F32
                || !cell.Shape.SequenceEqual([o.Layers, batch, (long)o.HiddenSize]))
            {
                throw new InvalidDataException($"The state's 'cell' tensor must be F32 [{o.Layers}, {batch}, {o.HiddenSize}].");
            }

            file.ReadSingle("cell", state.Cell);
        }

        state.Steps = file.Metadata.TryGetValue("steps", out string? steps) && long.TryParse(steps, NumberStyles.None, CultureInfo.InvariantCulture, out long n) ? n : 0;
        return state;
    }

    private static string Describe(RecurrentNetworkOptions o) => string.Create(
        CultureInfo.InvariantCulture,
        $"{o.Cell}/{o.Nonlinearity}/{o.GruVariant} x{o.InputSize} h{o.HiddenSize} p{o.ProjectionSize} l{o.Layers}");
}
