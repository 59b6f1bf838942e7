using Rnn.Simd.Internal;

namespace Rnn.Simd.Training;

/// <summary>
/// Lowers the learning rate when a monitored loss stops improving (PyTorch's <c>ReduceLROnPlateau</c> in mode
/// <c>min</c>). Unlike a <see cref="LearningRateSchedule"/> it depends on the losses seen, so its state
/// (<see cref="LearningRate"/>, <see cref="Best"/>, <see cref="BadEpochs"/>, <see cref="CooldownCounter"/>) is what a
/// checkpoint keeps; <see cref="Restore"/> puts it back.
/// </summary>
/// <remarks>
/// <para>Each <see cref="Step(double)"/>, as PyTorch 1.13 does it: the loss is better when it is below
/// <c>best · (1 − threshold)</c> (relative) or <c>best − threshold</c> (absolute); then best = loss and the bad count
/// restarts, else the bad count grows (a NaN loss is never better). During a cooldown the counter falls by one and the
/// bad count is held at 0. When the bad count exceeds <see cref="Patience"/>, the rate becomes
/// <c>max(rate · factor, min_lr)</c> (unless that changes it by no more than <see cref="Epsilon"/>), the cooldown
/// starts and the bad count restarts.</para>
/// </remarks>
public sealed class ReduceLROnPlateau
{
    /// <summary>Creates the scheduler.</summary>
    /// <param name="learningRate">The rate to start from (the optimiser's <c>lr</c>), ≥ 0.</param>
    /// <param name="factor">The factor the rate is multiplied by, in [0, 1) (PyTorch's default 0.1).</param>
    /// <param name="patience">Bad steps tolerated before a reduction, ≥ 0 (default 10).</param>
    /// <param name="threshold">The least improvement that counts, ≥ 0 (default 1e-4).</param>
    /// <param name="relativeThreshold">Whether <paramref name="threshold"/> is relative to the best loss (PyTorch's <c>'rel'</c>, the default) or absolute.</param>
    /// <param name="cooldown">Steps after a reduction during which bad steps are not counted, ≥ 0.</param>
    /// <param name="minimumLearningRate">The rate is never reduced below this, ≥ 0.</param>
    /// <param name="epsilon">A reduction smaller than this is not applied (default 1e-8).</param>
    /// <exception cref="ArgumentOutOfRangeException">An argument is out of its range, NaN or infinite.</exception>
    public ReduceLROnPlateau(double learningRate, double factor = 0.1, int patience = 10, double threshold = 1e-4, bool relativeThreshold = true,
        int cooldown = 0, double minimumLearningRate = 0, double epsilon = 1e-8)
    {
        RequireFiniteNonNegative(learningRate, nameof(learningRate));
        if (!(factor >= 0 && factor < 1))
        {
            ThrowHelper.ArgumentOutOfRange(nameof(factor), $"Must be in [0, 1), was {factor}.");
        }

        ThrowHelper.ThrowIfNegative(patience, nameof(patience));
        RequireFiniteNonNegative(threshold, nameof(threshold));
        ThrowHelper.ThrowIfNegative(cooldown, nameof(cooldown));
        RequireFiniteNonNegative(minimumLearningRate, nameof(minimumLearningRate));
        RequireFiniteNonNegative(epsilon, nameof(epsilon));
        LearningRate = learningRate;
        Factor = factor;
        Patience = patience;
        Threshold = threshold;
        RelativeThreshold = relativeThreshold;
        Cooldown = cooldown;
        MinimumLearningRate = minimumLearningRate;
        Epsilon = epsilon;
    }

    /// <summary>The factor a reduction multiplies the rate by.</summary>
    public double Factor { get; }

    /// <summary>Bad steps tolerated before a reduction.</summary>
    public int Patience { get; }

    /// <summary>The least improvement that counts.</summary>
    public double Threshold { get; }

    /// <summary>Whether <see cref="Threshold"/> is relative to <see cref="Best"/>.</summary>
    public bool RelativeThreshold { get; }

    /// <summary>Steps after a reduction during which bad steps are not counted.</summary>
    public int Cooldown { get; }

    /// <summary>The least rate.</summary>
    public double MinimumLearningRate { get; }

    /// <summary>A reduction smaller than this is not applied.</summary>
    public double Epsilon { get; }

    /// <summary>The current rate.</summary>
    public double LearningRate { get; private set; }

    /// <summary>The best loss so far (+∞ before the first step).</summary>
    public double Best { get; private set; } = double.PositiveInfinity;

    /// <summary>Steps since the last improvement (PyTorch's <c>num_bad_epochs</c>).</summary>
    public int BadEpochs { get; private set; }

    /// <summary>Steps of cooldown left.</summary>
    public int CooldownCounter { get; private set; }

    /// <summary>Takes the loss of one evaluation and returns the rate for what follows.</summary>
    public double Step(double loss)
    {
        if (IsBetter(loss))
        {
            Best = loss;
            BadEpochs = 0;
        }
        else
        {
            BadEpochs++;
        }

        if (CooldownCounter > 0)
        {
            CooldownCounter--;
            BadEpochs = 0;
        }

        if (BadEpochs > Patience)
        {
            double reduced = Math.Max(LearningRate * Factor, MinimumLearningRate);
            if (LearningRate - reduced > Epsilon)
            {
                LearningRate = reduced;
            }

            CooldownCounter = Cooldown;
            BadEpochs = 0;
        }

        return LearningRate;
    }

    /// <summary>Step(<paramref name="loss"/>), then sets <paramref name="optimizer"/>'s rate to the result.</summary>
    /// <returns>The rate set.</returns>
    public double Step(double loss, Optimizer optimizer)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        optimizer.LearningRate = Step(loss);
        return optimizer.LearningRate;
    }

    /// <summary>Puts back the state a checkpoint saved (the values of <see cref="LearningRate"/>, <see cref="Best"/>,
    /// <see cref="BadEpochs"/> and <see cref="CooldownCounter"/>).</summary>
    /// <exception cref="ArgumentOutOfRangeException">A value is out of its range.</exception>
    public void Restore(double learningRate, double best, int badEpochs, int cooldownCounter)
    {
        RequireFiniteNonNegative(learningRate, nameof(learningRate));
        if (double.IsNaN(best))
        {
            ThrowHelper.ArgumentOutOfRange(nameof(best), "Must not be NaN.");
        }

        ThrowHelper.ThrowIfNegative(badEpochs, nameof(badEpochs));
        ThrowHelper.ThrowIfNegative(cooldownCounter, nameof(cooldownCounter));
        LearningRate = learningRate;
        Best = best;
        BadEpochs = badEpochs;
        CooldownCounter = cooldownCounter;
    }

    private bool IsBetter(double loss) => RelativeThreshold ? loss < Best * (1 - Threshold) : loss < Best - Threshold;

    private static void RequireFiniteNonNegative(double value, string name)
    {
        if (!(value >= 0) || double.IsPositiveInfinity(value))
        {
            ThrowHelper.ArgumentOutOfRange(name, $"Must be non-negative and finite, was {value}.");
        }
    }
}
