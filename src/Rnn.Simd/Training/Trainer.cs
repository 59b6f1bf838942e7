using System.Numerics.Tensors;
using Rnn.Simd.Internal;
using Rnn.Simd.Parameters;

namespace Rnn.Simd.Training;

/// <summary>What happens when a gradient is NaN or ±∞.</summary>
public enum NonFiniteGradientPolicy
{
    /// <summary>The step is skipped (weights untouched, gradients cleared) and reported in <see cref="UpdateResult"/>.</summary>
    Skip,

    /// <summary>An <see cref="InvalidOperationException"/> is thrown (weights untouched, gradients kept for inspection).</summary>
    Throw,
}

/// <summary>How a <see cref="Trainer"/> turns gradients into an update.</summary>
public sealed record TrainerOptions
{
    /// <summary>Clip the global 2-norm of all gradients to this (PyTorch's clip_grad_norm_), or null for no clipping.</summary>
    public double? MaxGradientNorm { get; init; }

    /// <summary>Clamp every gradient to ±this (clip_grad_value_, applied before the norm clipping), or null.</summary>
    public float? ClipValue { get; init; }

    /// <summary>What a non-finite gradient does.</summary>
    public NonFiniteGradientPolicy OnNonFiniteGradient { get; init; } = NonFiniteGradientPolicy.Skip;
}

/// <summary>The outcome of one <see cref="Trainer.Update()"/>.</summary>
/// <param name="Applied">Whether the optimiser changed the weights.</param>
/// <param name="GradientNorm">The global 2-norm of the gradients before any clipping (NaN or +∞ when one was not finite).</param>
public readonly record struct UpdateResult(bool Applied, double GradientNorm);

/// <summary>
/// One training update over a <see cref="ParameterSet"/>: the non-finite guard, gradient clipping (seed 004), the
/// optimiser step and the zeroing of the gradients for the next backward pass. A gradient that is not finite never
/// reaches the weights. Allocates nothing.
/// </summary>
/// <remarks>
/// The training half of the NaN/Inf policy (the forward pass only propagates): data that drives a gradient to ±∞ or
/// NaN makes the global norm non-finite, and <see cref="Update()"/> then skips the step (or throws, by
/// <see cref="TrainerOptions.OnNonFiniteGradient"/>) before clipping or the optimiser touch anything, so the weights and
/// the optimiser's state keep every bit and the next finite update proceeds normally. Finite but huge gradients are
/// bounded by <see cref="TrainerOptions.MaxGradientNorm"/>: the norm is summed in double, so it does not overflow
/// where float would.
/// </remarks>
public sealed class Trainer
{
    /// <summary>Creates a trainer for <paramref name="parameters"/> with <paramref name="optimizer"/>.</summary>
    public Trainer(ParameterSet parameters, Optimizer optimizer, TrainerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(optimizer);
        options ??= new TrainerOptions();
        if (options.MaxGradientNorm is { } norm && (!(norm > 0) || double.IsInfinity(norm)))
        {
            ThrowHelper.ArgumentOutOfRange(nameof(options), $"MaxGradientNorm must be positive and finite, was {norm}.");
        }

        if (options.ClipValue is { } value && (!(value > 0) || float.IsInfinity(value)))
        {
            ThrowHelper.ArgumentOutOfRange(nameof(options), $"ClipValue must be positive and finite, was {value}.");
        }

        if (!Enum.IsDefined(options.OnNonFiniteGradient))
        {
            ThrowHelper.ArgumentOutOfRange(nameof(options), $"{options.OnNonFiniteGradient} is not a policy.");
        }

        Parameters = parameters;
        Optimizer = optimizer;
        Options = options;
    }

    /// <summary>The parameters updated.</summary>
    public ParameterSet Parameters { get; }

    /// <summary>The optimiser (its learning rate may be changed between updates, e.g. by a schedule).</summary>
    public Optimizer Optimizer { get; }

    /// <summary>Clipping and the non-finite policy.</summary>
    public TrainerOptions Options { get; }

    /// <summary>Updates applied so far.</summary>
    public long UpdatesApplied { get; private set; }

    /// <summary>Updates skipped for non-finite gradients so far.</summary>
    public long UpdatesSkipped { get; private set; }

    /// <summary>Sets the counters of a resumed run (checkpoints).</summary>
    internal void RestoreCounters(long applied, long skipped)
    {
        UpdatesApplied = applied;
        UpdatesSkipped = skipped;
    }

    /// <summary>
    /// Applies the accumulated gradients: checks them, clips them, steps the optimiser, then clears them.
    /// </summary>
    /// <exception cref="InvalidOperationException">A gradient is not finite and the policy is <see cref="NonFiniteGradientPolicy.Throw"/>.</exception>
    public UpdateResult Update() => Update(1f);

    /// <summary>
    /// Applies the accumulated gradients multiplied by <paramref name="gradientScale"/>: scales them, then checks, clips,
    /// steps and clears them as <see cref="Update()"/> does. This is gradient accumulation's update.
    /// </summary>
    /// <remarks>
    /// <para>Gradient accumulation: run K micro-batches of B rows each through forward and backward without an update in
    /// between (every backward adds into <see cref="ParameterSet.Gradients"/>), then call <c>Update(1f / K)</c>. With a
    /// mean loss per micro-batch, Σ_k ∇(mean of batch k) / K is the gradient of the mean over the K·B rows, so the update
    /// is the one of the whole batch up to float summation order (and exactly that scaling when K is a power of two).
    /// The norm, the non-finite check and the clipping see the scaled gradient, as with one big batch.</para>
    /// <para>Masked or padded losses (ignored targets, sequence lengths) average over the terms that count, which can
    /// differ between micro-batches: then the scaled sum weights each micro-batch's terms by 1/(K·n_k) instead of
    /// 1/Σn_k. For the exact big-batch update in that case, make every micro-batch count the same number of terms, or
    /// use <see cref="LossReduction.Sum"/> and a scale of 1/Σn_k.</para>
    /// </remarks>
    /// <param name="gradientScale">The factor, finite and positive (1/K for K micro-batches of mean losses).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="gradientScale"/> is not finite and positive.</exception>
    /// <exception cref="InvalidOperationException">A gradient is not finite and the policy is <see cref="NonFiniteGradientPolicy.Throw"/>.</exception>
    public UpdateResult Update(float gradientScale)
    {
        if (!(float.IsFinite(gradientScale) && gradientScale > 0f))
        {
            ThrowHelper.ArgumentOutOfRange(nameof(gradientScale), $"Must be finite and positive, was {gradientScale}.");
        }

        Span<float> gradients = Parameters.Gradients;
        if (gradientScale != 1f)
        {
            TensorPrimitives.Multiply(gradients, gradientScale, gradients);
        }

        double norm = GradientClipping.GlobalNorm(gradients);
        if (!double.IsFinite(norm))
        {
            UpdatesSkipped++;
            if (Options.OnNonFiniteGradient == NonFiniteGradientPolicy.Throw)
            {
                ThrowHelper.InvalidOperation($"A gradient is not finite (global norm {norm}); the weights were not changed.");
            }

            Parameters.ZeroGradients();
            return new UpdateResult(false, norm);
        }

        if (Options.ClipValue is { } value)
        {
            GradientClipping.ClipByValue(gradients, value);
        }

        if (Options.MaxGradientNorm is { } maxNorm)
        {
            GradientClipping.ClipByGlobalNorm(gradients, maxNorm);
        }

        Optimizer.Step(Parameters);
        Parameters.ZeroGradients();
        UpdatesApplied++;
        return new UpdateResult(true, norm);
    }
}
