using Rnn.Simd.Cells;
using Rnn.Simd.Internal;
using Rnn.Simd.Layers;

namespace Rnn.Simd.Networks;

/// <summary>
/// The state a stateful model carries from one training chunk to the next (char-rnn's truncated BPTT): h [L, B, Hout]
/// and (LSTM) c [L, B, H] at the start of the chunk, constant for backward (PyTorch's <c>h.detach()</c>), and the final
/// state the chunk writes, which becomes the next chunk's start.
/// </summary>
internal sealed class CarriedState
{
    private readonly RecurrentNetworkOptions _options;
    private float[] _h = [], _c = [], _hN = [], _cN = [];

    public CarriedState(RecurrentNetworkOptions options) => _options = options;

    /// <summary>Streams carried, or 0 after <see cref="Reset"/> (the next chunk starts from zeros with any batch).</summary>
    public int Batch { get; private set; }

    public ReadOnlySpan<float> Hidden => _h.AsSpan(0, Batch * _options.Layers * _options.OutputSize);

    public ReadOnlySpan<float> Cell => _c.AsSpan(0, _options.Cell == CellType.Lstm ? Batch * _options.Layers * _options.HiddenSize : 0);

    public Span<float> NextHidden => _hN.AsSpan(0, Hidden.Length);

    public Span<float> NextCell => _cN.AsSpan(0, Cell.Length);

    public void Reset() => Batch = 0;

    /// <summary>Starts zero streams after a reset, or checks that the batch is the carried one.</summary>
    public void Prepare(int batch, string paramName)
    {
        if (Batch == batch)
        {
            return;
        }

        if (Batch != 0)
        {
            ThrowHelper.Argument(paramName, $"The carried state holds {Batch} streams, the chunk {batch}; call ResetState to start new streams.");
        }

        RecurrentNetworkOptions o = _options;
        int h = batch * o.Layers * o.OutputSize, c = o.Cell == CellType.Lstm ? batch * o.Layers * o.HiddenSize : 0;
        Buffers.Grow(ref _h, h);
        Buffers.Grow(ref _hN, h);
        Buffers.Grow(ref _c, c);
        Buffers.Grow(ref _cN, c);
        Batch = batch;
        _h.AsSpan(0, h).Clear();
        _c.AsSpan(0, c).Clear();
    }

    /// <summary>Carries <paramref name="hidden"/> [L, B, Hout] and <paramref name="cell"/> [L, B, H] (LSTM) as B streams.</summary>
    public void Restore(ReadOnlySpan<float> hidden, ReadOnlySpan<float> cell, int batch)
    {
        if (batch < 1)
        {
            ThrowHelper.ArgumentOutOfRange(nameof(batch), $"Must be at least 1, was {batch}.");
        }

        RecurrentNetworkOptions o = _options;
        ThrowHelper.ThrowIfLengthIsNot(hidden.Length, nameof(hidden), "L·B·Hout", o.Layers, batch, o.OutputSize);
        ThrowHelper.ThrowIfLengthIsNot(cell.Length, o.Cell == CellType.Lstm ? (long)batch * o.Layers * o.HiddenSize : 0, nameof(cell), "L·B·H (LSTM only)");
        Reset();
        Prepare(batch, nameof(batch));
        hidden.CopyTo(_h);
        cell.CopyTo(_c);
    }

    /// <summary>The chunk's final state becomes the next chunk's start.</summary>
    public void Advance()
    {
        (_h, _hN) = (_hN, _h);
        (_c, _cN) = (_cN, _c);
    }
}
