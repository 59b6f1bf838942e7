using Rnn.Simd.Cells;
using Rnn.Simd.Internal;

namespace Rnn.Simd.Layers;

/// <summary>
/// The state of one stream (or one batch of streams) of a unidirectional <see cref="RecurrentNetwork"/>:
/// h [L, B, Hout] and, for LSTM, c [L, B, H]. Owned by one caller at a time; the network itself stays shared.
/// </summary>
/// <remarks>
/// A state is plain data: <see cref="CopyFrom"/>, <see cref="Clone"/> and the raw <see cref="Hidden"/> and
/// <see cref="Cell"/> spans let a service snapshot a stream, move it to another process (see
/// <see cref="IO.RecurrentStateSerializer"/>) and continue it there with bit-identical results.
/// </remarks>
public sealed class RecurrentState
{
    private readonly float[] _hidden;
    private readonly float[] _cell;

    internal RecurrentState(RecurrentNetworkOptions options, int batch)
    {
        Options = options;
        Batch = batch;
        _hidden = new float[options.Layers * batch * options.OutputSize];
        _cell = options.Cell == CellType.Lstm ? new float[options.Layers * batch * options.HiddenSize] : [];
    }

    /// <summary>The architecture this state belongs to.</summary>
    public RecurrentNetworkOptions Options { get; }

    /// <summary>Streams in this state (B).</summary>
    public int Batch { get; }

    /// <summary>Time steps processed since creation or the last <see cref="Reset"/>.</summary>
    public long Steps { get; internal set; }

    /// <summary>h for every layer: [L, B, Hout].</summary>
    public Span<float> Hidden => _hidden;

    /// <summary>LSTM: c for every layer, [L, B, H]; empty for other cells.</summary>
    public Span<float> Cell => _cell;

    /// <summary>Sets every state to zero, as at the start of a sequence.</summary>
    public void Reset()
    {
        Array.Clear(_hidden);
        Array.Clear(_cell);
        Steps = 0;
    }

    /// <summary>Copies another state of the same architecture and batch into this one.</summary>
    public void CopyFrom(RecurrentState other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (!other.Options.Equals(Options) || other.Batch != Batch)
        {
            ThrowHelper.Argument(nameof(other), "The state belongs to another architecture or batch size.");
        }

        other._hidden.CopyTo(_hidden, 0);
        other._cell.CopyTo(_cell, 0);
        Steps = other.Steps;
    }

    /// <summary>An independent copy.</summary>
    public RecurrentState Clone()
    {
        var copy = new RecurrentState(Options, Batch);
        copy.CopyFrom(this);
        return copy;
    }
}
