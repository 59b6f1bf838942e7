using Rnn.Simd.Internal;

namespace Rnn.Simd.Training;

/// <summary>
/// Gradient clipping as in seed 004 and PyTorch's <c>clip_grad_norm_</c> / <c>clip_grad_value_</c>, over one flat
/// gradient buffer (the trainer keeps every parameter's gradient in one allocation).
/// </summary>
public static class GradientClipping
{
    /// <summary>
    /// Scales <paramref name="gradients"/> by max_norm / (‖g‖₂ + 1e−6) when that factor is below 1, as PyTorch's
    /// clip_grad_norm_ does. The norm is accumulated in double in a fixed order, so it does not depend on the width or
    /// the thread count. A non-finite norm leaves the gradients untouched: the caller must not apply them.
    /// </summary>
    /// <returns>The global 2-norm before clipping (NaN or +∞ when a gradient is not finite).</returns>
    public static double ClipByGlobalNorm(Span<float> gradients, double maxNorm)
    {
        if (!(maxNorm > 0) || double.IsInfinity(maxNorm))
        {
            ThrowHelper.ArgumentOutOfRange(nameof(maxNorm), $"Must be positive and finite, was {maxNorm}.");
        }

        double norm = GlobalNorm(gradients);
        double factor = maxNorm / (norm + 1e-6);
        if (double.IsFinite(norm) && factor < 1)
        {
            float scale = (float)factor;
            for (int i = 0; i < gradients.Length; i++)
            {
                gradients[i] *= scale;
            }
        }

        return norm;
    }

    /// <summary>The global 2-norm √Σ g², summed in double in index order.</summary>
    public static double GlobalNorm(ReadOnlySpan<float> gradients)
    {
        double sum = 0;
        foreach (float g in gradients)
        {
            sum += (double)g * g;
        }

        return Math.Sqrt(sum);
    }

    /// <summary>Clamps every gradient to [−clipValue, clipValue] (PyTorch's clip_grad_value_); NaN stays NaN.</summary>
    public static void ClipByValue(Span<float> gradients, float clipValue)
    {
        if (!(clipValue > 0) || float.IsInfinity(clipValue))
        {
            ThrowHelper.ArgumentOutOfRange(nameof(clipValue), $"Must be positive and finite, was {clipValue}.");
        }

        for (int i = 0; i < gradients.Length; i++)
        {
            float g = gradients[i];
            gradients[i] = g > clipValue ? clipValue : g < -clipValue ? -clipValue : g;
        }
    }
}
