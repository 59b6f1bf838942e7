using Rnn.Simd.Internal;
using Rnn.Simd.Kernels.Activations;

namespace Rnn.Simd.Training;

/// <summary>How a loss combines its terms.</summary>
public enum LossReduction
{
    /// <summary>The average over the terms that count (non-ignored targets).</summary>
    Mean,

    /// <summary>The plain sum.</summary>
    Sum,
}

/// <summary>
/// Losses with their gradients, as BPTT needs them: the loss value in double (summed in a fixed order, so it
/// is the same for every vector width and thread count) and dL/d(prediction) written into a caller's buffer.
/// </summary>
public static class Losses
{
    /// <summary>PyTorch's default ignore index for cross-entropy targets.</summary>
    public const int DefaultIgnoreIndex = -100;

    /// <summary>
    /// Mean squared error L = reduce_i (y_i − t_i)²; <paramref name="gradient"/> receives dL/dy = 2 (y − t) (÷ n for the mean).
    /// </summary>
    /// <returns>The loss.</returns>
    public static double MeanSquaredError(ReadOnlySpan<float> prediction, ReadOnlySpan<float> target, Span<float> gradient, LossReduction reduction = LossReduction.Mean)
    {
        ThrowHelper.ThrowIfLengthIsNot(target.Length, prediction.Length, nameof(target), "as many as prediction");
        ThrowHelper.ThrowIfLengthIsNot(gradient.Length, prediction.Length, nameof(gradient), "as many as prediction");
        ValidateReduction(reduction);
        int n = prediction.Length;
        if (n == 0)
        {
            return reduction == LossReduction.Mean ? double.NaN : 0.0;   // PyTorch: the mean of nothing is NaN
        }

        double sum = 0;
        float scale = reduction == LossReduction.Mean ? 2f / n : 2f;
        for (int i = 0; i < n; i++)
        {
            float difference = prediction[i] - target[i];
            sum += (double)difference * difference;
            gradient[i] = scale * difference;
        }

        return reduction == LossReduction.Mean ? sum / n : sum;
    }

    /// <summary>
    /// Softmax cross-entropy on logits [rows, classes] against integer classes [rows]:
    /// L = reduce over counted rows of −log softmax(z_r)[t_r]; rows whose target is <paramref name="ignoreIndex"/> count
    /// for nothing. <paramref name="gradient"/> [rows, classes] receives dL/dz = softmax(z) − onehot(t) (÷ counted rows
    /// for the mean), and zeros for ignored rows.
    /// </summary>
    /// <returns>The loss (NaN for a mean over no counted row, as PyTorch).</returns>
    /// <exception cref="ArgumentException">A target is neither a class in [0, classes) nor the ignore index.</exception>
    public static double SoftmaxCrossEntropy(
        ReadOnlySpan<float> logits, int rows, int classes, ReadOnlySpan<int> targets, Span<float> gradient,
        LossReduction reduction = LossReduction.Mean, int ignoreIndex = DefaultIgnoreIndex)
    {
        ThrowHelper.ThrowIfNegative(rows, nameof(rows));
        if (classes < 1)
        {
            ThrowHelper.ArgumentOutOfRange(nameof(classes), $"Must be at least 1, was {classes}.");
        }

        ThrowHelper.ThrowIfLengthIsNot(logits.Length, nameof(logits), "rows·classes", rows, classes);
        ThrowHelper.ThrowIfLengthIsNot(targets.Length, rows, nameof(targets), "rows");
        ThrowHelper.ThrowIfLengthIsNot(gradient.Length, nameof(gradient), "rows·classes", rows, classes);
        ValidateReduction(reduction);
        int counted = 0;
        foreach (int target in targets)
        {
            if (target == ignoreIndex)
            {
                continue;
            }

            if ((uint)target >= (uint)classes)
            {
                ThrowHelper.ArgumentOutOfRange(nameof(targets), $"Target {target} is not a class in [0, {classes}) nor the ignore index {ignoreIndex}.");
            }

            counted++;
        }

        if (rows == 0)
        {
            return reduction == LossReduction.Mean ? double.NaN : 0.0;
        }

        // log-softmax into the gradient buffer, then turn each counted row into softmax − onehot in place.
        Activations.LogSoftmaxRows(logits, classes, gradient, classes, rows, classes);
        double sum = 0;
        float scale = reduction == LossReduction.Mean && counted > 0 ? 1f / counted : 1f;
        for (int r = 0; r < rows; r++)
        {
            Span<float> row = gradient.Slice(r * classes, classes);
            int target = targets[r];
            if (target == ignoreIndex)
            {
                row.Clear();
                continue;
            }

            sum -= row[target];
            Activations.Exp(row, row);
            row[target] -= 1f;
            if (scale != 1f)
            {
                for (int j = 0; j < classes; j++)
                {
                    row[j] *= scale;
                }
            }
        }

        return reduction == LossReduction.Mean ? (counted == 0 ? double.NaN : sum / counted) : sum;
    }

    private static void ValidateReduction(LossReduction reduction)
    {
        if (!Enum.IsDefined(reduction))
        {
            ThrowHelper.Argument(nameof(reduction), $"{reduction} is not a reduction.");
        }
    }
}
