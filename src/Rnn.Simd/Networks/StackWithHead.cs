using System.Buffers;
using Rnn.Simd.Cells;
using Rnn.Simd.Internal;
using Rnn.Simd.Kernels.Threading;
using Rnn.Simd.Layers;
using Rnn.Simd.Parameters;
using Rnn.Simd.Training;

namespace Rnn.Simd.Networks;

/// <summary>
/// The training half every generative model shares: a recurrent stack and a dense head over its features, with the
/// buffers of one call (grown to the largest call, then reused: no allocation at a steady size).
/// </summary>
/// <remarks>
/// Use: fill <see cref="Input"/>, <see cref="Forward"/>, write dL/dy into <see cref="OutputGradient"/>, then
/// <see cref="Backward"/>, which adds every parameter gradient and returns dL/dx (and adds dL/dh0, dL/dc0).
/// </remarks>
internal sealed class StackWithHead : IDisposable
{
    private float[] _x = [], _features = [], _y = [], _gradY = [], _gradFeatures = [], _gradX = [];
    private int _steps, _batch;

    public StackWithHead(RecurrentNetworkOptions stack, int outputs, ParameterSet parameters, string stackPrefix, string headPrefix, ArrayPool<float>? pool)
    {
        Network = new TrainableRecurrentNetwork(stack, parameters, stackPrefix, pool);
        Head = new TrainableDenseLayer(stack.LayerOutputSize, outputs, OutputActivation.Identity, parameters, headPrefix, pool);
        Tape = Network.CreateTape();
    }

    public TrainableRecurrentNetwork Network { get; }

    public TrainableDenseLayer Head { get; }

    public RecurrentTape Tape { get; }

    private int Rows => _steps * _batch;

    /// <summary>Sizes the buffers for [steps, batch] and returns the input x [T·B, X] to fill.</summary>
    public Span<float> Input(int steps, int batch)
    {
        _steps = steps;
        _batch = batch;
        int rows = steps * batch;
        Grow(ref _x, rows * Network.Options.InputSize);
        Grow(ref _gradX, _x.Length);
        Grow(ref _features, rows * Network.Options.LayerOutputSize);
        Grow(ref _gradFeatures, _features.Length);
        Grow(ref _y, rows * Head.Outputs);
        Grow(ref _gradY, _y.Length);
        return _x.AsSpan(0, rows * Network.Options.InputSize);
    }

    /// <summary>The head's outputs y [T·B, O] of the latest <see cref="Forward"/>.</summary>
    public Span<float> Output => _y.AsSpan(0, Rows * Head.Outputs);

    /// <summary>dL/dy [T·B, O], for the caller to write before <see cref="Backward"/>.</summary>
    public Span<float> OutputGradient => _gradY.AsSpan(0, Rows * Head.Outputs);

    /// <summary>Records the stack over the input from (h0, c0), writing the final state into (hN, cN); returns y.</summary>
    public Span<float> Forward(ReadOnlySpan<float> h0, ReadOnlySpan<float> c0, Span<float> hN, Span<float> cN, ThreadTeam? threads)
    {
        int rows = Rows;
        Span<float> features = _features.AsSpan(0, rows * Network.Options.LayerOutputSize);
        Network.Forward(Tape, _x.AsSpan(0, rows * Network.Options.InputSize), _steps, _batch, features, h0, c0, hN, cN, threads: threads);
        Head.Forward(features, rows, Output, threads);
        return Output;
    }

    /// <summary>
    /// Backward from <see cref="OutputGradient"/>: adds the parameter gradients, adds dL/dh0 and dL/dc0 into the given
    /// buffers (empty: not wanted) and returns dL/dx [T·B, X] (empty unless <paramref name="inputGradient"/>).
    /// </summary>
    public ReadOnlySpan<float> Backward(Span<float> gradH0, Span<float> gradC0, bool inputGradient, ThreadTeam? threads)
    {
        int rows = Rows;
        Span<float> features = _features.AsSpan(0, rows * Network.Options.LayerOutputSize);
        Span<float> gradFeatures = _gradFeatures.AsSpan(0, features.Length);
        gradFeatures.Clear();
        Head.Backward(features, Output, OutputGradient, rows, gradFeatures, threads);
        Span<float> gradX = inputGradient ? _gradX.AsSpan(0, rows * Network.Options.InputSize) : default;
        gradX.Clear();
        Network.Backward(Tape, gradFeatures, gradInput: gradX, gradH0: gradH0, gradC0: gradC0, threads: threads);
        return gradX;
    }

    public void Dispose() => Tape.Dispose();

    /// <summary>Replaces <paramref name="buffer"/> by a larger array when it holds fewer than <paramref name="length"/> floats.</summary>
    internal static void Grow<T>(ref T[] buffer, int length)
    {
        if (buffer.Length < length)
        {
            buffer = new T[length];
        }
    }
}

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
        StackWithHead.Grow(ref _h, h);
        StackWithHead.Grow(ref _hN, h);
        StackWithHead.Grow(ref _c, c);
        StackWithHead.Grow(ref _cN, c);
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
