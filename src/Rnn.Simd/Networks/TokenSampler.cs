using Rnn.Simd.Internal;
using Rnn.Simd.Kernels.Activations;
using Rnn.Simd.Training;

namespace Rnn.Simd.Networks;

/// <summary>
/// Picks tokens from logits by <see cref="SamplingOptions"/>: argmax, or a seeded draw from the tempered, top-k
/// restricted softmax. Owns its random stream and scratch: one sampler per caller; <see cref="Sample"/> allocates nothing.
/// </summary>
/// <remarks>
/// The draw: p = softmax(z / T) over the kept tokens (the others get −∞, so p = 0), u uniform in [0, 1) from
/// <see cref="DeterministicRandom.NextDouble"/>, and the first token whose cumulative sum (double, index order)
/// exceeds u · Σp; rounding that leaves u · Σp at or above the final sum takes the last token with p &gt; 0.
/// </remarks>
public sealed class TokenSampler
{
    private readonly float[] _scaled;        // [V] z / T, −∞ outside the top k; then the probabilities
    private readonly float[] _sorted;        // [V] scratch for the k-th largest logit
    private readonly DeterministicRandom _random;

    /// <summary>A sampler for <paramref name="vocabulary"/> tokens.</summary>
    /// <exception cref="ArgumentException">The vocabulary is below 1, or the options do not fit it (TopK &gt; V, Temperature ≤ 0 unless greedy).</exception>
    public TokenSampler(int vocabulary, SamplingOptions sampling)
    {
        if (vocabulary < 1)
        {
            ThrowHelper.ArgumentOutOfRange(nameof(vocabulary), $"Must be at least 1, was {vocabulary}.");
        }

        ArgumentNullException.ThrowIfNull(sampling);
        sampling.Validate(vocabulary, nameof(sampling));
        Vocabulary = vocabulary;
        Options = sampling;
        _scaled = new float[vocabulary];
        _sorted = new float[vocabulary];
        _random = new DeterministicRandom(sampling.Seed);
    }

    /// <summary>Tokens V.</summary>
    public int Vocabulary { get; }

    /// <summary>How tokens are picked.</summary>
    public SamplingOptions Options { get; }

    /// <summary>Restarts the random stream from the seed: the draws repeat.</summary>
    public void Reset() => _random.Reset(Options.Seed);

    /// <summary>The index of the largest value, ties to the lowest index (NaN never wins).</summary>
    /// <exception cref="ArgumentException">The span is empty (there is no index to return).</exception>
    public static int ArgMax(ReadOnlySpan<float> values)
    {
        if (values.IsEmpty)
        {
            ThrowHelper.Argument(nameof(values), "values is empty; expected at least one value.");
        }

        int best = 0;
        for (int i = 1; i < values.Length; i++)
        {
            if (values[i] > values[best] || float.IsNaN(values[best]))
            {
                best = i;
            }
        }

        return best;
    }

    /// <summary>Picks a token from <paramref name="logits"/> [V].</summary>
    /// <exception cref="ArgumentException">The logits do not hold V values.</exception>
    public int Sample(ReadOnlySpan<float> logits)
    {
        ThrowHelper.ThrowIfLengthIsNot(logits.Length, Vocabulary, nameof(logits), "V");
        SamplingOptions o = Options;
        if (o.Greedy || o.TopK == 1)
        {
            return ArgMax(logits);
        }

        Tempered(logits, _scaled);
        return Draw(_scaled, _random.NextDouble());
    }

    /// <summary>Writes softmax(z / T) with the top-k restriction (or, greedy, one-hot at the argmax) into <paramref name="probabilities"/> [V].</summary>
    /// <exception cref="ArgumentException">A buffer does not hold V values.</exception>
    public void Probabilities(ReadOnlySpan<float> logits, Span<float> probabilities)
    {
        ThrowHelper.ThrowIfLengthIsNot(logits.Length, Vocabulary, nameof(logits), "V");
        ThrowHelper.ThrowIfLengthIsNot(probabilities.Length, Vocabulary, nameof(probabilities), "V");
        SamplingOptions o = Options;
        if (o.Greedy || o.TopK == 1)
        {
            probabilities.Clear();
            probabilities[ArgMax(logits)] = 1f;
            return;
        }

        Tempered(logits, probabilities);
    }

    /// <summary>p = softmax(z / T) with all but the top k at −∞ (p = 0).</summary>
    private void Tempered(ReadOnlySpan<float> logits, Span<float> p)
    {
        SamplingOptions o = Options;
        float inverse = 1f / o.Temperature;
        for (int i = 0; i < p.Length; i++)
        {
            p[i] = logits[i] * inverse;
        }

        if (o.TopK > 0 && o.TopK < Vocabulary)
        {
            KeepTopK(p, o.TopK);
        }

        Activations.SoftmaxRows(p, Vocabulary, p, Vocabulary, 1, Vocabulary);
    }

    /// <summary>The first index whose cumulative probability exceeds u · Σp.</summary>
    internal static int Draw(ReadOnlySpan<float> p, double u)
    {
        double total = 0;
        for (int i = 0; i < p.Length; i++)
        {
            total += p[i];
        }

        double threshold = u * total, sum = 0;
        int last = 0;
        for (int i = 0; i < p.Length; i++)
        {
            if (p[i] > 0)
            {
                sum += p[i];
                last = i;
                if (sum > threshold)
                {
                    return i;
                }
            }
        }

        return last;
    }

    /// <summary>Sets all but the k largest values to −∞ (of equal values at the boundary, the lower indices stay).</summary>
    private void KeepTopK(Span<float> z, int k)
    {
        Span<float> sorted = _sorted;
        z.CopyTo(sorted);
        sorted.Sort();
        float kth = sorted[^k];
        int above = 0;
        foreach (float v in z)
        {
            above += v > kth ? 1 : 0;
        }

        int tiesKept = k - above;
        for (int i = 0; i < z.Length; i++)
        {
            if (z[i] > kth)
            {
                continue;
            }

            if (z[i] == kth && tiesKept > 0)
            {
                tiesKept--;
                continue;
            }

            z[i] = float.NegativeInfinity;
        }
    }
}
