using System.Text.Json.Serialization;
using Rnn.Simd.Internal;
using Rnn.Simd.Layers;
using Rnn.Simd.Parameters;
using Rnn.Simd.Training;

namespace Rnn.Simd.Networks;

/// <summary>
/// A sequence-to-sequence model (many-to-many, unaligned): source ids → source embedding → encoder stack; the
/// encoder's final state (h_n, and c_n for LSTM) is the decoder's initial state; target ids → target embedding →
/// decoder stack → dense head over the target vocabulary. JSON kind <c>encoder_decoder</c>.
/// </summary>
/// <remarks>
/// <para>The encoder is unidirectional and has the decoder's shape (cell, hidden and projection size, layers), so its
/// state [L, B, Hout] (and [L, B, H]) is the decoder's start state layer by layer, unchanged (Sutskever, Vinyals and
/// Le, 2014). Both stacks read <see cref="EmbeddingSize"/> features.</para>
/// <para>Parameters, in this order: <c>source_embedding.weight</c> [Vs, E]; <c>encoder.*</c> (PyTorch names);
/// <c>target_embedding.weight</c> [Vt, E]; <c>decoder.*</c>; <c>head.weight</c> [Vt, Hout], <c>head.bias</c> [Vt].</para>
/// </remarks>
public sealed record EncoderDecoderOptions : GenerativeModelOptions
{
    /// <summary>Source tokens Vs.</summary>
    public required int SourceVocabularySize { get; init; }

    /// <summary>Target tokens Vt (including <see cref="BosToken"/>, <see cref="EosToken"/>, <see cref="PadToken"/>).</summary>
    public required int TargetVocabularySize { get; init; }

    /// <summary>The length E of a token's embedding, source and target.</summary>
    public required int EmbeddingSize { get; init; }

    /// <summary>The target id fed to the decoder at its first step.</summary>
    public int BosToken { get; init; } = 1;

    /// <summary>The target id that ends a decoded sequence.</summary>
    public int EosToken { get; init; } = 2;

    /// <summary>The target id of padding: a target position holding it (or <see cref="Losses.DefaultIgnoreIndex"/>) counts for nothing.</summary>
    public int PadToken { get; init; }

    /// <inheritdoc/>
    [JsonIgnore]
    public override int StepFeatures => EmbeddingSize;

    /// <inheritdoc/>
    public override IReadOnlyList<ParameterSpec> ParameterSpecs()
    {
        Validate();
        RecurrentNetworkOptions stack = Stack;
        return [
            .. TrainableEmbedding.Specs(SourceVocabularySize, EmbeddingSize, ModelPrefixes.Encoder.Embedding),
            .. stack.ParameterSpecs(ModelPrefixes.Encoder.Recurrent),
            .. StackWithHead.Specs(stack, stack.OutputSize, TargetVocabularySize, TargetVocabularySize, ModelPrefixes.Decoder),
        ];
    }

    /// <inheritdoc/>
    public override SequenceModel CreateModel() => EncoderDecoder.Create(this);

    /// <inheritdoc/>
    public override void Validate()
    {
        RequirePositive(SourceVocabularySize, nameof(SourceVocabularySize));
        RequirePositive(TargetVocabularySize, nameof(TargetVocabularySize));
        RequirePositive(EmbeddingSize, nameof(EmbeddingSize));
        RequireTarget(BosToken, nameof(BosToken));
        RequireTarget(EosToken, nameof(EosToken));
        RequireTarget(PadToken, nameof(PadToken));
        ValidateStack();
    }

    private void RequireTarget(int token, string name)
    {
        if ((uint)token >= (uint)TargetVocabularySize)
        {
            ThrowHelper.Argument(name, $"Must be a target token in 0 … {TargetVocabularySize - 1}, was {token}.");
        }
    }
}
