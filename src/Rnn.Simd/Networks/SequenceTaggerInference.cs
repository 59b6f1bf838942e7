using CommunityToolkit.HighPerformance.Buffers;
using Rnn.Simd.Internal;
using Rnn.Simd.Kernels.Threading;

namespace Rnn.Simd.Networks;

/// <summary>
/// An immutable <see cref="SequenceTagger"/> for serving: embedding, recurrent network and head with their weights
/// packed once. Safe to share between threads; each call rents its scratch from the pool and returns it, so calls
/// allocate nothing. Take one with <see cref="SequenceTagger.ToInference"/>.
/// </summary>
public sealed class SequenceTaggerInference : RecurrentHeadInference
{
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
