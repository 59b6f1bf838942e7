using Rnn.Simd.Internal;
using Rnn.Simd.Kernels.Threading;
using Rnn.Simd.Layers;

namespace Rnn.Simd.Networks;

/// <summary>
/// An immutable encoder-decoder for inference, safe to share between threads; each caller decodes through its own
/// <see cref="SequenceDecoder"/> (<see cref="CreateDecoder"/>).
/// </summary>
public sealed class EncoderDecoderInference
{
    /// <summary>Assembles a model from inference parts whose sizes fit <paramref name="options"/>.</summary>
    /// <exception cref="ArgumentException">A part does not fit the options.</exception>
    public EncoderDecoderInference(
        EncoderDecoderOptions options, Embedding sourceEmbedding, RecurrentNetwork encoder, Embedding targetEmbedding, RecurrentNetwork decoder, DenseLayer head)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(sourceEmbedding);
        ArgumentNullException.ThrowIfNull(encoder);
        ArgumentNullException.ThrowIfNull(targetEmbedding);
        ArgumentNullException.ThrowIfNull(decoder);
        ArgumentNullException.ThrowIfNull(head);
        options.Validate();
        RecurrentNetworkOptions stack = options.Stack;
        if (sourceEmbedding.Vocabulary != options.SourceVocabularySize || sourceEmbedding.Dimension != options.EmbeddingSize)
        {
            ThrowHelper.Argument(nameof(sourceEmbedding), $"Expected [{options.SourceVocabularySize}, {options.EmbeddingSize}].");
        }

        if (targetEmbedding.Vocabulary != options.TargetVocabularySize || targetEmbedding.Dimension != options.EmbeddingSize)
        {
            ThrowHelper.Argument(nameof(targetEmbedding), $"Expected [{options.TargetVocabularySize}, {options.EmbeddingSize}].");
        }

        if (!encoder.Options.Equals(stack))
        {
            ThrowHelper.Argument(nameof(encoder), "The encoder's architecture differs from the options'.");
        }

        if (!decoder.Options.Equals(stack))
        {
            ThrowHelper.Argument(nameof(decoder), "The decoder's architecture differs from the options'.");
        }

        if (head.Inputs != stack.OutputSize || head.Outputs != options.TargetVocabularySize || head.Activation != OutputActivation.Identity)
        {
            ThrowHelper.Argument(nameof(head), $"Expected an identity head {stack.OutputSize} → {options.TargetVocabularySize}.");
        }

        Options = options;
        SourceEmbedding = sourceEmbedding;
        Encoder = encoder;
        TargetEmbedding = targetEmbedding;
        Decoder = decoder;
        Head = head;
    }

    /// <summary>The architecture.</summary>
    public EncoderDecoderOptions Options { get; }

    /// <summary>The source embedding.</summary>
    public Embedding SourceEmbedding { get; }

    /// <summary>The encoder stack.</summary>
    public RecurrentNetwork Encoder { get; }

    /// <summary>The target embedding.</summary>
    public Embedding TargetEmbedding { get; }

    /// <summary>The decoder stack.</summary>
    public RecurrentNetwork Decoder { get; }

    /// <summary>The head: logits over the target vocabulary.</summary>
    public DenseLayer Head { get; }

    /// <summary>A decoder (its own state, scratch and random stream) picking tokens by <paramref name="sampling"/> (null: greedy).</summary>
    /// <exception cref="ArgumentException">The sampling options do not fit the target vocabulary.</exception>
    public SequenceDecoder CreateDecoder(SamplingOptions? sampling = null) => new(this, sampling ?? SamplingOptions.GreedyDecoding);
}

/// <summary>
/// One caller's decoding over a shared <see cref="EncoderDecoderInference"/>: encodes a source, then streams the
/// decoder step by step from BOS, each picked token fed back, until EOS or the output is full. Not thread-safe; a
/// decoded token allocates nothing after warm-up.
/// </summary>
public sealed class SequenceDecoder
{
    private readonly ModelStream _stream;
    private float[] _x = [], _encoderOut = [];

    internal SequenceDecoder(EncoderDecoderInference model, SamplingOptions sampling)
    {
        Model = model;
        Sampler = new TokenSampler(model.Options.TargetVocabularySize, sampling);
        _stream = new ModelStream(model.TargetEmbedding, model.Decoder, model.Head, 1);
    }

    /// <summary>The shared model.</summary>
    public EncoderDecoderInference Model { get; }

    /// <summary>Picks the tokens; its random stream restarts from the seed at every <see cref="Decode"/>, so a source always decodes the same way.</summary>
    public TokenSampler Sampler { get; }

    /// <summary>
    /// Decodes <paramref name="source"/> into <paramref name="output"/> (its length is the maximum length): the tokens
    /// before EOS (EOS itself is not written).
    /// </summary>
    /// <returns>The number of tokens written.</returns>
    /// <exception cref="ArgumentException">The source is empty or holds an id out of range.</exception>
    public int Decode(ReadOnlySpan<int> source, Span<int> output, ThreadTeam? threads = null)
    {
        EncoderDecoderOptions o = Model.Options;
        if (source.IsEmpty)
        {
            ThrowHelper.Argument(nameof(source), "The source must hold at least one token.");
        }

        Embedding.ValidateTokens(source, o.SourceVocabularySize, nameof(source));
        int s = source.Length, e = o.EmbeddingSize;
        Buffers.Grow(ref _x, s * e);
        Buffers.Grow(ref _encoderOut, s * Model.Encoder.Options.OutputSize);
        Model.SourceEmbedding.Lookup(source, _x.AsSpan(0, s * e));
        _stream.Reset();
        Sampler.Reset();
        RecurrentState state = _stream.State;
        Model.Encoder.Forward(_x.AsSpan(0, s * e), s, 1, _encoderOut.AsSpan(0, s * Model.Encoder.Options.OutputSize), hN: state.Hidden, cN: state.Cell, threads: threads);

        int count = 0;
        int bos = o.BosToken;
        _stream.Step(new ReadOnlySpan<int>(in bos), threads);
        while (count < output.Length)
        {
            int token = Sampler.Sample(_stream.Output);
            if (token == o.EosToken)
            {
                break;
            }

            output[count++] = token;
            if (count < output.Length)
            {
                _stream.Step(new ReadOnlySpan<int>(in token), threads);
            }
        }

        return count;
    }
}
