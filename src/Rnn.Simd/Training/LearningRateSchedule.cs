using Rnn.Simd.Internal;

namespace Rnn.Simd.Training;

/// <summary>
/// A learning rate as a function of the epoch, in closed form: <see cref="LearningRateAt"/> depends on the epoch only,
/// so a run resumed at any epoch gets the same rates. Set an optimiser's rate with <see cref="Apply"/> before the
/// epoch's steps.
/// </summary>
/// <remarks>
/// PyTorch's schedulers update the rate recursively (each <c>scheduler.step()</c> scales the previous rate), which
/// drifts from the closed form by rounding: the values here are PyTorch 1.13's <c>_get_closed_form_lr</c>, computed
/// in double with the same operations in the same order, which the recursive values match to about 1e−16 relative.
/// Epoch 0 is the state before the first <c>scheduler.step()</c>.
/// </remarks>
public abstract class LearningRateSchedule
{
    private protected LearningRateSchedule(double baseLearningRate)
    {
        if (!(baseLearningRate >= 0) || double.IsPositiveInfinity(baseLearningRate))
        {
            ThrowHelper.ArgumentOutOfRange(nameof(baseLearningRate), $"Must be non-negative and finite, was {baseLearningRate}.");
        }

        BaseLearningRate = baseLearningRate;
    }

    /// <summary>The rate at epoch 0 (PyTorch's <c>base_lr</c>, the optimiser's initial <c>lr</c>).</summary>
    public double BaseLearningRate { get; }

    /// <summary>The learning rate for epoch <paramref name="epoch"/> (0-based).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="epoch"/> is negative.</exception>
    public double LearningRateAt(int epoch)
    {
        ThrowHelper.ThrowIfNegative(epoch, nameof(epoch));
        return Compute(epoch);
    }

    /// <summary>Sets <paramref name="optimizer"/>'s <see cref="Optimizer.LearningRate"/> to <see cref="LearningRateAt"/>(<paramref name="epoch"/>).</summary>
    /// <returns>The rate set.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="epoch"/> is negative.</exception>
    public double Apply(Optimizer optimizer, int epoch)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        double rate = LearningRateAt(epoch);
        optimizer.LearningRate = rate;
        return rate;
    }

    /// <summary>The rate at a validated epoch.</summary>
    private protected abstract double Compute(int epoch);
}
