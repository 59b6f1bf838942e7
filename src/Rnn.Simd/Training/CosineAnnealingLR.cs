using Rnn.Simd.Internal;

namespace Rnn.Simd.Training;

/// <summary>Cosine annealing from the base rate to <see cref="MinimumLearningRate"/> over <see cref="Period"/> epochs (PyTorch's <c>CosineAnnealingLR</c>, without restarts).</summary>
/// <remarks>
/// lr(e) = η_min + (base_lr − η_min) · (1 + cos(π · e / T_max)) / 2, PyTorch 1.13's closed form, evaluated in that
/// order in double. Past T_max the cosine keeps going (the rate rises again towards base_lr at 2·T_max), as
/// PyTorch's schedule does.
/// </remarks>
public sealed class CosineAnnealingLR : LearningRateSchedule
{
    /// <summary>Creates the schedule.</summary>
    /// <param name="baseLearningRate">The rate at epoch 0 (η_max), ≥ 0.</param>
    /// <param name="period">T_max: epochs from the base rate down to the minimum, ≥ 1.</param>
    /// <param name="minimumLearningRate">η_min ≥ 0 (PyTorch's default 0).</param>
    /// <exception cref="ArgumentOutOfRangeException">An argument is out of its range, NaN or infinite.</exception>
    public CosineAnnealingLR(double baseLearningRate, int period, double minimumLearningRate = 0)
        : base(baseLearningRate)
    {
        if (period < 1)
        {
            ThrowHelper.ArgumentOutOfRange(nameof(period), $"Must be at least 1, was {period}.");
        }

        if (!(minimumLearningRate >= 0) || double.IsPositiveInfinity(minimumLearningRate))
        {
            ThrowHelper.ArgumentOutOfRange(nameof(minimumLearningRate), $"Must be non-negative and finite, was {minimumLearningRate}.");
        }

        Period = period;
        MinimumLearningRate = minimumLearningRate;
    }

    /// <summary>T_max: epochs from the base rate down to the minimum.</summary>
    public int Period { get; }

    /// <summary>η_min, the rate at epoch T_max.</summary>
    public double MinimumLearningRate { get; }

    private protected override double Compute(int epoch) =>
        MinimumLearningRate + ((BaseLearningRate - MinimumLearningRate) * (1 + Math.Cos(Math.PI * epoch / Period)) / 2);
}
