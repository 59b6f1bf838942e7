using CommunityToolkit.HighPerformance.Buffers;
using Rnn.Simd.Internal;
using Rnn.Simd.Kernels.Activations;
using Rnn.Simd.Kernels.Threading;
using Rnn.Simd.Layers;
using Rnn.Simd.Training;

namespace Rnn.Simd.Networks;

/// <summary>The mean next-token cross-entropy of a sequence (nats per token) and its perplexity.</summary>
/// <param name="MeanLoss">−(1/n) Σ log p(x_{t+1} | x_0 … x_t) over the n predicted tokens.</param>
/// <param name="Predictions">n: the tokens predicted (the sequence's length − 1).</param>
public readonly record struct LanguageModelEvaluation(double MeanLoss, int Predictions)
{
    /// <summary>exp(mean loss).</summary>
    public double Perplexity => Math.Exp(MeanLoss);
}

/// <summary>
/// An immutable language model for inference: <see cref="Networks.Embedding"/> → <see cref="RecurrentNetwork"/> →
/// <see cref="DenseLayer"/>. Safe to share between threads; each caller generates through its own
/// <see cref="TokenGenerator"/> (<see cref="CreateGenerator"/>).
/// </summary>
public sealed class LanguageModelInference
{
    /// <summary>Assembles a model from inference parts whose sizes fit <paramref name="options"/>.</summary>
    /// <exception cref="ArgumentException">A part does not fit the options.</exception>
    public LanguageModelInference(LanguageModelOptions options, Embedding embedding, RecurrentNetwork network, DenseLayer head)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(embedding);
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(head);
        options.Validate();
        if (embedding.Vocabulary != options.VocabularySize || embedding.Dimension != options.EmbeddingSize)
        {
            ThrowHelper.Argument(nameof(embedding), $"Expected [{options.VocabularySize}, {options.EmbeddingSize}], got [{embedding.Vocabulary}, {embedding.Dimension}].");
        }

        if (!network.Options.Equals(options.Stack))
        {
            ThrowHelper.Argument(nameof(network), "The network's architecture differs from the options'.");
        }

        if (head.Inputs != network.Options.OutputSize || head.Outputs != options.VocabularySize || head.Activation != OutputActivation.Identity)
        {
            ThrowHelper.Argument(nameof(head), $"Expected an identity head {network.Options.OutputSize} → {options.VocabularySize}.");
        }

        Options = options;
        Embedding = embedding;
        Network = network;
        Head = head;
    }

    /// <summary>The architecture.</summary>
    public LanguageModelOptions Options { get; }

    /// <summary>The token embedding.</summary>
    public Embedding Embedding { get; }

    /// <summary>The recurrent stack.</summary>
    public RecurrentNetwork Network { get; }

    /// <summary>The head: logits over the vocabulary.</summary>
    public DenseLayer Head { get; }

    /// <summary>A stream of <paramref name="batch"/> sequences over the model: feed tokens, read the next token's logits.</summary>
    /// <exception cref="ArgumentOutOfRangeException">batch &lt; 1.</exception>
    public ModelStream CreateStream(int batch = 1) => new(Embedding, Network, Head, batch);

    /// <summary>A generator (its own state, scratch and random stream) picking tokens by <paramref name="sampling"/> (null: greedy).</summary>
    /// <exception cref="ArgumentException">The sampling options do not fit the vocabulary.</exception>
    public TokenGenerator CreateGenerator(SamplingOptions? sampling = null) => new(this, sampling ?? SamplingOptions.GreedyDecoding);

    /// <summary>
    /// The mean loss and perplexity of predicting each token of <paramref name="tokens"/> from the ones before it,
    /// from a zero state, without gradients.
    /// </summary>
    /// <exception cref="ArgumentException">Fewer than two tokens, or an id out of range.</exception>
    public LanguageModelEvaluation Evaluate(ReadOnlySpan<int> tokens, ThreadTeam? threads = null)
    {
        if (tokens.Length < 2)
        {
            ThrowHelper.Argument(nameof(tokens), $"Evaluation needs at least two tokens (one prediction), got {tokens.Length}.");
        }

        int v = Options.VocabularySize;
        Embedding.ValidateTokens(tokens, v, nameof(tokens));
        int n = tokens.Length - 1, e = Embedding.Dimension, hOut = Network.Options.OutputSize;
        using SpanOwner<float> scratch = SpanOwner<float>.Allocate((n * e) + (n * hOut) + (2 * n * v), Network.Pool);
        Span<float> x = scratch.Span[..(n * e)];
        Span<float> y = scratch.Span.Slice(n * e, n * hOut);
        Span<float> logits = scratch.Span.Slice((n * e) + (n * hOut), n * v);
        Span<float> gradient = scratch.Span.Slice((n * e) + (n * hOut) + (n * v), n * v);
        Embedding.Lookup(tokens[..n], x);
        Network.Forward(x, n, 1, y, threads: threads);
        Head.Forward(y, n, logits, threads, Network.Pool);
        return new LanguageModelEvaluation(Losses.SoftmaxCrossEntropy(logits, n, v, tokens[1..], gradient), n);
    }
}

/// <summary>
/// One caller's generation stream over a shared <see cref="LanguageModelInference"/>: <see cref="Prime"/> on a
/// prompt, then <see cref="Next"/> emits tokens, each fed back as the next input (one-to-many). Not thread-safe;
/// after warm-up a generated token allocates nothing.
/// </summary>
public sealed class TokenGenerator
{
    private readonly ModelStream _stream;

    internal TokenGenerator(LanguageModelInference model, SamplingOptions sampling)
    {
        Model = model;
        Sampler = new TokenSampler(model.Options.VocabularySize, sampling);
        _stream = model.CreateStream();
    }

    /// <summary>The shared model.</summary>
    public LanguageModelInference Model { get; }

    /// <summary>Picks the tokens (its own seeded random stream).</summary>
    public TokenSampler Sampler { get; }

    /// <summary>The stack's state after every token fed so far.</summary>
    public RecurrentState State => _stream.State;

    /// <summary>Whether a token has been fed since the last reset (so a next token can be predicted).</summary>
    public bool IsPrimed => _stream.HasOutput;

    /// <summary>The logits [V] of the next token (valid once primed).</summary>
    public ReadOnlySpan<float> Logits => _stream.Output;

    /// <summary>Starts over: zero state, nothing fed, the random stream back at its seed.</summary>
    public void Reset()
    {
        _stream.Reset();
        Sampler.Reset();
    }

    /// <summary>Feeds <paramref name="prompt"/> (continuing from the current state) and predicts the token after it.</summary>
    /// <exception cref="ArgumentException">The prompt is empty or holds an id out of range (nothing is fed then).</exception>
    public void Prime(ReadOnlySpan<int> prompt, ThreadTeam? threads = null)
    {
        if (prompt.IsEmpty)
        {
            ThrowHelper.Argument(nameof(prompt), "The prompt must hold at least one token.");
        }

        Embedding.ValidateTokens(prompt, Model.Options.VocabularySize, nameof(prompt));
        _stream.Run(prompt, prompt.Length, threads);
    }

    /// <summary>softmax(logits) [V] at temperature 1 over every token: p(next token | everything fed).</summary>
    /// <exception cref="InvalidOperationException">Nothing has been fed.</exception>
    public void NextTokenProbabilities(Span<float> probabilities)
    {
        _stream.RequireOutput();
        ThrowHelper.ThrowIfLengthIsNot(probabilities.Length, Model.Options.VocabularySize, nameof(probabilities), "V");
        Activations.SoftmaxRows(_stream.Output, probabilities.Length, probabilities, probabilities.Length, 1, probabilities.Length);
    }

    /// <summary>Picks the next token, feeds it back, and returns it.</summary>
    /// <exception cref="InvalidOperationException">Nothing has been fed (prime first).</exception>
    public int Next(ThreadTeam? threads = null)
    {
        _stream.RequireOutput();
        int token = Sampler.Sample(_stream.Output);
        _stream.Step(new ReadOnlySpan<int>(in token), threads);
        return token;
    }

    /// <summary>Fills <paramref name="destination"/> with the next tokens (<see cref="Next"/> once per element).</summary>
    public void Generate(Span<int> destination, ThreadTeam? threads = null)
    {
        for (int i = 0; i < destination.Length; i++)
        {
            destination[i] = Next(threads);
        }
    }
}
