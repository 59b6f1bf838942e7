using System.Buffers;
using Rnn.Simd.Kernels.Threading;
using Rnn.Simd.Layers;
using Rnn.Simd.Parameters;
using Rnn.Simd.Training;

namespace Rnn.Simd.Networks;

/// <summary>
/// A model trained by stateful truncated BPTT on consecutive chunks (<see cref="LanguageModel"/>,
/// <see cref="Forecaster"/>): a unidirectional stack <c>rnn.*</c> and a dense head <c>head.*</c>, with the state carried
/// from each chunk's end to the next chunk's start as a constant for backward (PyTorch's <c>h.detach()</c>).
/// </summary>
public abstract class StatefulSequenceModel : SequenceModel, IDisposable
{
    private protected StatefulSequenceModel(SequenceModelOptions options, ParameterSet parameters, RecurrentNetworkOptions stack, int outputs, int vocabulary, ArrayPool<float>? pool)
        : base(options, parameters)
    {
        Core = new StackWithHead(stack, stack.LayerOutputSize, outputs, OutputActivation.Identity, parameters, vocabulary, ModelPrefixes.Default, pool);
        Core.Network.Dropout = options.Dropout;
        State = new CarriedState(stack);
    }

    /// <summary>The recurrent stack (<c>rnn.*</c>).</summary>
    public TrainableRecurrentNetwork Network => Core.Network;

    /// <summary>The head (<c>head.*</c>).</summary>
    public TrainableDenseLayer Head => Core.Head;

    /// <summary>The carried h [L, B, Hout] that the next chunk starts from (empty after <see cref="ResetState"/>).</summary>
    public ReadOnlySpan<float> CarriedHidden => State.Hidden;

    /// <summary>LSTM: the carried c [L, B, H] (empty for other cells or after a reset).</summary>
    public ReadOnlySpan<float> CarriedCell => State.Cell;

    private protected StackWithHead Core { get; }

    private protected CarriedState State { get; }

    /// <summary>Starts new streams: the next chunk starts from zero state and may have any batch size.</summary>
    public void ResetState() => State.Reset();

    /// <summary>
    /// Carries a saved state (<see cref="CarriedHidden"/> [L, B, Hout] and, for LSTM, <see cref="CarriedCell"/>
    /// [L, B, H]) as <paramref name="batch"/> streams: the next chunk continues exactly where the saved run stopped.
    /// </summary>
    /// <exception cref="ArgumentException">A length does not match the batch and the stack's sizes.</exception>
    public void RestoreState(ReadOnlySpan<float> hidden, ReadOnlySpan<float> cell, int batch) => State.Restore(hidden, cell, batch);

    /// <summary>Returns the tape's buffer to the pool.</summary>
    public void Dispose()
    {
        Core.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>Runs the chunk already in the core's input from the carried state and returns the head's outputs.</summary>
    private protected Span<float> ForwardChunk(ThreadTeam? threads) =>
        Core.Forward(State.Hidden, State.Cell, State.NextHidden, State.NextCell, threads);

    /// <summary>Validates options before the base constructor uses them.</summary>
    private protected static T Valid<T>(T options)
        where T : SequenceModelOptions
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        return options;
    }
}
