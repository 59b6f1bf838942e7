using Rnn.Simd.Internal;
using Rnn.Simd.Parameters;
using Rnn.Simd.Training;

namespace Rnn.Simd.Networks;

/// <summary>
/// A token embedding whose table lives in a <see cref="ParameterSet"/> under nn.Embedding's name
/// (<c>{prefix}weight</c> [vocabulary, dimension], role <see cref="ParameterRole.Embedding"/>): the trainable twin of
/// <see cref="Embedding"/>.
/// </summary>
/// <remarks>
/// <see cref="Forward"/> copies row t of the table for each token t; <see cref="Backward"/> adds each output gradient
/// row into the gradient row of its token, in token order (so a token seen twice sums its gradients in a fixed order:
/// the same bits on every run and thread count). Gradients only accumulate; zeroing is separate. Allocates nothing.
/// </remarks>
public sealed class TrainableEmbedding
{
    private readonly ParameterTensor _weight;

    /// <summary>Binds an embedding to the tensor <c>{prefix}weight</c> [vocabulary, dimension] of <paramref name="parameters"/>.</summary>
    /// <exception cref="ArgumentException">A size is below 1, or the tensor is missing or has another shape.</exception>
    public TrainableEmbedding(int vocabulary, int dimension, ParameterSet parameters, string prefix = "")
    {
        Embedding.ValidateSizes(vocabulary, dimension);
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(prefix);
        Vocabulary = vocabulary;
        Dimension = dimension;
        Parameters = parameters;
        Prefix = prefix;
        _weight = parameters.Bind(prefix + "weight", [vocabulary, dimension], required: true, nameof(parameters))!;
    }

    /// <summary>The number of tokens V: valid ids are 0 … V−1.</summary>
    public int Vocabulary { get; }

    /// <summary>The length E of each token's vector.</summary>
    public int Dimension { get; }

    /// <summary>The set holding the table.</summary>
    public ParameterSet Parameters { get; }

    /// <summary>The prefix of the table's name.</summary>
    public string Prefix { get; }

    /// <summary>The declaration of the table: <c>{prefix}weight</c> [vocabulary, dimension].</summary>
    /// <exception cref="ArgumentException">A size is below 1.</exception>
    public static IReadOnlyList<ParameterSpec> Specs(int vocabulary, int dimension, string prefix = "")
    {
        Embedding.ValidateSizes(vocabulary, dimension);
        ArgumentNullException.ThrowIfNull(prefix);
        return [new ParameterSpec(prefix + "weight", [vocabulary, dimension], ParameterRole.Embedding)];
    }

    /// <summary>An immutable copy of the current table for inference.</summary>
    public Embedding ToInferenceEmbedding() => new(Vocabulary, Dimension, Parameters.Value(_weight));

    /// <summary>Writes the rows of <paramref name="tokens"/> (n ids, any layout) into <paramref name="output"/> [n, E].</summary>
    /// <exception cref="ArgumentException">The output does not hold n·E values, or a token is out of range (checked before anything is written).</exception>
    public void Forward(ReadOnlySpan<int> tokens, Span<float> output) =>
        Embedding.Gather(Parameters.Value(_weight), Vocabulary, Dimension, tokens, output);

    /// <summary>Adds dL/d(output) [n, E] into the gradient rows of <paramref name="tokens"/>, in token order.</summary>
    /// <exception cref="ArgumentException">The gradient does not hold n·E values, or a token is out of range (checked before anything is added).</exception>
    public void Backward(ReadOnlySpan<int> tokens, ReadOnlySpan<float> gradOutput)
    {
        ThrowHelper.ThrowIfLengthIsNot(gradOutput.Length, nameof(gradOutput), "tokens·dimension", tokens.Length, Dimension);
        Embedding.ValidateTokens(tokens, Vocabulary, nameof(tokens));
        Span<float> gradient = Parameters.Gradient(_weight);
        int e = Dimension;
        for (int i = 0; i < tokens.Length; i++)
        {
            Span<float> row = gradient.Slice(tokens[i] * e, e);
            ReadOnlySpan<float> g = gradOutput.Slice(i * e, e);
            for (int j = 0; j < e; j++)
            {
                row[j] += g[j];
            }
        }
    }
}
