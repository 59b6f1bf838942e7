using Rnn.Simd.Internal;

namespace Rnn.Simd.Networks;

/// <summary>
/// An immutable token embedding table [vocabulary, dimension] for inference: token t maps to row t, as
/// nn.Embedding's forward. Safe to share between threads; <see cref="Lookup"/> allocates nothing.
/// </summary>
public sealed class Embedding
{
    private readonly float[] _table;

    /// <summary>Copies a table [vocabulary, dimension] (row-major, nn.Embedding's <c>weight</c>).</summary>
    /// <exception cref="ArgumentException">A size is below 1, or the table does not hold vocabulary·dimension values.</exception>
    public Embedding(int vocabulary, int dimension, ReadOnlySpan<float> table)
    {
        ValidateSizes(vocabulary, dimension);
        ThrowHelper.ThrowIfLengthIsNot(table.Length, nameof(table), "vocabulary·dimension", vocabulary, dimension);
        Vocabulary = vocabulary;
        Dimension = dimension;
        _table = table.ToArray();
    }

    /// <summary>The number of tokens V: valid ids are 0 … V−1.</summary>
    public int Vocabulary { get; }

    /// <summary>The length E of each token's vector.</summary>
    public int Dimension { get; }

    /// <summary>Row <paramref name="token"/> of the table.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The token is not in 0 … V−1.</exception>
    public ReadOnlySpan<float> this[int token]
    {
        get
        {
            ValidateToken(token, Vocabulary, nameof(token));
            return _table.AsSpan(token * Dimension, Dimension);
        }
    }

    /// <summary>Writes the rows of <paramref name="tokens"/> (any layout, n ids) into <paramref name="output"/> [n, E].</summary>
    /// <exception cref="ArgumentException">The output does not hold n·E values, or a token is out of range (checked before anything is written).</exception>
    public void Lookup(ReadOnlySpan<int> tokens, Span<float> output) => Gather(_table, Vocabulary, Dimension, tokens, output);

    internal static void ValidateSizes(int vocabulary, int dimension)
    {
        if (vocabulary < 1)
        {
            ThrowHelper.ArgumentOutOfRange(nameof(vocabulary), $"The vocabulary must hold at least one token, was {vocabulary}.");
        }

        if (dimension < 1)
        {
            ThrowHelper.ArgumentOutOfRange(nameof(dimension), $"The embedding dimension must be at least 1, was {dimension}.");
        }
    }

    internal static void ValidateToken(int token, int vocabulary, string paramName)
    {
        if ((uint)token >= (uint)vocabulary)
        {
            ThrowHelper.ArgumentOutOfRange(paramName, $"Token {token} is outside the vocabulary 0 … {vocabulary - 1}.");
        }
    }

    internal static void ValidateTokens(ReadOnlySpan<int> tokens, int vocabulary, string paramName)
    {
        for (int i = 0; i < tokens.Length; i++)
        {
            if ((uint)tokens[i] >= (uint)vocabulary)
            {
                ThrowHelper.ArgumentOutOfRange(paramName, $"Token {tokens[i]} at position {i} is outside the vocabulary 0 … {vocabulary - 1}.");
            }
        }
    }

    /// <summary>output[i] = table[tokens[i]], after checking every token and the output's length.</summary>
    internal static void Gather(ReadOnlySpan<float> table, int vocabulary, int dimension, ReadOnlySpan<int> tokens, Span<float> output)
    {
        ThrowHelper.ThrowIfLengthIsNot(output.Length, nameof(output), "tokens·dimension", tokens.Length, dimension);
        ValidateTokens(tokens, vocabulary, nameof(tokens));
        for (int i = 0; i < tokens.Length; i++)
        {
            table.Slice(tokens[i] * dimension, dimension).CopyTo(output.Slice(i * dimension, dimension));
        }
    }
}
