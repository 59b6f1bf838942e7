using CommunityToolkit.HighPerformance.Buffers;
using Rnn.Simd.Internal;
using Rnn.Simd.Kernels.Threading;
using Rnn.Simd.Layers;

namespace Rnn.Simd.Networks;

/// <summary>
/// An immutable <see cref="SequenceClassifier"/> for serving: embedding, recurrent network and head with their weights
/// packed once. Safe to share between threads; each call rents its scratch from the pool and returns it, so calls
/// allocate nothing. Take one with <see cref="SequenceClassifier.ToInference"/>.
/// </summary>
public sealed class SequenceClassifierInference : RecurrentHeadInference
{
    /// <summary>Assembles a model from inference parts whose sizes fit <paramref name="options"/> (an identity head: logits).</summary>
    /// <param name="options">The architecture.</param>
    /// <param name="embedding">The token embedding, or null for float-feature input.</param>
    /// <param name="network">The recurrent stack (<see cref="RecurrentHeadOptions.Stack"/>).</param>
    /// <param name="head">The head.</param>
    /// <exception cref="ArgumentException">A part does not fit the options.</exception>
    public SequenceClassifierInference(SequenceClassifierOptions options, Embedding? embedding, RecurrentNetwork network, DenseLayer head)
        : this(options, InferenceModelParts.Assemble(options, embedding, network, head))
    {
    }

    internal SequenceClassifierInference(SequenceClassifierOptions options, InferenceModelParts parts)
        : base(options, parts)
    {
        Options = options;
    }

    /// <summary>The architecture.</summary>
    public SequenceClassifierOptions Options { get; }

    private protected override void Run(
        ReadOnlySpan<float> input, ReadOnlySpan<int> tokens, int steps, int batch, Span<float> output,
        ReadOnlySpan<int> lengths, bool probabilities, ThreadTeam? threads)
    {
        ThrowHelper.ThrowIfLengthIsNot(output.Length, nameof(output), "B·C", batch, Options.Classes);

        RecurrentNetworkOptions o = Parts.Recurrent.Options;
        int embeddedFloats = Options.TokenInput ? steps * batch * Options.EmbeddingSize : 0;
        int stateFloats = o.Layers * o.Directions * batch * o.OutputSize;
        int summaryFloats = batch * Options.HeadInputs;
        using SpanOwner<float> scratch = SpanOwner<float>.Allocate(embeddedFloats + (batch * o.LayerOutputSize) + stateFloats + summaryFloats, Parts.Pool);
        Span<float> rest = scratch.Span;
        Span<float> embedded = ModelParts.Take(ref rest, embeddedFloats);          // [T, B, E]
        Span<float> last = ModelParts.Take(ref rest, batch * o.LayerOutputSize);   // [B, F] (unused)
        Span<float> hN = ModelParts.Take(ref rest, stateFloats);                   // [L·D, B, Hout]
        Span<float> summary = ModelParts.Take(ref rest, summaryFloats);            // [B, D·Hout]

        ReadOnlySpan<float> x = Parts.StepInput(input, tokens, embedded);
        Parts.Recurrent.Forward(x, steps, batch, last, hN: hN, lengths: lengths, threads: threads, lastStepOnly: true);
        ModelParts.GatherFinalStates(hN, o, batch, summary);
        Parts.HeadForward(summary, batch, output, probabilities, threads);
    }
}
