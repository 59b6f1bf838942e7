using Rnn.Simd.Internal;

namespace Rnn.Simd.Networks;

/// <summary>
/// How a generator picks the next token from the head's logits z: greedy (argmax), or a draw from
/// softmax(z / <see cref="Temperature"/>) restricted to the <see cref="TopK"/> largest logits, with a seeded
/// <see cref="Training.DeterministicRandom"/>.
/// </summary>
/// <remarks>
/// The same options (seed included) give the same tokens on every run, thread count and vector width: the logits are
/// bit-identical everywhere, the softmax is too, and the draw walks the cumulative sum in double in index order.
/// TopK = 1 is greedy; a temperature near 0 approaches greedy.
/// </remarks>
public sealed record SamplingOptions
{
    /// <summary>Greedy decoding: always the most likely token (ties to the lowest id); the other options are ignored.</summary>
    public static SamplingOptions GreedyDecoding { get; } = new() { Greedy = true };

    /// <summary>Whether to take the argmax instead of drawing.</summary>
    public bool Greedy { get; init; }

    /// <summary>T &gt; 0 (unless greedy): the logits are divided by T before the softmax; below 1 sharpens, above 1 flattens.</summary>
    public float Temperature { get; init; } = 1f;

    /// <summary>Draw among the K most likely tokens only (ties at the K-th logit go to the lower ids); 0 = all tokens.</summary>
    public int TopK { get; init; }

    /// <summary>Seeds the draws.</summary>
    public ulong Seed { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> naming <paramref name="paramName"/> unless these options fit a vocabulary of <paramref name="vocabulary"/> tokens.</summary>
    internal void Validate(int vocabulary, string paramName)
    {
        if (TopK < 0 || TopK > vocabulary)
        {
            ThrowHelper.ArgumentOutOfRange(paramName, $"TopK must be in [0, {vocabulary}] (0 = all tokens), was {TopK}.");
        }

        if (!Greedy && !(Temperature > 0 && float.IsFinite(Temperature)))
        {
            ThrowHelper.ArgumentOutOfRange(paramName, $"Temperature must be positive and finite unless Greedy, was {Temperature}.");
        }
    }
}
