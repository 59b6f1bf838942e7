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
    /// Mean squared error over a padded time-major batch [steps, batch, F]: row (t, b) counts only while
    /// t &lt; <paramref name="lengths"/>[b]. L = reduce over the counted elements of (y − t)²; <paramref name="gradient"/>
    /// receives 2 (y − t) (÷ the counted elements for the mean) there and zeros at padded steps, whose predictions and
    /// targets are not read. Empty <paramref name="lengths"/>: every step counts (the plain overload's result).
    /// </summary>
    /// <param name="prediction">y [T, B, F], time-major.</param>
    /// <param name="target">t [T, B, F].</param>
    /// <param name="gradient">Receives dL/dy [T, B, F].</param>
    /// <param name="steps">T ≥ 0.</param>
    /// <param name="batch">B ≥ 0.</param>
    /// <param name="lengths">Per-sequence lengths [B] in [0, T], or empty for all T.</param>
    /// <param name="reduction">Mean over the counted elements, or their sum.</param>
    /// <returns>The loss (NaN for a mean over no counted element, as PyTorch's mean of nothing).</returns>
    /// <exception cref="ArgumentException">A length does not match, or a sequence length is outside [0, T].</exception>
    public static double MeanSquaredError(
        ReadOnlySpan<float> prediction, ReadOnlySpan<float> target, Span<float> gradient, int steps, int batch,
        ReadOnlySpan<int> lengths, LossReduction reduction = LossReduction.Mean)
    {
        ThrowHelper.ThrowIfNegative(steps, nameof(steps));
        ThrowHelper.ThrowIfNegative(batch, nameof(batch));
        ThrowHelper.ThrowIfLengthIsNot(target.Length, prediction.Length, nameof(target), "as many as prediction");
        ThrowHelper.ThrowIfLengthIsNot(gradient.Length, prediction.Length, nameof(gradient), "as many as prediction");
        long rows = (long)steps * batch;
        if (rows == 0 ? prediction.Length != 0 : prediction.Length % rows != 0)
        {
            ThrowHelper.Argument(nameof(prediction), $"Has {prediction.Length} values, not a multiple of T·B = {rows} (T={steps}, B={batch}).");
        }

        ValidateLengths(lengths, steps, batch);
        ValidateReduction(reduction);
        int features = rows == 0 ? 0 : (int)(prediction.Length / rows);
        long counted = 0;
        for (int b = 0; b < batch; b++)
        {
            counted += (long)(lengths.IsEmpty ? steps : lengths[b]) * features;
        }

        double sum = 0;
        float scale = reduction == LossReduction.Mean && counted > 0 ? 2f / counted : 2f;
        for (int t = 0; t < steps; t++)
        {
            for (int b = 0; b < batch; b++)
            {
                int at = ((t * batch) + b) * features;
                Span<float> g = gradient.Slice(at, features);
                if (!lengths.IsEmpty && t >= lengths[b])
                {
                    g.Clear();
                    continue;
                }

                for (int j = 0; j < features; j++)
                {
                    float difference = prediction[at + j] - target[at + j];
                    sum += (double)difference * difference;
                    g[j] = scale * difference;
                }
            }
        }

        return reduction == LossReduction.Mean ? (counted == 0 ? double.NaN : sum / counted) : sum;
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
        LossReduction reduction = LossReduction.Mean, int ignoreIndex = DefaultIgnoreIndex) =>
        SoftmaxCrossEntropy(logits, rows, classes, targets, gradient, 0f, reduction, ignoreIndex);

    /// <summary>
    /// Softmax cross-entropy on logits [rows, classes] against integer classes [rows]:
    /// L = reduce over counted rows of −Σ_c q_c log softmax(z_r)_c with the target distribution
    /// q = (1 − ε)·onehot(t_r) + ε/C (ε = <paramref name="labelSmoothing"/>; 0: plain −log softmax(z_r)[t_r]); rows whose
    /// target is <paramref name="ignoreIndex"/> count for nothing. <paramref name="gradient"/> [rows, classes] receives
    /// dL/dz = softmax(z) − q (÷ counted rows for the mean), and zeros for ignored rows.
    /// </summary>
    /// <remarks>As PyTorch 1.13's nn.CrossEntropyLoss(label_smoothing=ε, ignore_index=…) without class weights: the mean
    /// divides by the counted (non-ignored) rows, smoothing term included.</remarks>
    /// <returns>The loss (NaN for a mean over no counted row, as PyTorch).</returns>
    /// <exception cref="ArgumentException">A target is neither a class in [0, classes) nor the ignore index, or ε is not in [0, 1].</exception>
    public static double SoftmaxCrossEntropy(
        ReadOnlySpan<float> logits, int rows, int classes, ReadOnlySpan<int> targets, Span<float> gradient,
        float labelSmoothing, LossReduction reduction = LossReduction.Mean, int ignoreIndex = DefaultIgnoreIndex)
    {
        ValidateLabelSmoothing(labelSmoothing, nameof(labelSmoothing));
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

            if (labelSmoothing == 0f)
            {
                sum -= row[target];
                Activations.Exp(row, row);
                row[target] -= 1f;
            }
            else
            {
                // −Σ q_c log p_c = −(1 − ε) log p_t − (ε/C) Σ_c log p_c; dL/dz = p − q.
                double logSum = 0;
                for (int j = 0; j < classes; j++)
                {
                    logSum += row[j];
                }

                sum -= ((1.0 - labelSmoothing) * row[target]) + (labelSmoothing * logSum / classes);
                Activations.Exp(row, row);
                float uniform = labelSmoothing / classes;
                for (int j = 0; j < classes; j++)
                {
                    row[j] -= uniform;
                }

                row[target] -= 1f - labelSmoothing;
            }

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

    /// <summary>
    /// Binary cross-entropy on logits, element-wise (multi-label targets in [0, 1], soft labels allowed):
    /// ℓ_i = −[w_c·y_i·log σ(x_i) + (1 − y_i)·log(1 − σ(x_i))], reduced over every element; <paramref name="gradient"/>
    /// receives dL/dx = σ(x)·(w_c·y + 1 − y) − w_c·y (÷ n for the mean).
    /// </summary>
    /// <remarks>
    /// As PyTorch's nn.BCEWithLogitsLoss. Computed stably as ℓ = (1 − y)·x + (w·y + 1 − y)·(max(−x, 0) + log(1 + e^−|x|)),
    /// which for w = 1 is max(x, 0) − x·y + log(1 + e^−|x|): no overflow for large |x|. The per-class positive weight
    /// w_c (PyTorch's <c>pos_weight</c>) broadcasts over the last dimension: element i has class i mod C, C =
    /// <paramref name="posWeight"/>.Length; empty: w = 1.
    /// </remarks>
    /// <returns>The loss (NaN for a mean over no element, as PyTorch).</returns>
    /// <exception cref="ArgumentException">A length does not match, or <paramref name="posWeight"/> does not divide the logits' length.</exception>
    public static double BinaryCrossEntropyWithLogits(
        ReadOnlySpan<float> logits, ReadOnlySpan<float> targets, Span<float> gradient,
        LossReduction reduction = LossReduction.Mean, ReadOnlySpan<float> posWeight = default)
    {
        ThrowHelper.ThrowIfLengthIsNot(targets.Length, logits.Length, nameof(targets), "as many as logits");
        ThrowHelper.ThrowIfLengthIsNot(gradient.Length, logits.Length, nameof(gradient), "as many as logits");
        if (!posWeight.IsEmpty && logits.Length % posWeight.Length != 0)
        {
            ThrowHelper.Argument(nameof(posWeight), $"Has {posWeight.Length} values, which do not divide the {logits.Length} logits into rows.");
        }

        ValidateReduction(reduction);
        int n = logits.Length;
        if (n == 0)
        {
            return reduction == LossReduction.Mean ? double.NaN : 0.0;
        }

        double sum = 0, scale = reduction == LossReduction.Mean ? 1.0 / n : 1.0;
        int weights = posWeight.Length;
        for (int i = 0; i < n; i++)
        {
            double x = logits[i], y = targets[i];
            double w = weights == 0 ? 1.0 : posWeight[i % weights];
            double softplusMinusX = Math.Max(-x, 0.0) + Math.Log(1.0 + Math.Exp(-Math.Abs(x)));   // −log σ(x)
            double weightedTarget = w * y;
            sum += ((1.0 - y) * x) + ((weightedTarget + 1.0 - y) * softplusMinusX);
            double sigmoid = x >= 0 ? 1.0 / (1.0 + Math.Exp(-x)) : Math.Exp(x) / (1.0 + Math.Exp(x));
            gradient[i] = (float)(((sigmoid * (weightedTarget + 1.0 - y)) - weightedTarget) * scale);
        }

        return reduction == LossReduction.Mean ? sum / n : sum;
    }

    /// <summary>Throws unless <paramref name="lengths"/> is empty or holds <paramref name="batch"/> lengths in [0, <paramref name="steps"/>].</summary>
    internal static void ValidateLengths(ReadOnlySpan<int> lengths, int steps, int batch)
    {
        if (lengths.IsEmpty)
        {
            return;
        }

        ThrowHelper.ThrowIfLengthIsNot(lengths.Length, batch, nameof(lengths), "B");
        foreach (int length in lengths)
        {
            if ((uint)length > (uint)steps)
            {
                ThrowHelper.ArgumentOutOfRange(nameof(lengths), $"Every length must be in [0, {steps}]; found {length}.");
            }
        }
    }

    /// <summary>Throws unless <paramref name="labelSmoothing"/> is in [0, 1] (PyTorch's range).</summary>
    internal static void ValidateLabelSmoothing(float labelSmoothing, string paramName)
    {
        if (!(labelSmoothing >= 0f && labelSmoothing <= 1f))
        {
            ThrowHelper.ArgumentOutOfRange(paramName, $"Must be in [0, 1], was {labelSmoothing}.");
        }
    }

    private static void ValidateReduction(LossReduction reduction)
    {
        if (!Enum.IsDefined(reduction))
        {
            ThrowHelper.Argument(nameof(reduction), $"{reduction} is not a reduction.");
        }
    }
}
