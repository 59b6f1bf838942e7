using Rnn.Simd.Internal;

namespace Rnn.Simd.Training;

/// <summary>The rate decays by <see cref="Gamma"/> every <see cref="StepSize"/> epochs (PyTorch's <c>StepLR</c>).</summary>
/// <remarks>lr(e) = base_lr · γ^⌊e / step_size⌋, PyTorch 1.13's closed form (<see cref="Math.Pow"/> as Python's <c>**</c>).</remarks>
public sealed class StepLR : LearningRateSchedule
{
    /// <summary>Creates the schedule.</summary>
    /// <param name="baseLearningRate">The rate at epoch 0, ≥ 0.</param>
    /// <param name="stepSize">Epochs between decays, ≥ 1.</param>
    /// <param name="gamma">Factor of each decay, ≥ 0 (PyTorch's default 0.1).</param>
    /// <exception cref="ArgumentOutOfRangeException">An argument is out of its range, NaN or infinite.</exception>
    public StepLR(double baseLearningRate, int stepSize, double gamma = 0.1)
        : base(baseLearningRate)
    {
        if (stepSize < 1)
        {
            ThrowHelper.ArgumentOutOfRange(nameof(stepSize), $"Must be at least 1, was {stepSize}.");
        }

        if (!(gamma >= 0) || double.IsPositiveInfinity(gamma))
        {
            ThrowHelper.ArgumentOutOfRange(nameof(gamma), $"Must be non-negative and finite, was {gamma}.");
        }

        StepSize = stepSize;
        Gamma = gamma;
    }

    /// <summary>Epochs between decays.</summary>
    public int StepSize { get; }

    /// <summary>Factor of each decay.</summary>
    public double Gamma { get; }

    private protected override double Compute(int epoch) => BaseLearningRate * Math.Pow(Gamma, epoch / StepSize);
}
