using CommunityToolkit.HighPerformance.Buffers;
using Rnn.Simd.Internal;
using Rnn.Simd.Kernels.Threading;
using Rnn.Simd.Layers;

namespace Rnn.Simd.Networks;

/// <summary>
/// An immutable <see cref="SequenceTagger"/> for serving: embedding, recurrent network and head with their weights
/// packed once. Safe to share between threads; each call rents its scratch from the pool and returns it, so calls
/// allocate nothing. Take one with <see cref="SequenceTagger.ToInference"/>.
/// </summary>
public sealed class SequenceTaggerInference : RecurrentHeadInference
{
    /// <summary>Assembles a model from inference parts whose sizes fit <paramref name="options"/> (an identity head: logits).</summary>
    /// <param name="options">The architecture.</param>
    /// <param name="embedding">The token embedding, or null for float-feature input.</param>
    /// <param name="network">The recurrent stack (<see cref="RecurrentHeadOptions.Stack"/>).</param>
    /// <param name="head">The head.</param>
    /// <exception cref="ArgumentException">A part does not fit the options.</exception>
    public SequenceTaggerInference(SequenceTaggerOptions options, Embedding? embedding, RecurrentNetwork network, DenseLayer head)
        : this(options, InferenceModelParts.Assemble(options, embedding, network, head))
    {
    }

    internal SequenceTaggerInference(SequenceTaggerOptions options, InferenceModelParts parts)
        : base(options, parts)
    {
        Options = options;
    }

    /// <summary>The architecture.</summary>
    public SequenceTaggerOptions Options { get; }

    private protected override void Run(
        ReadOnlySpan<float> input, ReadOnlySpan<int> tokens, int steps, int batch, Span<float> output,
        ReadOnlySpan<int> lengths, bool probabilities, ThreadTeam? threads)
    {
        int rows = steps * batch;
        ThrowHelper.ThrowIfLengthIsNot(output.Length, (long)rows * Options.Classes, nameof(output), "T·B·C");

        int embeddedFloats = Options.TokenInput ? rows * Options.EmbeddingSize : 0;
        int features = Parts.Recurrent.Options.LayerOutputSize;
        using SpanOwner<float> scratch = SpanOwner<float>.Allocate(embeddedFloats + (rows * features), Parts.Pool);
        Span<float> rest = scratch.Span;
        Span<float> embedded = ModelParts.Take(ref rest, embeddedFloats);   // [T, B, E]
        Span<float> hidden = ModelParts.Take(ref rest, rows * features);    // [T, B, F]

        ReadOnlySpan<float> x = Parts.StepInput(input, tokens, embedded);
        Parts.Recurrent.Forward(x, steps, batch, hidden, lengths: lengths, threads: threads);
        Parts.HeadForward(hidden, rows, output, probabilities, threads);
    }
}
